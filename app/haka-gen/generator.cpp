// Connections advance one step (normally one packet) at a time, round robin
// over the `concurrency` open ones, so their packets interleave as on a busy
// link. Frames are written straight into the sink's buffer, checksummed there.
#include "generator.hpp"

#include <algorithm>
#include <cstring>

namespace haka::gen {

namespace {

constexpr uint32_t pcap_magic_ns = 0xa1b23c4d;
constexpr uint32_t snaplen = 65535;
constexpr uint32_t record_header = 16;
constexpr std::size_t sink_block = 8u << 20;

// TCP flags.
constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;

/// splitmix64: small, fast, and the same output for the same seed everywhere.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return p > 0 && unit() < p; }
};

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// One's complement sum in native order over native 32-bit loads (RFC 1071's
// byte-order independence): fold and store natively at the end. `p` starts a
// 16-bit-aligned field of the packet, so an odd tail byte is a high-order byte.
uint64_t sum_native(const uint8_t* p, std::size_t n, uint64_t acc) {
  while (n >= 8) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    acc += uint64_t{a} + b;
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t a;
    std::memcpy(&a, p, 4);
    acc += a;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t a;
    std::memcpy(&a, p, 2);
    acc += a;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint8_t t[2] = {p[0], 0};
    uint16_t a;
    std::memcpy(&a, t, 2);
    acc += a;
  }
  return acc;
}

uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc);
}

enum class Phase : uint8_t { syn, syn_ack, ack3, data, dup_ack, retransmit, fin1, fin2, fin3, done };

/// One connection's state between its steps.
struct Conn {
  uint64_t id = 0;
  uint64_t total[2] = {0, 0}; // payload to send: [0] client, [1] server
  uint64_t sent[2] = {0, 0};  // payload sent (the next sequence offset)
  uint64_t lost_off = 0;      // a lost segment awaiting retransmission
  uint32_t lost_len = 0;
  uint32_t isn[2] = {0, 0};
  uint32_t ts_base[2] = {0, 0};
  uint32_t ts_recent[2] = {0, 0}; // last TSval each side received
  uint16_t ip_id[2] = {0, 0};
  uint8_t unacked[2] = {0, 0};    // data segments each side received and has not acknowledged
  uint8_t lost_side = 0;
  uint8_t turn = 0;
  uint8_t fin_seen[2] = {0, 0};   // FINs each side received
  bool v6 = false, by_rst = false, rst_side = false;
  Phase phase = Phase::syn;
};

/// Writes frames of one run.
class Writer {
public:
  Writer(const GenOptions& o, PcapSink& sink, GenTotals& t) : o_(o), sink_(sink), t_(t), rng_{o.seed} {
    pattern_.resize(65536 + 2048);
    // Printable, deterministic payload bytes (some text-like structure for rules to chew on).
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \r\n";
    for (auto& b : pattern_) b = uint8_t(alphabet[rng_.next() % (sizeof alphabet - 1)]);
    ns_per_byte_ = 8.0 / (o.rate_gbps > 0 ? o.rate_gbps : 1.0);
    clock_ns_ = 1'700'000'000ull * 1'000'000'000ull;
  }

  void start(Conn& c, uint64_t id) {
    c = Conn{};
    c.id = id;
    c.v6 = rng_.chance(o_.ipv6_ratio);
    c.by_rst = rng_.chance(o_.rst_ratio);
    c.rst_side = (rng_.next() & 1) != 0;
    c.total[0] = o_.bytes_up;
    c.total[1] = o_.bytes_down;
    c.isn[0] = uint32_t(rng_.next());
    c.isn[1] = uint32_t(rng_.next());
    c.ts_base[0] = uint32_t(rng_.next());
    c.ts_base[1] = uint32_t(rng_.next());
    c.ip_id[0] = uint16_t(rng_.next());
    c.ip_id[1] = uint16_t(rng_.next());
    ++t_.connections;
    if (c.v6) ++t_.ipv6;
  }

  /// Advances `c` by one step; false once it is closed.
  bool step(Conn& c) {
    switch (c.phase) {
    case Phase::syn:
      emit(c, 0, syn, 0, 0, true);
      c.phase = Phase::syn_ack;
      return true;
    case Phase::syn_ack:
      emit(c, 1, syn | ack, 0, 0, true);
      c.phase = Phase::ack3;
      return true;
    case Phase::ack3:
      emit(c, 0, ack, 0, 0, false);
      c.phase = Phase::data;
      return true;
    case Phase::dup_ack: {
      // The receiver saw a later segment past a hole: it acknowledges the hole's start again.
      const uint8_t r = uint8_t(1 - c.lost_side);
      emit(c, r, ack, c.sent[r], 0, false);
      c.unacked[r] = 0;
      c.phase = Phase::retransmit;
      return true;
    }
    case Phase::retransmit: {
      const uint8_t s = c.lost_side;
      const uint32_t len = c.lost_len;
      c.lost_len = 0; // the hole fills: acknowledgements now cover everything sent
      emit(c, s, ack | psh, c.lost_off, len, false);
      ++c.unacked[1 - s];
      c.turn = uint8_t(1 - s);
      c.phase = Phase::data;
      return true;
    }
    case Phase::data:
      return data_step(c);
    case Phase::fin1:
      emit(c, 0, fin | ack, c.sent[0], 0, false);
      c.fin_seen[1] = 1;
      c.phase = Phase::fin2;
      return true;
    case Phase::fin2:
      emit(c, 1, fin | ack, c.sent[1], 0, false);
      c.fin_seen[0] = 1;
      c.phase = Phase::fin3;
      return true;
    case Phase::fin3:
      emit(c, 0, ack, c.sent[0] + 1, 0, false);
      ++t_.fin_closed;
      c.phase = Phase::done;
      return false;
    case Phase::done:
      return false;
    }
    return false;
  }

  uint64_t clock_ns() const { return clock_ns_; }

private:
  uint32_t next_size() {
    if (!o_.imix) return o_.segment;
    // 7:4:1 of 64-, 576- and 1460-byte payloads.
    const uint64_t r = rng_.next() % 12;
    return r < 7 ? 64 : r < 11 ? 576 : 1460;
  }

  bool data_step(Conn& c) {
    const bool left[2] = {c.sent[0] < c.total[0], c.sent[1] < c.total[1]};
    if (!left[0] && !left[1]) {
      // Everything sent: acknowledge what is outstanding, then close.
      for (uint8_t s = 0; s < 2; ++s)
        if (c.unacked[s]) {
          emit(c, s, ack, c.sent[s], 0, false);
          c.unacked[s] = 0;
          return true;
        }
      if (c.by_rst) {
        const uint8_t s = c.rst_side ? 1 : 0;
        emit(c, s, rst | ack, c.sent[s], 0, false);
        ++t_.rst_closed;
        c.phase = Phase::done;
        return false;
      }
      c.phase = Phase::fin1;
      return step(c);
    }
    uint8_t s = c.turn;
    if (!left[s]) {
      // Nothing to send on this side: a delayed ACK every second segment, else the peer goes on.
      if (c.unacked[s] >= 2) {
        emit(c, s, ack, c.sent[s], 0, false);
        c.unacked[s] = 0;
        c.turn = uint8_t(1 - s);
        return true;
      }
      s = uint8_t(1 - s);
    }
    const uint8_t r = uint8_t(1 - s);
    const uint64_t off = c.sent[s];
    const uint32_t len = uint32_t(std::min<uint64_t>(next_size(), c.total[s] - off));
    const bool more = off + len < c.total[s];
    ++t_.data_segments;
    if (more && rng_.chance(o_.loss)) {
      // Lost on the way: the next segment arrives past a hole, the receiver
      // repeats its ACK, the sender retransmits the missing one.
      const uint32_t len2 = uint32_t(std::min<uint64_t>(next_size(), c.total[s] - off - len));
      c.lost_side = s;
      c.lost_off = off;
      c.lost_len = len;
      c.sent[s] = off + len + len2;
      emit(c, s, ack | psh, off + len, len2, false);
      c.unacked[s] = 0;
      ++t_.data_segments;
      ++t_.lost;
      c.phase = Phase::dup_ack;
      return true;
    }
    if (more && rng_.chance(o_.reorder)) {
      // Swapped with the next segment on the way.
      const uint32_t len2 = uint32_t(std::min<uint64_t>(next_size(), c.total[s] - off - len));
      c.sent[s] = off + len + len2;
      emit(c, s, ack | psh, off + len, len2, false);
      emit(c, s, ack | psh, off, len, false);
      c.unacked[s] = 0;
      c.unacked[r] = uint8_t(std::min(c.unacked[r] + 2, 255));
      ++t_.data_segments;
      ++t_.reordered;
      c.turn = r;
      return true;
    }
    c.sent[s] = off + len;
    emit(c, s, ack | psh, off, len, false);
    c.unacked[s] = 0;
    if (c.unacked[r] < 255) ++c.unacked[r];
    c.turn = r;
    return true;
  }

  // What side `r` has received in order from its peer (a pending hole stops it).
  uint64_t received(const Conn& c, uint8_t r) const {
    const uint8_t s = uint8_t(1 - r);
    return c.lost_len && c.lost_side == s ? c.lost_off : c.sent[s];
  }

  void address(const Conn& c, uint8_t side, uint8_t* out) const {
    const uint64_t id = c.id;
    if (!c.v6) {
      if (side == 0) {
        const uint64_t rest = id / 250;
        out[0] = 10, out[1] = uint8_t(rest >> 8), out[2] = uint8_t(rest), out[3] = uint8_t(1 + id % 250);
      } else {
        out[0] = 192, out[1] = 168, out[2] = 0, out[3] = uint8_t(1 + id % 8);
      }
      return;
    }
    std::memset(out, 0, 16);
    out[0] = 0xfd;
    if (side == 0) {
      put32(out + 8, uint32_t(id >> 32));
      put32(out + 12, uint32_t(id) + 1);
    } else {
      out[5] = 1;
      out[15] = uint8_t(1 + id % 8);
    }
  }

  // One frame from side `s`: sequence offset `off` (payload bytes before it; the
  // SYN takes offset -1), `len` payload bytes taken from the pattern at `off`.
  void emit(Conn& c, uint8_t s, uint8_t flags, uint64_t off, uint32_t len, bool syn_options) {
    const uint8_t r = uint8_t(1 - s);
    const uint32_t l3_len = c.v6 ? 40 : 20;
    const uint32_t opt_len = syn_options ? 20 : 12;
    const uint32_t tcp_len = 20 + opt_len;
    const uint32_t frame_len = 14 + l3_len + tcp_len + len;
    uint8_t* f = sink_.reserve(frame_len);

    // Ethernet: locally administered MACs, one per side.
    static constexpr uint8_t mac[2][6] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}};
    std::memcpy(f, mac[r], 6);
    std::memcpy(f + 6, mac[s], 6);
    put16(f + 12, c.v6 ? 0x86dd : 0x0800);
    uint8_t* ip = f + 14;
    uint8_t pseudo[40];
    uint32_t pseudo_len;
    if (!c.v6) {
      ip[0] = 0x45;
      ip[1] = 0;
      put16(ip + 2, uint16_t(20 + tcp_len + len));
      put16(ip + 4, c.ip_id[s]++);
      put16(ip + 6, 0x4000); // DF
      ip[8] = 64;
      ip[9] = 6;
      put16(ip + 10, 0);
      address(c, s, ip + 12);
      address(c, r, ip + 16);
      const uint16_t ck = fold(sum_native(ip, 20, 0));
      std::memcpy(ip + 10, &ck, 2);
      std::memcpy(pseudo, ip + 12, 8);
      pseudo_len = 8;
    } else {
      put32(ip, 0x60000000u | uint32_t(c.id & 0xfffff));
      put16(ip + 4, uint16_t(tcp_len + len));
      ip[6] = 6;
      ip[7] = 64;
      address(c, s, ip + 8);
      address(c, r, ip + 24);
      std::memcpy(pseudo, ip + 8, 32);
      pseudo_len = 32;
    }
    pseudo[pseudo_len] = 0;
    pseudo[pseudo_len + 1] = 6;
    put16(pseudo + pseudo_len + 2, uint16_t(tcp_len + len));
    pseudo_len += 4;

    uint8_t* th = ip + l3_len;
    const uint16_t client_port = uint16_t(1024 + (c.id * 7919) % 64000);
    put16(th, s == 0 ? client_port : 80);
    put16(th + 2, s == 0 ? 80 : client_port);
    const bool is_syn = (flags & syn) != 0;
    put32(th + 4, is_syn ? c.isn[s] : uint32_t(c.isn[s] + 1 + off));
    const uint32_t ackno = (flags & ack) ? uint32_t(c.isn[r] + 1 + received(c, s) + c.fin_seen[s]) : 0;
    put32(th + 8, ackno);
    th[12] = uint8_t((tcp_len / 4) << 4);
    th[13] = flags;
    put16(th + 14, is_syn ? 64240 : 502); // scaled by 2^7 after the handshake
    put16(th + 16, 0);
    put16(th + 18, 0);
    uint8_t* opt = th + 20;
    const uint32_t tsval = c.ts_base[s] + uint32_t(clock_ns_ / 1'000'000);
    if (syn_options) {
      // Linux's order: MSS, SACK permitted, timestamps, NOP, window scale.
      const uint8_t o[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
      std::memcpy(opt, o, 20);
      put16(opt + 2, c.v6 ? 1440 : 1460);
      put32(opt + 8, tsval);
      put32(opt + 12, (flags & ack) ? c.ts_recent[s] : 0);
    } else {
      opt[0] = 1, opt[1] = 1, opt[2] = 8, opt[3] = 10;
      put32(opt + 4, tsval);
      put32(opt + 8, c.ts_recent[s]);
    }
    c.ts_recent[r] = tsval;
    if (len) std::memcpy(th + tcp_len, pattern_.data() + (off & 0xffff), len);
    const uint16_t ck = fold(sum_native(th, tcp_len + len, sum_native(pseudo, pseudo_len, 0)));
    std::memcpy(th + 16, &ck, 2);

    sink_.commit(frame_len, clock_ns_);
    ++t_.packets;
    t_.bytes += frame_len;
    // Wire time at the nominal rate: preamble, FCS and inter-frame gap included.
    clock_frac_ += double(std::max<uint32_t>(frame_len, 60) + 24) * ns_per_byte_;
    const uint64_t whole = uint64_t(clock_frac_);
    clock_ns_ += whole;
    clock_frac_ -= double(whole);
  }

  const GenOptions& o_;
  PcapSink& sink_;
  GenTotals& t_;
  Rng rng_;
  std::vector<uint8_t> pattern_;
  double ns_per_byte_ = 8;
  double clock_frac_ = 0;
  uint64_t clock_ns_ = 0;
};

} // namespace

PcapSink::PcapSink(std::FILE* f) : f_(f) {
  buf_.resize(sink_block + snaplen + record_header);
  uint32_t hdr[6] = {pcap_magic_ns, 0x00040002u, 0, 0, snaplen, 1 /* Ethernet */};
  std::memcpy(buf_.data(), hdr, sizeof hdr);
  used_ = sizeof hdr;
}

PcapSink::~PcapSink() { flush(); }

uint8_t* PcapSink::reserve(uint32_t frame_len) {
  if (used_ + record_header + frame_len > buf_.size()) flush();
  return buf_.data() + used_ + record_header;
}

void PcapSink::commit(uint32_t frame_len, uint64_t ts_ns) {
  const uint32_t rec[4] = {uint32_t(ts_ns / 1'000'000'000u), uint32_t(ts_ns % 1'000'000'000u), frame_len, frame_len};
  std::memcpy(buf_.data() + used_, rec, sizeof rec);
  used_ += record_header + frame_len;
  if (used_ >= sink_block) flush();
}

bool PcapSink::flush() {
  if (used_ && std::fwrite(buf_.data(), 1, used_, f_) != used_) ok_ = false;
  used_ = 0;
  return ok_;
}

bool generate(const GenOptions& o, PcapSink& sink, GenTotals& totals, std::string& err) {
  Writer w(o, sink, totals);
  const uint64_t slots = std::max<uint64_t>(1, std::min(o.concurrency, o.connections));
  std::vector<Conn> open(slots);
  uint64_t started = 0;
  for (auto& c : open) w.start(c, started++);
  if (o.connections == 0) open.clear();
  // Round robin; a closed connection's slot takes the next new connection, and
  // when none are left the slot goes (the last one moves into it).
  std::size_t i = 0;
  while (!open.empty()) {
    if (i >= open.size()) i = 0;
    if (!w.step(open[i])) {
      if (started < o.connections) {
        w.start(open[i], started++);
      } else {
        open[i] = open.back();
        open.pop_back();
        continue;
      }
    }
    ++i;
  }
  if (!sink.flush()) {
    err = "write error on " + o.out;
    return false;
  }
  return true;
}

} // namespace haka::gen
