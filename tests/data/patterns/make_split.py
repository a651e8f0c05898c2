#!/usr/bin/python3
"""Writes split.pcap: one TCP connection whose client stream carries
"EVILPATTERN" split over three segments sent out of order, where the middle
piece comes twice while queued: first as "XXXX", then as "PATT" (same start,
same length: the first copy is delivered under first, bsd, linux and
windows, the second under last), "ATSTART" at the very start of the
server's stream and "ATEND" at the very end of the client's; plus an
"EVILPATTERN" only in a segment far out of the receiver's window, which a
receiver never accepts."""
import sys
from scapy.all import Ether, IP, TCP, Raw, wrpcap

C, S = "10.1.0.1", "10.1.0.2"
cp, sp = 40000, 80
ci, si = 1000, 5000
t = [1700000000.0]


def pkt(src, dst, sport, dport, flags, seq, ack, data=b""):
    t[0] += 0.001
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / \
        TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535)
    if data:
        p = p / Raw(data)
    p.time = t[0]
    return p


def c2s(flags, seq, ack, data=b""):
    return pkt(C, S, cp, sp, flags, seq, ack, data)


def s2c(flags, seq, ack, data=b""):
    return pkt(S, C, sp, cp, flags, seq, ack, data)


up = b"0123EVIL" + b"PATT" + b"ERN4567" + b"..ATEND"
a, b, c, d = up[:8], up[8:12], up[12:19], up[19:]
C1, S1 = ci + 1, si + 1
pkts = [
    c2s("S", ci, 0), s2c("SA", si, C1), c2s("A", C1, S1),
    s2c("PA", S1, C1, b"ATSTART and the server's bytes"),
    c2s("PA", C1 + 12, S1 + 30, c),            # third piece first (out of order)
    c2s("PA", C1 + 8, S1 + 30, b"XXXX"),       # middle piece, a decoy copy
    c2s("PA", C1 + 8, S1 + 30, b),             # middle piece again: loses to the first copy (policy first)
    c2s("PA", C1, S1 + 30, a),                 # fills the gap
    c2s("PA", C1 + 19, S1 + 30, d),
    c2s("PA", C1 + 10_000_000, S1 + 30, b"EVILPATTERN"),  # far out of window: never accepted
    s2c("A", S1 + 30, C1 + len(up)),
    c2s("FA", C1 + len(up), S1 + 30), s2c("FA", S1 + 30, C1 + len(up) + 1),
    c2s("A", C1 + len(up) + 1, S1 + 31),
]
wrpcap(sys.argv[1] if len(sys.argv) > 1 else "split.pcap", pkts)
