#!/usr/bin/python3
"""Userspace L2 forwarder between two interfaces that drops, reorders and duplicates frames.

Stands in for `tc netem` (not available on every kernel): run it in a namespace holding two
veth ends and it bridges them, frame by frame, over raw AF_PACKET sockets. For each IP frame,
per direction and from a seeded RNG: drop it (--loss), else hold it and send it after the next
frame of the same direction (--reorder; a held frame still waiting after --hold-ms is sent
alone), else send it twice (--dup). ARP and other non-IP frames pass untouched. TCP RSTs are
never dropped (--drop-rst to allow it): TCP does not retransmit a RST, so a lost one leaves the
peers disagreeing on how the connection ended. On SIGTERM or SIGINT it prints its counts as
one JSON line and exits 0.

Usage: impair.py IF_A IF_B [--loss P] [--reorder P] [--dup P] [--seed N] [--hold-ms MS]
"""
import argparse, json, random, select, signal, socket, sys, time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
IP_TYPES = (0x0800, 0x86DD)


def is_tcp_rst(f):
    et = int.from_bytes(f[12:14], "big")
    if et == 0x0800 and len(f) >= 34 and f[23] == 6:
        off = 14 + (f[14] & 0x0F) * 4
        return len(f) > off + 13 and bool(f[off + 13] & 0x04)
    if et == 0x86DD and len(f) >= 68 and f[20] == 6:  # no extension headers on this path
        return bool(f[14 + 40 + 13] & 0x04)
    return False


class Direction:
    """One way through the forwarder: its own RNG, held frame and counters."""

    def __init__(self, name, out_sock, rng, a):
        self.name, self.out, self.rng, self.a = name, out_sock, rng, a
        self.held, self.held_at = None, 0.0
        self.c = dict(rx=0, tx=0, passed=0, dropped=0, reordered=0, duplicated=0, spared_rst=0, held_timeouts=0)

    def send(self, f):
        self.out.send(f)
        self.c["tx"] += 1

    def frame(self, f):
        self.c["rx"] += 1
        if len(f) < 14 or int.from_bytes(f[12:14], "big") not in IP_TYPES:
            self.c["passed"] += 1
            self.send(f)
            return
        r = self.rng.random()
        if r < self.a.loss:
            if self.a.drop_rst or not is_tcp_rst(f):
                self.c["dropped"] += 1
                return
            self.c["spared_rst"] += 1
        if self.held is None and self.rng.random() < self.a.reorder:
            self.held, self.held_at = f, time.monotonic()
            self.c["reordered"] += 1
            return
        self.send(f)
        if self.rng.random() < self.a.dup:
            self.c["duplicated"] += 1
            self.send(f)
        self.flush()

    def flush(self):
        if self.held is not None:
            f, self.held = self.held, None
            self.send(f)

    def expire(self, now):
        if self.held is not None and now - self.held_at >= self.a.hold_ms / 1000.0:
            self.c["held_timeouts"] += 1
            self.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("if_a")
    p.add_argument("if_b")
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--reorder", type=float, default=0.0)
    p.add_argument("--dup", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hold-ms", type=float, default=20.0)
    p.add_argument("--drop-rst", action="store_true")
    a = p.parse_args()
    socks = []
    for ifname in (a.if_a, a.if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((ifname, 0))
        socks.append(s)
    # One RNG per direction: a direction's decisions depend only on its own frame sequence.
    dirs = {socks[0].fileno(): Direction(a.if_a + ">" + a.if_b, socks[1], random.Random(a.seed), a),
            socks[1].fileno(): Direction(a.if_b + ">" + a.if_a, socks[0], random.Random(a.seed + 1), a)}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    print("impair: forwarding %s <-> %s loss=%g reorder=%g dup=%g seed=%d"
          % (a.if_a, a.if_b, a.loss, a.reorder, a.dup, a.seed), flush=True)
    while not stop:
        for fd, _ in poller.poll(5):
            s, d = socks[0] if fd == socks[0].fileno() else socks[1], dirs[fd]
            for _ in range(64):  # drain a batch, then let the other direction and timers run
                try:
                    f, addr = s.recvfrom(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if addr[2] != PACKET_OUTGOING:  # our own transmissions come back as outgoing
                    d.frame(f)
        now = time.monotonic()
        for d in dirs.values():
            d.expire(now)
    for d in dirs.values():
        d.flush()
    print(json.dumps({d.name: d.c for d in dirs.values()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
