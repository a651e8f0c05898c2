#!/usr/bin/python3
"""Generates the crafted TCP evasion captures of tests/offline/stream_evasion.sh (deterministic:
fixed addresses, ISNs, timestamps; run it again and the pcaps are byte-identical).

  make_evasion.py OUTDIR      writes one NAME.pcap per case below, and expected.json

Every capture is one connection 10.0.0.1:40000 (client, sends the SYN) -> 10.0.0.2:80:
handshake, then the client's segments of the case, the server's ACKs, and a FIN exchange.
expected.json gives, per case, the bytes the client stream must carry once reassembled
("up", per overlap policy when it depends on it) as hex, and the checker's expectations.
"""
import json, os, sys
from scapy.all import Ether, IP, IPv6, TCP, Raw, wrpcap  # noqa: E402

C, S, CP, SP = "10.0.0.1", "10.0.0.2", 40000, 80
C6, S6 = "2001:db8:0:0::1", "2001:db8::0:2"  # the dump names use the shortest form
CMAC, SMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


class Conn:
    """Builds the frames of one connection; offsets are relative to the client's ISN+1."""

    def __init__(self, cisn=1000, sisn=5000, win=65535, v6=False, t0=1700000000.0):
        self.cisn, self.sisn, self.win, self.frames, self.t = cisn, sisn, win, [], t0
        self.v6 = v6
        self.srv_next = 0  # server's next byte (relative)

    def _add(self, p):
        self.t += 0.001
        p.time = self.t
        self.frames.append(p)

    def cip(self, ident):
        return IPv6(src=C6, dst=S6) if self.v6 else IP(src=C, dst=S, id=ident)

    def sip(self, ident):
        return IPv6(src=S6, dst=C6) if self.v6 else IP(src=S, dst=C, id=ident)

    def cseq(self, off):
        return (self.cisn + 1 + off) & 0xFFFFFFFF

    def sseq(self, off):
        return (self.sisn + 1 + off) & 0xFFFFFFFF

    def client(self, off, data=b"", flags="PA", chksum=None):
        t = TCP(sport=CP, dport=SP, seq=self.cseq(off), ack=self.sseq(self.srv_next), flags=flags, window=65535)
        if chksum is not None:
            t.chksum = chksum
        self._add(Ether(src=CMAC, dst=SMAC) / self.cip(len(self.frames)) / t / (Raw(data) if data else b""))

    def server_ack(self, ack_off, flags="A"):
        self._add(Ether(src=SMAC, dst=CMAC) / self.sip(len(self.frames)) /
                  TCP(sport=SP, dport=CP, seq=self.sseq(self.srv_next), ack=self.cseq(ack_off), flags=flags,
                      window=self.win))

    def server_rst(self, seq_abs):
        self._add(Ether(src=SMAC, dst=CMAC) / self.sip(len(self.frames)) /
                  TCP(sport=SP, dport=CP, seq=seq_abs, ack=0, flags="R", window=0))

    def handshake(self):
        self._add(Ether(src=CMAC, dst=SMAC) / self.cip(0) /
                  TCP(sport=CP, dport=SP, seq=self.cisn, flags="S", window=65535))
        self._add(Ether(src=SMAC, dst=CMAC) / self.sip(1) /
                  TCP(sport=SP, dport=CP, seq=self.sisn, ack=self.cseq(0), flags="SA", window=self.win))
        self._add(Ether(src=CMAC, dst=SMAC) / self.cip(2) /
                  TCP(sport=CP, dport=SP, seq=self.cseq(0), ack=self.sseq(0), flags="A", window=65535))

    def close(self, end):
        """Client FIN at `end`, server ACKs it and sends its FIN, client ACKs."""
        self.client(end, flags="FA")
        self.server_ack(end + 1, flags="FA")
        self.srv_next = 1
        self.client(end + 1, flags="A")


def overlap():
    """Three overlaps of out-of-order segments with conflicting bytes, gaps filled last.
    [15,30) B starts before the queued [20,30) a; [40,55) E starts with the queued [40,50) d
    and ends later; [60,65) G starts with the queued [60,70) f and ends earlier."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(20, b"a" * 10); c.client(15, b"B" * 15)
    c.client(40, b"d" * 10); c.client(40, b"E" * 15)
    c.client(60, b"f" * 10); c.client(60, b"G" * 5)
    c.client(10, b"c" * 5); c.client(30, b"h" * 10); c.client(55, b"i" * 5)
    c.server_ack(70)
    c.close(70)
    head, tail = b"0123456789" + b"c" * 5 + b"B" * 5, b"h" * 10
    exp = {
        "first": head + b"a" * 10 + tail + b"d" * 10 + b"E" * 5 + b"i" * 5 + b"f" * 10,
        "windows": head + b"a" * 10 + tail + b"d" * 10 + b"E" * 5 + b"i" * 5 + b"f" * 10,
        "bsd": head + b"B" * 10 + tail + b"d" * 10 + b"E" * 5 + b"i" * 5 + b"f" * 10,
        "linux": head + b"B" * 10 + tail + b"E" * 15 + b"i" * 5 + b"f" * 10,
        "last": head + b"B" * 10 + tail + b"E" * 15 + b"i" * 5 + b"G" * 5 + b"f" * 5,
    }
    return c, {p: v.hex() for p, v in exp.items()}


def retrans_conflict():
    """[0,10) and [10,20) forwarded, not yet acked; then [0,10) again with other bytes, and
    [10,20) again identical."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789"); c.client(10, b"abcdefghij")
    c.client(0, b"XXXXXXXXXX"); c.client(10, b"abcdefghij")
    c.server_ack(20)
    c.close(20)
    return c, (b"0123456789abcdefghij").hex()


def one_byte():
    """60 one-byte segments: 0..29 in order, then 59 down to 30 (out of order, reversed)."""
    c = Conn(); c.handshake()
    data = bytes((0x41 + i % 26) for i in range(60))
    for i in range(30):
        c.client(i, data[i:i + 1])
    for i in range(59, 29, -1):
        c.client(i, data[i:i + 1])
    c.server_ack(60)
    c.close(60)
    return c, data.hex()


def beyond_window():
    """The server offers a 100-byte window; a segment at [150,200) lies past it (dropped), the
    in-window [0,50) and [50,100) pass; once acked, [100,150) passes."""
    c = Conn(win=100); c.handshake()
    c.client(0, b"a" * 50); c.client(50, b"b" * 50)
    c.client(150, b"Z" * 50)
    c.server_ack(100)
    c.client(100, b"c" * 50)
    c.server_ack(150)
    c.close(150)
    return c, (b"a" * 50 + b"b" * 50 + b"c" * 50).hex()


def bad_checksum():
    """[10,20) first arrives with a wrong TCP checksum (dropped as malformed), then correct."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(10, b"EVILEVIL!!", chksum=0x1234)
    c.client(10, b"abcdefghij")
    c.server_ack(20)
    c.close(20)
    return c, (b"0123456789abcdefghij").hex()


def rst_out_of_window():
    """The server sends a RST far outside the client's window mid-stream (dropped); the
    connection goes on and ends with FINs."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.server_ack(10)
    c.server_rst((c.sseq(0) + 0x40000000) & 0xFFFFFFFF)
    c.client(10, b"abcdefghij")
    c.server_ack(20)
    c.close(20)
    return c, (b"0123456789abcdefghij").hex()


def ooo_fin():
    """The client's FIN (seq 20) arrives before [10,20): the stream must end after those bytes."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(20, flags="FA")
    c.client(10, b"abcdefghij")
    c.server_ack(21, flags="FA")
    c.srv_next = 1
    c.client(21, flags="A")
    return c, (b"0123456789abcdefghij").hex()


def queue_cap():
    """With --stream-queue 2: [20,30) and [40,50) queue, [60,70) is refused (queue full); the
    gaps fill, then the sender retransmits [60,70)."""
    c = Conn(); c.handshake()
    c.client(0, b"0" * 10)
    c.client(20, b"2" * 10); c.client(40, b"4" * 10); c.client(60, b"6" * 10)
    c.client(10, b"1" * 10); c.client(30, b"3" * 10); c.client(50, b"5" * 10)
    c.server_ack(60)
    c.client(60, b"6" * 10)
    c.server_ack(70)
    c.close(70)
    return c, "".join(str(i) * 10 for i in range(7)).encode().hex()


def seq_wrap():
    """Client ISN 0xFFFFFF00: 600 bytes in 100-byte segments across 2^32, the wrap-crossing
    ones out of order."""
    c = Conn(cisn=0xFFFFFF00); c.handshake()
    data = bytes((i * 7) & 0xFF for i in range(600))
    for off in (0, 100, 300, 200, 500, 400):
        c.client(off, data[off:off + 100])
    c.server_ack(600)
    c.close(600)
    return c, data.hex()


def overlap_span():
    """A segment [15,40) of N spans two queued ones, [20,25) a and [30,35) b; [10,15) fills."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(20, b"a" * 5); c.client(30, b"b" * 5)
    c.client(15, b"N" * 25)
    c.client(10, b"c" * 5)
    c.server_ack(40)
    c.close(40)
    old = b"0123456789" + b"c" * 5 + b"N" * 5 + b"a" * 5 + b"N" * 5 + b"b" * 5 + b"N" * 5
    new = b"0123456789" + b"c" * 5 + b"N" * 25
    return c, {"first": old.hex(), "windows": old.hex(), "bsd": new.hex(), "linux": new.hex(), "last": new.hex()}


def overlap_in_order():
    """[15,20) a is queued; then [10,25) B arrives in order (it starts at the next byte) and
    covers it."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(15, b"a" * 5)
    c.client(10, b"B" * 15)
    c.server_ack(25)
    c.close(25)
    old = b"0123456789" + b"B" * 5 + b"a" * 5 + b"B" * 5
    new = b"0123456789" + b"B" * 15
    return c, {"first": old.hex(), "windows": old.hex(), "bsd": new.hex(), "linux": new.hex(), "last": new.hex()}


def partial_retrans():
    """[0,10) and [10,20) forwarded unacked; then [5,25): 15 conflicting old bytes, 5 new."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789"); c.client(10, b"abcdefghij")
    c.client(5, b"X" * 15 + b"VWXYZ")
    c.server_ack(25)
    c.close(25)
    return c, (b"0123456789abcdefghijVWXYZ").hex()


def data_after_fin():
    """FIN at 10, then 10 bytes at [10,20) (past the end of the stream)."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(10, flags="FA")
    c.client(10, b"EVILEVIL!!")
    c.server_ack(11, flags="FA")
    c.srv_next = 1
    c.client(11, flags="A")
    return c, (b"0123456789").hex()


def overlap_wrap():
    """overlap() with the client's ISN 0xFFFFFFED: its sequence numbers wrap 2^32 at
    offset 18, inside the first conflict ([15,30) against [20,30))."""
    c = Conn(cisn=0xFFFFFFED)
    o, exp = overlap()
    c.frames = o.frames
    for p in c.frames:  # same segments, shifted sequence space
        t = p[TCP]
        if t.sport == CP:
            t.seq = (t.seq - 1000 + 0xFFFFFFED) & 0xFFFFFFFF
        elif t.flags & 0x10:
            t.ack = (t.ack - 1000 + 0xFFFFFFED) & 0xFFFFFFFF
        del t.chksum
    return c, exp


def reuse_v6():
    """Over IPv6, three connections one after the other on the same four-tuple (new ISNs),
    10, 0 and 20 client bytes; the server answers 3 bytes on the first."""
    frames, t0 = [], 1700000000.0
    for k, (isn, data) in enumerate([(1000, b"first conn"), (90000, b""), (500000, b"third connection!!!!")]):
        c = Conn(cisn=isn, sisn=7000 + k, v6=True, t0=t0)
        c.handshake()
        if data:
            c.client(0, data)
        if k == 0:
            c._add(Ether(src=SMAC, dst=CMAC) / c.sip(0) /
                   TCP(sport=SP, dport=CP, seq=c.sseq(0), ack=c.cseq(len(data)), flags="PA", window=65535) / Raw(b"abc"))
            c.srv_next = 3
        c.server_ack(len(data))
        # client FIN, server FIN+ACK, client ACK
        c.client(len(data), flags="FA")
        c._add(Ether(src=SMAC, dst=CMAC) / c.sip(0) /
               TCP(sport=SP, dport=CP, seq=c.sseq(c.srv_next), ack=c.cseq(len(data) + 1), flags="FA", window=65535))
        c.srv_next += 1
        c.client(len(data) + 1, flags="A")
        frames += c.frames
        t0 = c.t + 1.0
    c.frames = frames
    base = "2001:db8::1_40000-2001:db8::2_80"
    return c, {"files": {base + ".up": b"first conn".hex(), base + ".down": b"abc".hex(),
                         base + ".up.2": "", base + ".down.2": "",
                         base + ".up.3": b"third connection!!!!".hex(), base + ".down.3": ""}}


def keepalive_conflict():
    """[0,10) forwarded, not acked; then a 1-byte segment at next - 1 (the shape of a
    keep-alive probe) carrying another byte than the one inspected: if the receiver lost
    the original, it would take this byte."""
    c = Conn(); c.handshake()
    c.client(0, b"0123456789")
    c.client(9, b"X", flags="A")
    c.server_ack(10)
    c.close(10)
    return c, (b"0123456789").hex()


def syn_data():
    """TCP Fast Open: the SYN carries 10 bytes the server accepts (its SYN+ACK acks them),
    then [10,20) and FINs."""
    c = Conn()
    c._add(Ether(src=CMAC, dst=SMAC) / c.cip(0) / TCP(sport=CP, dport=SP, seq=c.cisn, flags="S", window=65535) /
           Raw(b"SYNDATA123"))
    c._add(Ether(src=SMAC, dst=CMAC) / c.sip(1) /
           TCP(sport=SP, dport=CP, seq=c.sisn, ack=c.cseq(10), flags="SA", window=65535))
    c.client(10, b"abcdefghij")
    c.server_ack(20)
    c.close(20)
    return c, (b"SYNDATA123abcdefghij").hex()


CASES = [overlap, overlap_wrap, reuse_v6, keepalive_conflict, syn_data, overlap_span, overlap_in_order, partial_retrans, data_after_fin, retrans_conflict, one_byte, beyond_window, bad_checksum, rst_out_of_window, ooo_fin,
         queue_cap, seq_wrap]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    expected = {}
    for f in CASES:
        c, up = f()
        wrpcap(os.path.join(out, f.__name__ + ".pcap"), c.frames)
        expected[f.__name__] = dict(up, packets=len(c.frames)) if "files" in up else {"up": up, "packets": len(c.frames)}
    with open(os.path.join(out, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
