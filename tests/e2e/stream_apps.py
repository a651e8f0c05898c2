#!/usr/bin/python3
"""TCP peers and checker for the stream dump end-to-end test (stream_dump.sh; stdlib only).

  stream_apps.py server --bind IP [--bind IP6] --port N --out FILE
  stream_apps.py client --connect IP --port N --plan NAME --out FILE
  stream_apps.py check --plan NAME --client FILE... --server FILE --dumps DIR
                       [--follow TSHARK_OUT --capture-label L]

A connection: the client sends a 12-byte header (magic, request length, response length)
then the request; the server reads it all, sends the response, and closes first (so the
server holds TIME-WAIT and the client may reuse its port at once: the next SYN on the same
four-tuple is a new connection, dumped with a .2, .3 suffix). The client reads the response
to EOF and closes. Both sides write one JSON line per connection with the four-tuple (the
address text of socket.inet_ntop, as the engine's file names) and the length and sha256 of
what they wrote and read. Payloads come from a seeded RNG.
"""
import argparse, hashlib, json, os, random, socket, struct, sys, threading, time

MAGIC = b"HKS1"
HDR = struct.Struct("!4sII")
MiB = 1 << 20
TIMEOUT = 30.0


def plan(name):
    """Phases; a phase is a list of (request bytes, response bytes, fixed client port or 0)
    run at the same time. Connections with the same fixed port in successive phases reuse
    the four-tuple."""
    if name == "clean":
        return [
            [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1000, 70000, 0), (3 * MiB, 5, 0), (7, 3 * MiB, 0), (MiB, MiB, 0)],
            [(100, 200, 41001), (65536, 1448, 41002)],
            [(5000, 0, 41001), (0, 300000, 41002)],
            [(123457, 654321, 41001)],
        ]
    if name == "impaired":
        return [
            [(0, 0, 0), (1, 1, 0), (20000, 70000, 0), (MiB, 5, 0), (7, MiB, 0), (300000, 300000, 0)],
            [(100, 200, 41001), (65536, 1448, 41002)],
            [(5000, 0, 41001), (0, 100000, 41002)],
            [(123457, 54321, 41001)],
        ]
    raise SystemExit("unknown plan " + name)


def payload(tag, n):
    return random.Random(tag).randbytes(n)


def recv_all(s, n, h):
    got = 0
    while got < n:
        b = s.recv(min(1 << 16, n - got))
        if not b:
            raise IOError("EOF after %d of %d bytes" % (got, n))
        h.update(b)
        got += len(b)
    return got


def tuple_of(s):
    l, r = s.getsockname(), s.getpeername()
    fam = s.family
    norm = lambda a: socket.inet_ntop(fam, socket.inet_pton(fam, a))
    return norm(l[0]), l[1], norm(r[0]), r[1]


class Sink:
    def __init__(self, path):
        self.f, self.lock = open(path, "a"), threading.Lock()

    def write(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec) + "\n")
            self.f.flush()


def serve(conn, sink):
    rec = {"ok": False}
    try:
        conn.settimeout(TIMEOUT)
        la, lp, ra, rp = tuple_of(conn)
        rec.update(client=[ra, rp], server=[la, lp], t=time.time())
        hdr = b""
        while len(hdr) < HDR.size:
            b = conn.recv(HDR.size - len(hdr))
            if not b:
                raise IOError("EOF in header")
            hdr += b
        magic, q, r = HDR.unpack(hdr)
        if magic != MAGIC:
            raise IOError("bad magic")
        h = hashlib.sha256(hdr)
        recv_all(conn, q, h)
        rec.update(recv_bytes=HDR.size + q, recv_sha=h.hexdigest())
        data = payload("resp-%d-%d" % (q, r), r)
        conn.sendall(data)
        rec.update(sent_bytes=r, sent_sha=hashlib.sha256(data).hexdigest())
        conn.close()  # FIN first: TIME-WAIT stays here
        rec["ok"] = True
    except Exception as e:  # noqa: BLE001 - recorded for the checker
        rec["error"] = repr(e)
    sink.write(rec)


def run_server(a):
    sink = Sink(a.out)
    socks = []
    for ip in a.bind:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((ip, a.port))
        s.listen(64)
        socks.append(s)
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    print("server: listening", flush=True)
    while True:
        for k, _ in sel.select():
            c, _ = k.fileobj.accept()
            threading.Thread(target=serve, args=(c, sink), daemon=True).start()


def client_one(q, r, sport, a, sink, phase):
    rec = {"ok": False, "phase": phase, "req": q, "resp": r}
    fam = socket.AF_INET6 if ":" in a.connect else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(TIMEOUT)
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", sport))
        # Reusing a fixed port: under loss the previous connection on this
        # four-tuple may still be closing here (its last FIN/ACK being
        # retransmitted): connect() then fails with EADDRNOTAVAIL until it is
        # gone. Retry for a few seconds rather than call that a failure.
        for attempt in range(50):
            try:
                s.connect((a.connect, a.port))
                break
            except OSError as e:
                if e.errno != 99 or attempt == 49:
                    raise
                s.close()
                time.sleep(0.1)
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(TIMEOUT)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("", sport))
        la, lp, ra, rp = tuple_of(s)
        rec.update(client=[la, lp], server=[ra, rp])
        data = HDR.pack(MAGIC, q, r) + payload("req-%d-%d-%d" % (q, r, sport), q)
        s.sendall(data)
        rec.update(sent_bytes=len(data), sent_sha=hashlib.sha256(data).hexdigest())
        h, n = hashlib.sha256(), 0
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
        rec.update(recv_bytes=n, recv_sha=h.hexdigest())
        want = payload("resp-%d-%d" % (q, r), r)
        rec["ok"] = n == r and h.hexdigest() == hashlib.sha256(want).hexdigest()
    except Exception as e:  # noqa: BLE001
        rec["error"] = repr(e)
    finally:
        s.close()
    sink.write(rec)
    return rec["ok"]


def run_client(a):
    sink, ok = Sink(a.out), True
    for i, phase in enumerate(plan(a.plan)):
        res = []
        ts = [threading.Thread(target=lambda c=c: res.append(client_one(*c, a, sink, i))) for c in phase]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = ok and all(res) and len(res) == len(phase)
        time.sleep(0.2)  # the server's FIN was acked: its side is in TIME-WAIT before the port is reused
    print("client: %s" % ("all transfers complete" if ok else "FAILED"), flush=True)
    return 0 if ok else 1


def read(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.path.getsize(path)


def parse_follow(path):
    """tshark -q -z follow,tcp,raw,N output (several): {(client ip, port, server ip, port): [up, down]}
    per stream, in stream order; node 0 is whoever sent the first packet tshark saw."""
    out, cur = [], None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("Follow: tcp"):
            cur = {"n0": None, "n1": None, "d0": bytearray(), "d1": bytearray()}
            out.append(cur)
        elif cur is not None and line.startswith("Filter: tcp.stream eq "):
            cur["index"] = int(line.split()[-1])
        elif cur is None or line.startswith("===="):
            continue
        elif line.startswith("Node 0: ") or line.startswith("Node 1: "):
            host, _, port = line[8:].rpartition(":")
            host = host.strip("[]")
            cur["n" + line[5]] = (host, int(port)) if int(port) else None
        elif line.startswith("\t"):
            cur["d1"] += bytes.fromhex(line.strip())
        elif line.strip():
            try:
                cur["d0"] += bytes.fromhex(line.strip())
            except ValueError:
                pass
    return sorted(out, key=lambda st: st.get("index", 0))


def run_check(a):
    problems, notes = [], []
    crecs = [r for p in a.client for r in read(p)]
    # The readiness probe (netns_lib.sh topo_wait_tcp) connects from the server's own address.
    srecs = [r for r in read(a.server) if not ("client" in r and r["client"][0] == r["server"][0])]
    nconn = sum(len(ph) for ph in plan(a.plan)) * len(a.client)
    bad = [r for r in crecs if not r["ok"]] + [r for r in srecs if not r["ok"]]
    if len(crecs) != nconn or len(srecs) != nconn or bad:
        problems.append("transfers: %d/%d client, %d server records, failures %s" % (len(crecs), nconn, len(srecs), bad[:3]))
    # Files the engine must have written: per four-tuple, in connection order.
    expect = {}
    seen = {}
    for r in sorted((r for r in crecs if "client" in r), key=lambda r: r["phase"]):
        key = (r["client"][0], r["client"][1], r["server"][0], r["server"][1])
        seen[key] = seen.get(key, 0) + 1
        base = "%s_%d-%s_%d" % key
        sfx = "" if seen[key] == 1 else ".%d" % seen[key]
        srv = [s for s in srecs if s.get("client") == r["client"] and s.get("server") == r["server"]]
        srv.sort(key=lambda s: s["t"])
        s = srv[seen[key] - 1] if len(srv) >= seen[key] else {}
        expect[base + ".up" + sfx] = (r.get("sent_sha"), r.get("sent_bytes"))
        expect[base + ".down" + sfx] = (s.get("sent_sha"), s.get("sent_bytes"))
    files = set(os.listdir(a.dumps)) if os.path.isdir(a.dumps) else set()
    if files != set(expect):
        problems.append("dump files: missing %s, unexpected %s" % (sorted(set(expect) - files), sorted(files - set(expect))))
    equal = 0
    for name, (h, n) in sorted(expect.items()):
        if name not in files:
            continue
        got = sha(os.path.join(a.dumps, name))
        if got != (h, n):
            problems.append("%s: dumped %d bytes sha %s..., the application wrote %s bytes sha %s..." % (
                name, got[1], got[0][:12], n, (h or "?")[:12]))
        else:
            equal += 1
    reuse = sum(1 for f in files if f.endswith((".up.2", ".up.3")))
    print("  dumps: %d/%d files equal to what the applications wrote (%d reused four-tuples)" % (
        equal, len(expect), reuse))
    if a.follow:
        # tshark's view of the capture on the engine's input side, stream by stream.
        streams = parse_follow(a.follow)
        seen2, agree, disagree = {}, 0, []
        for st in streams:
            if st["n0"] is None or st["n1"] is None:
                continue
            key = (st["n0"][0], st["n0"][1], st["n1"][0], st["n1"][1])
            seen2[key] = seen2.get(key, 0) + 1
            sfx = "" if seen2[key] == 1 else ".%d" % seen2[key]
            base = "%s_%d-%s_%d" % key
            for d, data in (("up", st["d0"]), ("down", st["d1"])):
                name = base + "." + d + sfx
                if name not in files:
                    disagree.append("%s: tshark stream has no dump" % name)
                    continue
                with open(os.path.join(a.dumps, name), "rb") as f:
                    dump = f.read()
                if bytes(data) == dump:
                    agree += 1
                else:
                    i = next((i for i in range(min(len(data), len(dump))) if data[i] != dump[i]), min(len(data), len(dump)))
                    disagree.append("%s: tshark %d bytes, dump %d, first difference at %d" % (name, len(data), len(dump), i))
        n = sum(1 for st in streams if st["n0"] and st["n1"])
        print("  tshark follow (%s): %d of %d directions equal to the dump" % (a.capture_label, agree, 2 * n))
        for d in disagree:
            print("    tshark differs: " + d)
        if a.tshark_must_agree and disagree:
            problems.append("tshark disagrees on a capture where it must agree")
    for p in problems:
        print("  FAIL " + p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", action="append", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--plan", required=True)
    c.add_argument("--out", required=True)
    k = sub.add_parser("check")
    k.add_argument("--plan", required=True)
    k.add_argument("--client", action="append", required=True)
    k.add_argument("--server", required=True)
    k.add_argument("--dumps", required=True)
    k.add_argument("--follow")
    k.add_argument("--capture-label", default="capture")
    k.add_argument("--tshark-must-agree", action="store_true")
    a = ap.parse_args()
    if a.cmd == "server":
        run_server(a)
    elif a.cmd == "client":
        sys.exit(run_client(a))
    else:
        sys.exit(run_check(a))


if __name__ == "__main__":
    main()
