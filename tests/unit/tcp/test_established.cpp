// Data transfer: window and ACK checks, retransmissions, keep-alives,
// window scaling, SYNs on a synchronized connection, sequence wrap.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tcp_test_util.hpp"

namespace haka::tcp {
namespace {

using namespace test;

TEST(TcpData, BothWays) {
  Conv v;
  v.handshake();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(v.client(A | P, 1000).outcome, SegmentOutcome::accepted);
    EXPECT_EQ(v.server(A | P, 1400).outcome, SegmentOutcome::accepted);
  }
  EXPECT_EQ(v.up().next, Seq{1001 + 5000});
  EXPECT_EQ(v.down().next, Seq{5001 + 7000});
  EXPECT_EQ(v.up().max_ack, Seq{5001 + 5 * 1400 - 1400});
  EXPECT_EQ(v.down().max_ack, Seq{1001 + 5000});
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpData, RetransmissionAndOverlap) {
  Conv v;
  v.handshake();
  v.client(A | P, 100); // [1001, 1101)
  v.client(A | P, 100); // [1101, 1201)
  StepResult r = v.step(Dir::up, seg(1001, 5001, A | P, 100));
  EXPECT_EQ(r.outcome, SegmentOutcome::retransmission);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.up().next, Seq{1201});
  r = v.step(Dir::up, seg(1150, 5001, A | P, 100)); // half old, half new
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.up().next, Seq{1250});
}

TEST(TcpData, OutOfOrderInsideWindowAccepted) {
  Conv v;
  v.handshake();
  StepResult r = v.step(Dir::up, seg(1001 + 3000, 5001, A | P, 1000)); // a gap before it
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.up().next, Seq{5001});
  r = v.step(Dir::up, seg(1001, 5001, A | P, 1000)); // fills part of the gap
  EXPECT_EQ(r.outcome, SegmentOutcome::retransmission);
  EXPECT_TRUE(r.forward);
}

TEST(TcpData, PastTheRightEdgeDropped) {
  Conv v;
  v.swin = 1000;
  v.handshake();
  // The server offered [1001, 2001): 1000 bytes fit, 1001 do not.
  StepResult r = v.step(Dir::up, seg(1001, 5001, A | P, 1001));
  EXPECT_EQ(r.outcome, SegmentOutcome::out_of_window);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(r.policy, Policy::none);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(v.up().next, Seq{1001});
  r = v.step(Dir::up, seg(2002, 5001, A | P, 1));
  EXPECT_EQ(r.outcome, SegmentOutcome::out_of_window);
  EXPECT_EQ(v.client(A | P, 1000).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpData, ZeroWindowProbe) {
  Conv v;
  v.handshake();
  v.client(A | P, 1000);
  v.swin = 0;
  EXPECT_EQ(v.server(A).outcome, SegmentOutcome::accepted); // acks 2001, window 0
  // The right edge stays at the highest ever offered (1001 + 65535): shrinking
  // is the receiver's business; bytes it had allowed are still acceptable.
  EXPECT_EQ(v.down().window_end, Seq{1001 + 65535});
  EXPECT_EQ(v.down().window, 0u);
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 65535, 5001, A, 1)).outcome, SegmentOutcome::accepted); // probe at the edge
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 65535, 5001, A, 2)).outcome, SegmentOutcome::out_of_window);
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 65536, 5001, A, 1)).outcome, SegmentOutcome::out_of_window);
}

TEST(TcpData, WindowShrinkKeepsOfferedBytes) {
  Conv v;
  v.handshake();
  v.swin = 100;
  v.server(A); // right edge stays 1001 + 65535
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 60000)).outcome, SegmentOutcome::accepted);
}

TEST(TcpData, FarBehindDropped) {
  Conv v;
  v.handshake();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(v.client(A | P, 1000).outcome, SegmentOutcome::accepted);
    ASSERT_EQ(v.server(A).outcome, SegmentOutcome::accepted);
  }
  // More than the receiver's largest window (65535) behind the sender's next:
  // nothing that old can still be retransmitted.
  const uint32_t next = v.cnext;
  EXPECT_EQ(v.step(Dir::up, seg(next - 70000, v.snext, A | P, 1000)).outcome, SegmentOutcome::out_of_window);
  EXPECT_EQ(v.step(Dir::up, seg(next - 65535, v.snext, A | P, 1000)).outcome, SegmentOutcome::retransmission);
}

TEST(TcpData, KeepAliveForwarded) {
  // Haka bug 3: keep-alives were dropped as retransmissions.
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.server(A);
  for (uint32_t len : {0u, 1u}) {
    const StepResult r = v.step(Dir::up, seg(v.cnext - 1, v.snext, A, len), 30 * kSec);
    EXPECT_EQ(r.outcome, SegmentOutcome::keepalive) << len;
    EXPECT_TRUE(r.forward);
    EXPECT_EQ(v.c.last_seen, v.now); // keeps the connection alive
  }
  // Server-side keep-alive too.
  EXPECT_EQ(v.step(Dir::down, seg(v.snext - 1, v.cnext, A)).outcome, SegmentOutcome::keepalive);
  EXPECT_EQ(v.up().next, Seq{v.cnext});
  // Their ACKs.
  EXPECT_EQ(v.server(A).outcome, SegmentOutcome::accepted);
}

TEST(TcpData, AckOfUnsentDataDropped) {
  Conv v;
  v.handshake();
  v.server(A | P, 100); // server next 5101
  StepResult r = v.step(Dir::up, seg(1001, 5102, A));
  EXPECT_EQ(r.outcome, SegmentOutcome::bad_ack);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(v.up().max_ack, Seq{5001});
  r = v.step(Dir::up, seg(1001, 5101 + 0x10000000, A | P, 10));
  EXPECT_EQ(r.outcome, SegmentOutcome::bad_ack);
  EXPECT_EQ(v.up().next, Seq{1001}); // nothing recorded from a rejected segment
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5101, A)).outcome, SegmentOutcome::accepted);
}

TEST(TcpData, OldAckBeyondMaxWindowDropped) {
  Conv v;
  v.cwin = 1000;
  v.handshake();
  for (int i = 0; i < 10; ++i) { // the client acks up to 15001, window 1000
    ASSERT_EQ(v.server(A | P, 1000).outcome, SegmentOutcome::accepted);
    ASSERT_EQ(v.client(A).outcome, SegmentOutcome::accepted);
  }
  // RFC 5961 §5: ACK below SND.UNA - MAX.SND.WND (15001 - 1000).
  EXPECT_EQ(v.step(Dir::up, seg(1001, 13000, A)).outcome, SegmentOutcome::bad_ack);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 14001, A)).outcome, SegmentOutcome::accepted); // a duplicate, old ACK
}

TEST(TcpData, SegmentWithoutAckDropped) {
  Conv v;
  v.handshake();
  const StepResult r = v.step(Dir::up, seg(1001, 0, P, 100));
  EXPECT_EQ(r.outcome, SegmentOutcome::no_ack);
  EXPECT_EQ(r.policy, Policy::unexpected_packet);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_EQ(v.up().next, Seq{1001});
  EXPECT_EQ(v.step(Dir::down, seg(5001, 0, F)).outcome, SegmentOutcome::no_ack);
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpData, WindowScalingWhenBothOffer) {
  Conv v;
  v.swin = 1000;
  v.handshake(7, 9);
  EXPECT_TRUE(v.c.has(conn_flag::scaling));
  EXPECT_EQ(v.up().wscale, 7);
  EXPECT_EQ(v.down().wscale, 9);
  // The SYN+ACK's window is not scaled: right edge 1001 + 1000 so far.
  EXPECT_EQ(v.down().window_end, Seq{2001});
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 1001)).outcome, SegmentOutcome::out_of_window);
  // The server's next window is scaled by 2^9: 1000 << 9 = 512000.
  EXPECT_EQ(v.server(A).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.down().window, 512000u);
  EXPECT_EQ(v.down().window_end, Seq{1001 + 512000});
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 500000, 5001, A | P, 12000)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 510000, 5001, A | P, 3000)).outcome, SegmentOutcome::out_of_window);
}

TEST(TcpData, NoScalingUnlessBothOffer) {
  for (auto [cws, sws] : {std::pair{7, -1}, std::pair{-1, 7}}) {
    Conv v;
    v.swin = 1000;
    v.handshake(cws, sws);
    EXPECT_FALSE(v.c.has(conn_flag::scaling));
    EXPECT_EQ(v.up().wscale, 0);
    EXPECT_EQ(v.down().wscale, 0);
    v.server(A);
    EXPECT_EQ(v.down().window, 1000u);
    EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 1001)).outcome, SegmentOutcome::out_of_window);
  }
}

TEST(TcpData, WindowShiftClampedTo14) {
  Conv v;
  v.handshake(20, 15);
  EXPECT_EQ(v.up().wscale, 14);
  EXPECT_EQ(v.down().wscale, 14);
}

TEST(TcpData, SynOnEstablishedConnection) {
  Conv v;
  v.handshake();
  // The same SYN again (a late duplicate): forwarded.
  EXPECT_EQ(v.step(Dir::up, syn(1000)).outcome, SegmentOutcome::syn_retransmitted);
  // The same SYN+ACK again (our client's ACK was lost after us).
  EXPECT_EQ(v.step(Dir::down, synack(5000, 1001)).outcome, SegmentOutcome::synack_retransmitted);
  // A new SYN outside the window: forwarded for the challenge ACK (RFC 5961 §4).
  StepResult r = v.step(Dir::up, syn(0x80000000u));
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_in_established);
  EXPECT_TRUE(r.forward);
  // Inside the server's window: dropped, an RFC 793 stack would reset on it.
  r = v.step(Dir::up, syn(1001 + 100));
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_in_window);
  EXPECT_FALSE(r.forward);
  r = v.step(Dir::down, synack(5001 + 10, 1001));
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_in_window);
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_EQ(v.up().isn, Seq{1000});
  EXPECT_EQ(v.client(A | P, 10).outcome, SegmentOutcome::accepted);
}

TEST(TcpData, IsnNearWrapWithDataAcrossZero) {
  Conv v(0xFFFFFF00u, 0xFFFFFFF0u);
  v.handshake(7, 7);
  EXPECT_EQ(v.up().next, Seq{0xFFFFFF01u});
  for (int i = 0; i < 4; ++i) ASSERT_EQ(v.client(A | P, 100).outcome, SegmentOutcome::accepted) << i; // crosses 0
  EXPECT_EQ(v.up().next, Seq{0xFFFFFF01u + 400});
  EXPECT_EQ(v.up().next.value(), 0x91u);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(v.server(A | P, 10).outcome, SegmentOutcome::accepted) << i; // crosses 0
  EXPECT_EQ(v.down().next.value(), 0x19u);
  EXPECT_EQ(v.down().max_ack.value(), 0x91u);
  EXPECT_EQ(v.up().max_ack.value(), 0xFFFFFFF1u); // the client has not acked the server's data yet
  // Retransmission of the segment straddling 0.
  EXPECT_EQ(v.step(Dir::up, seg(0xFFFFFFC9u, 0x19, A | P, 100)).outcome, SegmentOutcome::retransmission);
  // Acks across the wrap: unsent data still detected.
  EXPECT_EQ(v.step(Dir::up, seg(0x91, 0x1A, A)).outcome, SegmentOutcome::bad_ack);
  // Keep-alive across the wrap.
  EXPECT_EQ(v.step(Dir::up, seg(0x90, 0x19, A)).outcome, SegmentOutcome::keepalive);
  // Out of window across the wrap.
  EXPECT_EQ(v.step(Dir::up, seg(0x91 + 0x01000000, 0x19, A | P, 10)).outcome, SegmentOutcome::out_of_window);
  // Close and RST checks after the wrap.
  EXPECT_EQ(v.client(A | F).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.up().fin_seq.value(), 0x91u);
  EXPECT_EQ(v.server(A | F).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::closing);
  EXPECT_EQ(v.client(A).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::timed_wait);
}

TEST(TcpData, IsnExactlyAtWrapPoint) {
  Conv v(0xFFFFFFFFu, 0xFFFFFFFFu);
  v.handshake();
  EXPECT_EQ(v.up().next.value(), 0u);
  EXPECT_EQ(v.down().next.value(), 0u);
  EXPECT_EQ(v.client(A | P, 10).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.server(A | P, 10).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.step(Dir::up, seg(0, 10, A)).outcome, SegmentOutcome::accepted); // a late pure ACK
  EXPECT_EQ(v.step(Dir::up, seg(0, 10, A | P, 10)).outcome, SegmentOutcome::retransmission);
  EXPECT_EQ(v.step(Dir::up, seg(0, 11, A)).outcome, SegmentOutcome::bad_ack);
}

TEST(TcpData, WindowChecksOffIsHakaPermissive) {
  Conv v;
  v.cfg.window_checks = false;
  v.swin = 100;
  v.handshake();
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 0x100000, 5001, A | P, 10)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 0x7000, A)).outcome, SegmentOutcome::accepted); // acks unsent data
  EXPECT_EQ(v.step(Dir::down, seg(0x12345678, 0, R)).outcome, SegmentOutcome::rst_accepted);
  EXPECT_EQ(v.c.state, State::reset);
}

TEST(TcpData, SpoofedSegmentsNeverChangeTheConnection) {
  // A blind attacker knows the tuple, not the sequence numbers: whatever it
  // sends must leave the connection as it was (at most forwarded for the
  // receiver to judge).
  Conv v;
  v.handshake(); // unscaled 64 KiB windows: a random seq lands in one with p = 2^-16
  v.client(A | P, 500);
  v.server(A | P, 500);
  const Connection before = v.c;
  std::mt19937 rng(12345);
  int forwarded = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint8_t flags = static_cast<uint8_t>(rng()) & (F | S | R | P | A);
    SegmentView s = seg(rng(), rng(), flags, rng() % 1500, static_cast<uint16_t>(rng()));
    const Dir d = (rng() & 1) ? Dir::up : Dir::down;
    const StepResult r = v.step(d, s);
    forwarded += r.forward;
    ASSERT_EQ(v.c.state, State::established) << i << " " << outcome_name(r.outcome);
    ASSERT_EQ(r.events, 0) << i;
    ASSERT_FALSE(r.restart);
    if (r.forward) {
      ASSERT_TRUE(r.outcome == SegmentOutcome::syn_in_established || r.outcome == SegmentOutcome::rst_in_window)
          << outcome_name(r.outcome);
    }
  }
  EXPECT_EQ(std::memcmp(&before.ep, &v.c.ep, sizeof before.ep), 0);
  EXPECT_EQ(before.last_seen, v.c.last_seen);
  EXPECT_GT(forwarded, 0); // SYNs for the challenge ACK
}

} // namespace
} // namespace haka::tcp
