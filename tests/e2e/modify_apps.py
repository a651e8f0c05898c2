#!/usr/bin/python3
"""Client and server for stream_modify.sh.

server: accepts connections; for each, reads until EOF (R), then sends
        10 junk bytes + sha256(R) + R and closes.
client: for each of N connections, sends SIZE seeded random bytes (D) in
        random-sized writes, shuts down writing, reads until EOF (E), and
        checks E == sha256(HEADER + D) + HEADER + D (the rule inserted the
        header in the client's stream and erased the server's first 10
        bytes). Prints one line per connection and exits 1 on any mismatch.
"""
import hashlib, random, socket, sys, threading

HEADER = (b"INSERTED-BY-HAKA-DPDK!" * 5)[:100]


def read_all(s):
    out = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            return bytes(out)
        out += b


def serve(conn):
    with conn:
        r = read_all(conn)
        conn.sendall(b"J" * 10 + hashlib.sha256(r).digest() + r)


def server(ip, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def client(ip, port, n, size, seed):
    bad = 0
    for i in range(n):
        rng = random.Random(seed * 1000 + i)
        d = bytes(rng.getrandbits(8) for _ in range(size))
        s = socket.create_connection((ip, port), timeout=30)
        off = 0
        while off < len(d):
            k = rng.randint(1, 9000)
            s.sendall(d[off:off + k])
            off += k
        s.shutdown(socket.SHUT_WR)
        e = read_all(s)
        s.close()
        want = hashlib.sha256(HEADER + d).digest() + HEADER + d
        ok = e == want
        bad += not ok
        print("connection %d: sent %d, got %d back, %s" % (i, len(d), len(e), "ok" if ok else "MISMATCH"))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])))
