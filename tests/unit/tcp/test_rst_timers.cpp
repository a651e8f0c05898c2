// RST (RFC 5961 §3.2), reset state, timeouts per state, drop().
#include <gtest/gtest.h>

#include "tcp_test_util.hpp"

namespace haka::tcp {
namespace {

using namespace test;

TEST(TcpRst, ExactFromEitherSideResets) {
  for (Dir d : {Dir::up, Dir::down}) {
    Conv v;
    v.handshake();
    v.client(A | P, 100);
    v.server(A | P, 100);
    const uint32_t next = d == Dir::up ? v.cnext : v.snext;
    const StepResult r = v.step(d, seg(next, 0, R), kSec);
    EXPECT_EQ(r.outcome, SegmentOutcome::rst_accepted);
    EXPECT_TRUE(r.forward);
    EXPECT_TRUE(r.has(tcp_event::end_connection));
    EXPECT_FALSE(r.has(tcp_event::finished)); // kept for the reset timeout
    EXPECT_EQ(r.end, EndReason::rst);
    EXPECT_EQ(v.c.state, State::reset);
    EXPECT_EQ(v.c.last_seen, v.now);
  }
}

TEST(TcpRst, ExactAtTheReceiversLastAck) {
  // The client sent 300 bytes; the server acked 100 of them. The client's
  // RST answering a challenge ACK carries exactly the server's last ACK.
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.server(A);
  v.client(A | P, 200);
  EXPECT_EQ(v.step(Dir::up, seg(1101, 0, R | A, 0)).outcome, SegmentOutcome::rst_accepted);
}

TEST(TcpRst, InWindowForwardedStateKept) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.server(A);
  const uint64_t seen = v.c.last_seen;
  StepResult r = v.step(Dir::up, seg(1101 + 1000, 0, R), kSec);
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_in_window);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_EQ(v.c.last_seen, seen);
  r = v.step(Dir::down, seg(5001 + 65534, 0, R));
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_in_window);
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpRst, OutOfWindowDropped) {
  Conv v;
  v.handshake();
  for (uint32_t seq : {1001u + 65535u, 1000u, 0u, 0x80000000u, 1001u - 70000u}) {
    const StepResult r = v.step(Dir::up, seg(seq, 0, R));
    EXPECT_EQ(r.outcome, SegmentOutcome::rst_out_of_window) << seq;
    EXPECT_FALSE(r.forward);
    EXPECT_EQ(v.c.state, State::established);
  }
}

TEST(TcpRst, InClosingStates) {
  Conv v;
  v.handshake();
  v.client(A | F);
  ASSERT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.step(Dir::down, seg(5001 + 5000, 0, R)).outcome, SegmentOutcome::rst_in_window);
  EXPECT_EQ(v.step(Dir::down, seg(5001 + 70000, 0, R)).outcome, SegmentOutcome::rst_out_of_window);
  const StepResult r = v.step(Dir::down, seg(5001, 0, R));
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_accepted);
  EXPECT_EQ(r.end, EndReason::rst);
  EXPECT_EQ(v.c.state, State::reset);
}

TEST(TcpReset, LaterSegmentsDroppedSilentlyNewSynRestarts) {
  Conv v;
  v.handshake();
  v.step(Dir::up, seg(1001, 0, R));
  ASSERT_EQ(v.c.state, State::reset);
  for (const SegmentView& s : {seg(1001, 5001, A | P, 10), seg(5001, 1001, A), synack(5000, 1001), seg(1001, 0, R)}) {
    const StepResult r = v.step(Dir::up, s);
    EXPECT_EQ(r.outcome, SegmentOutcome::after_close);
    EXPECT_FALSE(r.forward);
    EXPECT_EQ(r.policy, Policy::none);
    EXPECT_EQ(r.events, 0);
  }
  const StepResult r = v.step(Dir::down, syn(3333)); // any side's SYN replaces the entry (Haka)
  EXPECT_EQ(r.outcome, SegmentOutcome::restart);
  EXPECT_TRUE(r.restart);
  EXPECT_TRUE(r.has(tcp_event::finished));
  EXPECT_FALSE(r.has(tcp_event::end_connection));
  EXPECT_EQ(v.c.state, State::finish);
  EXPECT_EQ(v.step(Dir::up, seg(1, 2, A)).outcome, SegmentOutcome::after_close);
}

TEST(TcpTimers, DeadlinePerState) {
  Conv v;
  const uint64_t t0 = v.now;
  v.open();
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 60 * kSec);
  v.now += kSec;
  v.synack_();
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 61 * kSec);
  v.now += kSec;
  v.client(A);
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 2 * kSec + 3600 * kSec);
  v.now += kSec;
  v.client(A | F);
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 3 * kSec + 120 * kSec);
  v.now += kSec;
  v.server(A);
  EXPECT_EQ(v.c.state, State::fin_wait_2);
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 4 * kSec + 120 * kSec);
  v.now += kSec;
  v.server(A | F);
  ASSERT_EQ(v.c.state, State::timed_wait);
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 5 * kSec + 60 * kSec);
  // timed_wait counts from entry: later segments do not push it back.
  v.now += 10 * kSec;
  EXPECT_EQ(v.client(A).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(deadline(v.c, v.cfg), t0 + 5 * kSec + 60 * kSec);
}

TEST(TcpTimers, OnlyAcceptedSegmentsRefresh) {
  Conv v;
  v.handshake();
  const uint64_t due = deadline(v.c, v.cfg);
  v.step(Dir::up, seg(1001 + 1'000'000, 5001, A | P, 10), 100 * kSec); // out of window
  v.step(Dir::up, seg(1001, 9999, A), kSec);                            // bad ack
  v.step(Dir::up, seg(1001, 0, P, 5), kSec);                            // no ack
  v.step(Dir::up, seg(77, 0, R), kSec);                                 // RST out of window
  v.step(Dir::up, seg(1001 + 10, 0, R), kSec);                          // RST in window
  v.step(Dir::up, syn(0x90000000u), kSec);                              // SYN, challenge ACK path
  EXPECT_EQ(deadline(v.c, v.cfg), due);
  v.client(A | P, 1, kSec);
  EXPECT_EQ(deadline(v.c, v.cfg), v.now + 3600 * kSec);
}

TEST(TcpTimers, ExpireBeforeDeadlineChangesNothing) {
  Conv v;
  v.handshake();
  const Connection before = v.c;
  const StepResult r = expire(v.c, deadline(v.c, v.cfg) - 1, v.cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::timer_not_due);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(v.c.state, before.state);
  EXPECT_EQ(v.c.last_seen, before.last_seen);
}

struct ExpireCase {
  const char* name;
  int steps; // how far the lifecycle goes
  State state;
  bool end_event;
  EndReason reason;
};

class TcpExpire : public ::testing::TestWithParam<ExpireCase> {};

TEST_P(TcpExpire, PerState) {
  const ExpireCase& k = GetParam();
  Conv v;
  v.open();
  switch (k.steps) {
  case 8: // both FINs crossed: closing
    v.synack_();
    v.client(A);
    v.step(Dir::up, seg(1001, 5001, A | F));
    v.step(Dir::down, seg(5001, 1001, A | F));
    break;
  case 7:
  case 6:
    v.synack_();
    v.client(A);
    if (k.steps == 6) v.step(Dir::up, seg(v.cnext, 0, R));
    else drop(v.c, v.now);
    break;
  default:
    if (k.steps >= 1) v.synack_();
    if (k.steps >= 2) v.client(A);
    if (k.steps >= 3) v.client(A | F);
    if (k.steps >= 4) v.server(A);
    if (k.steps >= 5) v.server(A | F);
  }
  ASSERT_EQ(v.c.state, k.state) << k.name;
  const StepResult r = expire(v.c, deadline(v.c, v.cfg), v.cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::timed_out);
  EXPECT_TRUE(r.has(tcp_event::finished));
  EXPECT_EQ(r.has(tcp_event::end_connection), k.end_event);
  EXPECT_EQ(r.end, k.end_event ? k.reason : EndReason::none);
  EXPECT_EQ(v.c.end, k.reason);
  EXPECT_EQ(v.c.state, State::finish);
  EXPECT_EQ(deadline(v.c, v.cfg), v.c.last_seen); // due at once
  EXPECT_EQ(step(v.c, Dir::up, seg(1, 2, A), v.now, v.cfg).outcome, SegmentOutcome::after_close);
}

INSTANTIATE_TEST_SUITE_P(
    States, TcpExpire,
    ::testing::Values(ExpireCase{"syn_sent", 0, State::syn_sent, true, EndReason::timeout},
                      ExpireCase{"syn_received", 1, State::syn_received, true, EndReason::timeout},
                      ExpireCase{"established", 2, State::established, true, EndReason::timeout},
                      ExpireCase{"fin_wait_1", 3, State::fin_wait_1, true, EndReason::timeout},
                      ExpireCase{"fin_wait_2", 4, State::fin_wait_2, true, EndReason::timeout},
                      ExpireCase{"timed_wait", 5, State::timed_wait, false, EndReason::fin},
                      ExpireCase{"reset", 6, State::reset, false, EndReason::rst},
                      ExpireCase{"dropped", 7, State::reset, false, EndReason::dropped},
                      ExpireCase{"closing_both_fins", 8, State::closing, true, EndReason::fin}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TcpTimers, CustomTimeouts) {
  Conv v;
  v.cfg.established_ns = 5 * kSec;
  v.handshake();
  EXPECT_EQ(expire(v.c, v.now + 4 * kSec, v.cfg).outcome, SegmentOutcome::timer_not_due);
  const StepResult r = expire(v.c, v.now + 5 * kSec, v.cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::timed_out);
  EXPECT_EQ(r.end, EndReason::timeout);
}

TEST(TcpDrop, DropsTheConnectionKeepsTheEntry) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  StepResult r = drop(v.c, v.now + kSec);
  EXPECT_EQ(r.outcome, SegmentOutcome::dropped);
  EXPECT_FALSE(r.forward);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_FALSE(r.has(tcp_event::finished));
  EXPECT_EQ(r.end, EndReason::dropped);
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_TRUE(v.c.has(conn_flag::dropped));
  EXPECT_EQ(deadline(v.c, v.cfg), v.now + kSec + 60 * kSec);
  // Later packets vanish silently (Haka: 30 s later, still dropped).
  EXPECT_EQ(v.step(Dir::down, seg(5001, 1101, A), 30 * kSec).outcome, SegmentOutcome::after_close);
  // A second drop is a no-op.
  r = drop(v.c, v.now);
  EXPECT_EQ(r.outcome, SegmentOutcome::dropped);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(expire(v.c, v.now + 31 * kSec, v.cfg).outcome, SegmentOutcome::timed_out);
  EXPECT_EQ(v.c.state, State::finish);
}

TEST(TcpDrop, WithoutTimeUsesLastSegment) {
  Conv v;
  v.handshake();
  v.client(A | P, 100, 5 * kSec);
  const uint64_t t = v.now;
  drop(v.c);
  EXPECT_EQ(deadline(v.c, v.cfg), t + 60 * kSec);
}

TEST(TcpDrop, RuleErrorReason) {
  // DESIGN: a rule error drops the connection; the engine names the reason.
  Conv v;
  v.handshake();
  const StepResult r = drop(v.c, v.now, EndReason::error);
  EXPECT_EQ(r.end, EndReason::error);
  EXPECT_EQ(v.c.end, EndReason::error);
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 5)).outcome, SegmentOutcome::after_close);
}

TEST(TcpDrop, InTimedWaitNoSecondEnd) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A | F);
  v.client(A);
  const StepResult r = drop(v.c, v.now);
  EXPECT_FALSE(r.has(tcp_event::end_connection));
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_EQ(v.c.end, EndReason::fin);
}

TEST(TcpDrop, DuringHandshake) {
  Conv v;
  v.open();
  const StepResult r = drop(v.c, v.now);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_EQ(v.step(Dir::down, synack(5000, 1001)).outcome, SegmentOutcome::after_close);
}

} // namespace
} // namespace haka::tcp
