#!/usr/bin/python3
"""TCP peers for the connection-tracking end-to-end test, and its checker (stdlib only).

  tcp_apps.py server --bind IP --port N --out FILE
  tcp_apps.py client --connect IP --port N --plan NAME --out FILE
  tcp_apps.py plan NAME                      (prints the plan's expected counts as JSON)
  tcp_apps.py check --plan NAME [--client FILE --server FILE] [--capture PCAP]
                    [--impair LOG] [--summary LABEL=FILE]... [--clean-summary LABEL]...

A plan is a list of phases run one after the other; the connections of a phase run at the
same time. Each connection has an id, the bytes the client sends, the bytes the server sends
back, and how it is closed:
  client_fin  client reads the whole response, shuts down its side (FIN first), reads EOF, closes
  server_fin  server closes once its response is sent (FIN first); the client reads EOF, closes
  client_rst  client reads the whole response, then SO_LINGER {1,0} + close: RST
  server_rst  client reads the whole response and sends one byte; the server reads it, then
              SO_LINGER {1,0} + close: RST
Every close is ordered so that nothing unsent or unread is pending when it happens (a close
with unread data would turn a FIN into a RST). The client opens with a 17-byte header
(magic, id, request length, response length, close kind) so the server knows the plan too.
Both sides write one JSON line per connection: bytes and sha256 each way, and what they saw
at the end ("eof", "reset", or what they did: "closed_first", "reset_sent").
"""
import argparse, hashlib, json, os, random, signal, socket, struct, sys, threading, time

MAGIC = b"HKT1"
HEADER = struct.Struct("!4sIIIB")
MODES = ["client_fin", "server_fin", "client_rst", "server_rst"]
IO_TIMEOUT = 25.0  # per socket operation; a healthy run needs well under a second
MiB = 1 << 20


def plan(name):
    """Phases of (id, request bytes, response bytes, close kind)."""
    if name == "reference":  # a few KB: a small capture kept as an offline regression input
        seq, conc = [(40, 600), (700, 90), (1200, 300), (64, 2000)], []
    elif name == "clean":
        seq = [(5, 3), (1000, 20000), (70000, 10), (3, MiB), (MiB, 7), (1448, 1448), (200000, 200000), (17, 65536)]
        conc = [(10, 10), (100000, 100), (100, 100000), (MiB, MiB), (1, 1), (5000, 5000), (65536, 65536), (300000, 20)]
    elif name == "impaired":
        seq = [(5, 3), (1000, 20000), (3, 300000), (100000, 7)]
        conc = [(10, 10), (MiB, 100), (100, MiB), (50000, 50000), (1, 1), (5000, 5000), (200000, 200000), (300000, 20)]
    else:
        raise SystemExit("unknown plan '%s'" % name)
    conns = [(i + 1, q, r, MODES[i % len(MODES)]) for i, (q, r) in enumerate(seq + conc)]
    return [[c] for c in conns[:len(seq)]] + ([conns[len(seq):]] if conc else [])


def expected(name):
    conns = [c for ph in plan(name) for c in ph]
    kinds = {m: sum(1 for c in conns if c[3] == m) for m in MODES}
    return {"connections": len(conns), "fin": kinds["client_fin"] + kinds["server_fin"],
            "rst": kinds["client_rst"] + kinds["server_rst"], "kinds": kinds}


def payload(cid, side, n):
    return random.Random("%d-%s" % (cid, side)).randbytes(n)


def recv_exact(s, n, h):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            break
        h.update(b)
        got += len(b)
    return got


def read_end(s):
    """Reads until the peer ends: ('eof', extra bytes) or ('reset', extra bytes)."""
    extra = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return "eof", extra
            extra += len(b)
    except ConnectionResetError:
        return "reset", extra


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class Sink:
    """Appends one JSON line per record, from any thread."""

    def __init__(self, path):
        self.f, self.lock = open(path, "a"), threading.Lock()

    def write(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec, sort_keys=True) + "\n")
            self.f.flush()


def serve_one(conn, sink):
    rec = {"side": "server", "error": None}
    t0 = time.monotonic()
    try:
        conn.settimeout(IO_TIMEOUT)
        hdr = bytearray()
        while len(hdr) < HEADER.size:
            b = conn.recv(HEADER.size - len(hdr))
            if not b and not hdr:  # a readiness probe: connected and closed, not part of a plan
                conn.close()
                return
            if not b:
                raise RuntimeError("peer ended inside the header")
            hdr += b
        magic, cid, qlen, rlen, mode = HEADER.unpack(bytes(hdr))
        if magic != MAGIC or mode >= len(MODES):
            raise RuntimeError("bad header")
        rec.update(id=cid, mode=MODES[mode])
        h = hashlib.sha256()
        rec["recv_bytes"] = recv_exact(conn, qlen, h)
        rec["recv_sha"] = h.hexdigest()
        data = payload(cid, "server", rlen)
        conn.sendall(data)
        rec.update(sent_bytes=len(data), sent_sha=hashlib.sha256(data).hexdigest())
        m = MODES[mode]
        if m == "server_fin":
            conn.close()
            rec["end"] = "closed_first"
        elif m == "server_rst":
            done = conn.recv(1)  # the client has everything: the RST cannot cut the response
            if done != b"D":
                raise RuntimeError("expected the client's done byte, got %r" % done)
            rst_close(conn)
            rec["end"] = "reset_sent"
        else:  # client_fin, client_rst: wait for the client to end it
            rec["end"], rec["extra_bytes"] = read_end(conn)
            conn.close()
    except Exception as e:  # recorded, the checker reports it
        rec["error"] = "%s: %s" % (type(e).__name__, e)
        conn.close()
    rec["seconds"] = round(time.monotonic() - t0, 3)
    sink.write(rec)


def run_server(a):
    sink = Sink(a.out)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(128)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("server: listening on %s:%d" % (a.bind, a.port), flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve_one, args=(conn, sink), daemon=True).start()


def client_one(cid, qlen, rlen, mode, a, sink):
    rec = {"side": "client", "id": cid, "mode": mode, "error": None}
    t0 = time.monotonic()
    s = None
    try:
        s = socket.create_connection((a.connect, a.port), timeout=IO_TIMEOUT)
        rec["local_port"] = s.getsockname()[1]
        data = payload(cid, "client", qlen)
        s.sendall(HEADER.pack(MAGIC, cid, qlen, rlen, MODES.index(mode)) + data)
        rec.update(sent_bytes=len(data), sent_sha=hashlib.sha256(data).hexdigest())
        h = hashlib.sha256()
        rec["recv_bytes"] = recv_exact(s, rlen, h)
        rec["recv_sha"] = h.hexdigest()
        if mode == "client_fin":
            s.shutdown(socket.SHUT_WR)
            rec["end"], rec["extra_bytes"] = read_end(s)
            s.close()
        elif mode == "client_rst":
            rst_close(s)
            rec["end"] = "reset_sent"
        else:
            if mode == "server_rst":
                s.sendall(b"D")
            rec["end"], rec["extra_bytes"] = read_end(s)
            s.close()
    except Exception as e:
        rec["error"] = "%s: %s" % (type(e).__name__, e)
        if s is not None:
            s.close()
    rec["seconds"] = round(time.monotonic() - t0, 3)
    sink.write(rec)


def run_client(a):
    sink = Sink(a.out)
    for phase in plan(a.plan):
        threads = [threading.Thread(target=client_one, args=(*c, a, sink)) for c in phase]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return 0


# What each side must have seen at the end, by close kind: (client, server).
ENDS = {"client_fin": ("eof", "eof"), "server_fin": ("eof", "closed_first"),
        "client_rst": ("reset_sent", "reset"), "server_rst": ("reset", "reset_sent")}


def read_records(path):
    recs = {}
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            recs.setdefault(r.get("id"), []).append(r)
    return recs


def pcap_connections(path):
    """Per TCP connection in an Ethernet/IPv4 pcap: SYN seen, the ends that sent a FIN before
    any RST, RST seen, frames after the first RST. Duplicated or late segments can draw a RST
    after both FINs (the peer's socket is gone): the connection still ended by FIN."""
    with open(path, "rb") as f:
        buf = f.read()
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    if struct.unpack(e + "I", buf[20:24])[0] != 1:
        raise ValueError("%s: link type is not Ethernet" % path)
    conns, off, frames = {}, 24, 0
    while off + 16 <= len(buf):
        incl = struct.unpack(e + "I", buf[off + 8:off + 12])[0]
        p = buf[off + 16:off + 16 + incl]
        off += 16 + incl
        frames += 1
        if len(p) < 34 or p[12:14] != b"\x08\x00" or p[23] != 6:
            continue
        ihl = (p[14] & 0x0F) * 4
        t = 14 + ihl
        if len(p) < t + 14:
            continue
        src = (p[26:30], p[t:t + 2])
        dst = (p[30:34], p[t + 2:t + 4])
        flags = p[t + 13]
        key = (min(src, dst), max(src, dst))
        c = conns.setdefault(key, {"syn": False, "fin": set(), "rst": False, "after_rst": 0, "end": {},
                                   "acausal": 0})
        if c["rst"]:
            c["after_rst"] += 1
        seq, ack = struct.unpack("!II", p[t + 4:t + 12])
        # Causal order: an ACK never covers sequence space the other end has not sent yet.
        if flags & 0x10 and dst in c["end"] and 0 < (ack - c["end"][dst]) % 2**32 < 2**31:
            c["acausal"] += 1
        ip_len = int.from_bytes(p[16:18], "big")
        end = (seq + ip_len - ihl - (p[t + 12] >> 4) * 4 + (1 if flags & 0x02 else 0) + (flags & 0x01)) % 2**32
        if src not in c["end"] or 0 < (end - c["end"][src]) % 2**32 < 2**31:
            c["end"][src] = end
        if flags & 0x02 and not flags & 0x10:
            c["syn"] = True
        if flags & 0x01 and not c["rst"]:
            c["fin"].add(src)
        if flags & 0x04:
            c["rst"] = True
    return conns, frames


def run_check(a):
    exp = expected(a.plan)
    fails, k = [], exp["connections"]

    def check(label, ok, detail):
        print("  %s %s: %s" % ("ok  " if ok else "FAIL", label, detail))
        if not ok:
            fails.append(label)

    # 1. The applications: every connection done as planned, on both sides, data intact.
    if a.client and a.server:
        cli, srv = read_records(a.client), read_records(a.server)
        conns = [c for ph in plan(a.plan) for c in ph]
        app_ok, secs = 0, []
        for cid, qlen, rlen, mode in conns:
            c, s = cli.get(cid, []), srv.get(cid, [])
            problems = []
            if len(c) != 1 or len(s) != 1:
                problems.append("%d client and %d server records" % (len(c), len(s)))
            else:
                c, s = c[0], s[0]
                secs.append(c["seconds"])
                for side in (c, s):
                    if side["error"]:
                        problems.append("%s error: %s" % (side["side"], side["error"]))
                if not problems:
                    if (c["sent_bytes"], s["recv_bytes"], c["sent_sha"]) != (qlen, qlen, s["recv_sha"]):
                        problems.append("request: client sent %d, server got %d, sha %s" % (
                            c["sent_bytes"], s["recv_bytes"], "equal" if c["sent_sha"] == s["recv_sha"] else "differs"))
                    if (s["sent_bytes"], c["recv_bytes"], s["sent_sha"]) != (rlen, rlen, c["recv_sha"]):
                        problems.append("response: server sent %d, client got %d, sha %s" % (
                            s["sent_bytes"], c["recv_bytes"], "equal" if s["sent_sha"] == c["recv_sha"] else "differs"))
                    if (c.get("end"), s.get("end")) != ENDS[mode]:
                        problems.append("ends seen: client %s server %s, want %s" % (c.get("end"), s.get("end"), ENDS[mode]))
                    if c.get("extra_bytes", 0) or s.get("extra_bytes", 0):
                        problems.append("bytes after the exchange")
            if problems:
                print("    connection %d (%s, %d/%d bytes): %s" % (cid, mode, qlen, rlen, "; ".join(problems)))
            else:
                app_ok += 1
        check("apps", app_ok == k, "%d/%d connections done as planned (%s), data sha256-equal both ways%s" % (
            app_ok, k, ", ".join("%s %d" % kv for kv in exp["kinds"].items()),
            ", slowest %.2f s" % max(secs) if secs else ""))
        stray = sorted((set(cli) | set(srv)) - {c[0] for c in conns}, key=str)
        check("apps no stray", not stray, "records for unplanned ids: %s" % (stray or "none"))

    # 2. The capture, read here independently: it must hold what the apps did.
    if a.capture:
        try:
            cc, frames = pcap_connections(a.capture)
            tcp = [c for c in cc.values() if c["syn"]]
            fin = sum(1 for c in tcp if len(c["fin"]) == 2)
            rst = sum(1 for c in tcp if len(c["fin"]) < 2 and c["rst"])
            late = sum(1 for c in tcp if len(c["fin"]) == 2 and c["rst"])
            acausal = sum(c["acausal"] for c in cc.values())
            check("capture order", acausal == 0, "%d ACKs ahead of the data they acknowledge, want 0"
                  " (the capture must hold frames in the order the engine could see them)" % acausal)
            check("capture", (len(tcp), fin, rst) == (k, exp["fin"], exp["rst"]),
                  "%d frames; %d connections with a SYN, %d closed by FIN both ways (%d of them drew a"
                  " late RST), %d by a RST first (want %d, %d, %d); %d frames after their connection's RST"
                  % (frames, len(tcp), fin, late, rst, k, exp["fin"], exp["rst"],
                     sum(c["after_rst"] for c in tcp)))
        except (OSError, ValueError) as e:
            check("capture", False, str(e))

    # 3. The forwarder's own counts against the live engine's client-facing port: what it sent
    #    towards the engine arrived there, and what the engine sent reached it.
    if a.impair and a.summary:
        try:
            counts = json.loads(open(a.impair).read().strip().splitlines()[-1])
            to_ips = next(v for k, v in counts.items() if k.startswith("imp0>"))
            from_ips = next(v for k, v in counts.items() if k.startswith("imp1>"))
            live = json.load(open(a.summary[0].split("=", 1)[1]))
            p0 = next(p for p in live["ports"] if p["port"] == 0)
            check("impair vs engine", (to_ips["tx"], from_ips["rx"]) == (p0["ipackets"], p0["opackets"]),
                  "forwarder sent %d frames towards the engine and got %d back; engine port 0 received %d, sent %d"
                  % (to_ips["tx"], from_ips["rx"], p0["ipackets"], p0["opackets"]))
        except (OSError, ValueError, KeyError, IndexError, StopIteration) as e:
            check("impair vs engine", False, "cannot compare: %s: %s" % (type(e).__name__, e))

    # 4. The engine's summaries: connection counts and end reasons equal what the apps did.
    want = {"opened": k, "closed_fin": exp["fin"], "closed_rst": exp["rst"], "timed_out": 0,
            "refused": 0, "refused_table_full": 0, "closed_dropped": 0, "closed_error": 0}
    for spec in a.summary:
        label, path = spec.split("=", 1)
        try:
            d = json.load(open(path))
        except (OSError, ValueError) as e:
            check(label + " summary", False, "no summary JSON: %s" % e)
            continue
        acc = d.get("accounting", {})
        check(label + " accounting.ok", acc.get("ok") is True, "accounting %s" % json.dumps(acc, sort_keys=True))
        g = d.get("connections")
        tp = d.get("total", {}).get("packets", {})
        if isinstance(g, dict):
            for key, v in want.items():
                check("%s connections.%s" % (label, key), g.get(key) == v, "%s, want %d" % (g.get(key), v))
            info = {x: g.get(x) for x in ("restarted", "active", "active_peak")}
            print("       %s info: %s; alerts %s; packets rx %s tx %s dropped %s %s" % (
                label, json.dumps(info), d.get("alerts"), tp.get("rx"), tp.get("tx"), tp.get("dropped"),
                json.dumps({r: n for r, n in d.get("total", {}).get("dropped", {}).items() if n})))
            if tp.get("dropped") or d.get("alerts"):  # which checks fired
                for grp in ("tcp", "policies"):
                    if isinstance(d.get(grp), dict):
                        print("       %s %s: %s" % (label, grp, json.dumps({r: n for r, n in d[grp].items() if n})))
        else:
            check(label + " connections", False, "the summary has no 'connections' group (top-level keys: %s)"
                  % ", ".join(sorted(d)))
        if label in a.clean_summary:
            # Nothing went wrong on the wire: nothing to report, nothing to drop, except segments
            # of a connection already reset. Those happen on a clean wire too: a retransmission
            # (tail loss probe) that crossed the RST, and the RST the closed end answers it with.
            check(label + " alerts", d.get("alerts") == 0, "%s, want 0 (clean traffic)" % d.get("alerts"))
            reasons = d.get("total", {}).get("dropped")
            other = {r: n for r, n in reasons.items() if n and r != "connection_dropped"} \
                if isinstance(reasons, dict) else reasons
            check(label + " dropped", other == {}, "%s besides connection_dropped %s, want none (clean traffic)"
                  % (json.dumps(other), reasons.get("connection_dropped") if isinstance(reasons, dict) else None))
    print("  => %s" % ("all checks pass" if not fails else "failed: " + ", ".join(fails)))
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--plan", required=True)
    c.add_argument("--out", required=True)
    e = sub.add_parser("plan")
    e.add_argument("name")
    k = sub.add_parser("check")
    k.add_argument("--plan", required=True)
    k.add_argument("--client")
    k.add_argument("--server")
    k.add_argument("--capture")
    k.add_argument("--impair", help="impair.py's output; compared with the first --summary's port 0")
    k.add_argument("--summary", action="append", default=[])
    k.add_argument("--clean-summary", action="append", default=[])
    a = p.parse_args()
    if a.cmd == "server":
        return run_server(a)
    if a.cmd == "client":
        return run_client(a)
    if a.cmd == "plan":
        print(json.dumps(expected(a.name), sort_keys=True))
        return 0
    return run_check(a)


if __name__ == "__main__":
    sys.exit(main())
