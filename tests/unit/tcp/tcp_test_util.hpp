// Test helpers: build SegmentViews directly and drive a connection between a
// client (Dir::up) and a server (Dir::down) that keep their own sequence state.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>

#include "tcp/tracker.hpp"

namespace haka::tcp {
// Readable gtest messages (found by ADL).
inline void PrintTo(SegmentOutcome o, std::ostream* os) { *os << outcome_name(o); }
inline void PrintTo(State s, std::ostream* os) { *os << state_name(s); }
inline void PrintTo(EndReason e, std::ostream* os) { *os << end_reason_name(e); }
inline void PrintTo(Seq q, std::ostream* os) { *os << q.value(); }
} // namespace haka::tcp

namespace haka::tcp::test {

constexpr uint8_t F = tcp_flag::fin;
constexpr uint8_t S = tcp_flag::syn;
constexpr uint8_t R = tcp_flag::rst;
constexpr uint8_t P = tcp_flag::psh;
constexpr uint8_t A = tcp_flag::ack;

constexpr uint64_t kSec = 1'000'000'000ull;

/// A segment with the given fields and no options.
inline SegmentView seg(uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len = 0, uint16_t window = 65535) {
  SegmentView s;
  s.seq = Seq{seq};
  s.ack = Seq{ack};
  s.flags = flags;
  s.len = len;
  s.window = window;
  return s;
}

/// A SYN (or SYN+ACK when ack is given) with MSS and, when wscale >= 0, the window scale option.
inline SegmentView syn(uint32_t isn, int wscale = -1, uint16_t window = 65535) {
  SegmentView s = seg(isn, 0, S, 0, window);
  s.options = seg_opt::mss;
  s.mss = 1460;
  if (wscale >= 0) {
    s.options |= seg_opt::wscale;
    s.wscale = static_cast<uint8_t>(wscale);
  }
  return s;
}
inline SegmentView synack(uint32_t isn, uint32_t ack, int wscale = -1, uint16_t window = 65535) {
  SegmentView s = syn(isn, wscale, window);
  s.flags = S | A;
  s.ack = Seq{ack};
  return s;
}

/// One TCP conversation as both hosts would run it: each side's next
/// sequence number and the windows they advertise, so tests write what
/// happens ("client sends 100 bytes") instead of raw numbers.
struct Conv {
  TrackerConfig cfg;
  Connection c;
  uint64_t now = 1000 * kSec;
  uint32_t cisn, sisn;  // ISNs
  uint32_t cnext, snext; // each side's next sequence number to send
  uint32_t crcv, srcv;   // what each side has received in order (its ACK value)
  uint16_t cwin = 65535, swin = 65535; // raw windows each side advertises

  explicit Conv(uint32_t client_isn = 1000, uint32_t server_isn = 5000)
      : cisn(client_isn), sisn(server_isn), cnext(client_isn), snext(server_isn), crcv(0), srcv(0) {}

  Endpoint& up() { return c.endpoint(Dir::up); }
  Endpoint& down() { return c.endpoint(Dir::down); }

  StepResult step(Dir d, const SegmentView& s, uint64_t dt = 0) {
    now += dt;
    return tcp::step(c, d, s, now, cfg);
  }

  StepResult open(int wscale = -1) {
    EXPECT_TRUE(opens_connection(syn(cisn, wscale), cfg));
    StepResult r = tcp::open(c, syn(cisn, wscale, cwin), now, cfg);
    cnext = cisn + 1;
    return r;
  }
  StepResult synack_(int wscale = -1) {
    srcv = cisn + 1;
    StepResult r = step(Dir::down, synack(sisn, srcv, wscale, swin));
    snext = sisn + 1;
    return r;
  }
  /// SYN, SYN+ACK, ACK; checks each step.
  void handshake(int cws = -1, int sws = -1) {
    StepResult r = open(cws);
    ASSERT_EQ(r.outcome, SegmentOutcome::opened);
    ASSERT_EQ(c.state, State::syn_sent);
    r = synack_(sws);
    ASSERT_EQ(r.outcome, SegmentOutcome::accepted);
    ASSERT_EQ(c.state, State::syn_received);
    r = client(A);
    ASSERT_EQ(r.outcome, SegmentOutcome::accepted);
    ASSERT_EQ(c.state, State::established);
    ASSERT_TRUE(r.has(tcp_event::established));
  }

  /// The client sends `len` bytes (and flags) at its next sequence number,
  /// acknowledging everything the server sent; the server receives it.
  StepResult client(uint8_t flags, uint32_t len = 0, uint64_t dt = 0) {
    crcv = snext;
    SegmentView s = seg(cnext, crcv, flags, len, cwin);
    StepResult r = step(Dir::up, s, dt);
    if (r.forward) {
      cnext += s.seq_len();
      srcv = cnext;
    }
    return r;
  }
  StepResult server(uint8_t flags, uint32_t len = 0, uint64_t dt = 0) {
    srcv = cnext;
    SegmentView s = seg(snext, srcv, flags, len, swin);
    StepResult r = step(Dir::down, s, dt);
    if (r.forward) {
      snext += s.seq_len();
      crcv = snext;
    }
    return r;
  }
  StepResult from(Dir d, uint8_t flags, uint32_t len = 0) { return d == Dir::up ? client(flags, len) : server(flags, len); }
};

} // namespace haka::tcp::test
