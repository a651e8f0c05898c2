// Closing: Haka's fin_wait_1, fin_wait_2, closing, timed_wait with the
// input/output swap, and restart from timed_wait.
#include <gtest/gtest.h>

#include "tcp_test_util.hpp"

namespace haka::tcp {
namespace {

using namespace test;

TEST(TcpClose, ClientFirst) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.server(A | P, 200);
  StepResult r = v.client(A | F);
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.c.input(), Dir::up);
  EXPECT_FALSE(r.has(tcp_event::end_connection));
  r = v.server(A); // acks the FIN
  EXPECT_EQ(v.c.state, State::fin_wait_2);
  r = v.server(A | F);
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(r.end, EndReason::fin);
  EXPECT_FALSE(r.has(tcp_event::finished));
  r = v.client(A); // the last ACK
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_EQ(v.c.end, EndReason::fin);
}

TEST(TcpClose, ServerFirstSwapsInputAndOutput) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  StepResult r = v.server(A | F);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_TRUE(v.c.has(conn_flag::swapped));
  EXPECT_EQ(v.c.input(), Dir::down);
  EXPECT_EQ(v.c.output(), Dir::up);
  r = v.client(A);
  EXPECT_EQ(v.c.state, State::fin_wait_2);
  r = v.client(A | F);
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(r.end, EndReason::fin);
  EXPECT_EQ(v.server(A).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::timed_wait);
}

TEST(TcpClose, FinAckAnswerGoesThroughClosing) {
  // Haka: output FIN+ACK in fin_wait_1 -> closing; input ACK -> timed_wait.
  Conv v;
  v.handshake();
  v.client(A | F);
  StepResult r = v.server(A | F); // acks the client's FIN and closes
  EXPECT_EQ(v.c.state, State::closing);
  EXPECT_FALSE(r.has(tcp_event::end_connection));
  r = v.client(A);
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(r.end, EndReason::fin);
}

TEST(TcpClose, SimultaneousClose) {
  Conv v;
  v.handshake();
  // Both FINs cross: neither acks the other's.
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | F)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.step(Dir::down, seg(5001, 1001, A | F)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::closing);
  // The responder's ACK of the first FIN does not end it; the first closer's ACK does.
  EXPECT_EQ(v.step(Dir::down, seg(5002, 1002, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::closing);
  const StepResult r = v.step(Dir::up, seg(1002, 5002, A));
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_EQ(r.end, EndReason::fin);
}

TEST(TcpClose, FinWait1NeedsTheAckOfTheFin) {
  Conv v;
  v.handshake();
  v.server(A | P, 100);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5101, A | F)).outcome, SegmentOutcome::accepted);
  // Server data crossing the FIN, acking only what came before it.
  EXPECT_EQ(v.step(Dir::down, seg(5101, 1001, A | P, 50)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.step(Dir::down, seg(5151, 1002, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_2);
}

TEST(TcpClose, ClosingNeedsTheAckOfTheSecondFin) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A | F);
  ASSERT_EQ(v.c.state, State::closing);
  // The client retransmits its FIN (acking only up to the server's FIN).
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | F)).outcome, SegmentOutcome::retransmission);
  EXPECT_EQ(v.c.state, State::closing);
  EXPECT_EQ(v.step(Dir::up, seg(1002, 5002, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::timed_wait);
}

TEST(TcpClose, RetransmittedFinKeepsFinWait1) {
  // Haka: input FIN+ACK in fin_wait_1 -> closing, even for the closer's own
  // retransmitted FIN.
  Conv v;
  v.handshake();
  v.client(A | F);
  const StepResult r = v.step(Dir::up, seg(1001, 5001, A | F));
  EXPECT_EQ(r.outcome, SegmentOutcome::retransmission);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
}

TEST(TcpClose, HalfCloseKeepsDataFlowing) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A);
  ASSERT_EQ(v.c.state, State::fin_wait_2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(v.server(A | P, 1000).outcome, SegmentOutcome::accepted);
    EXPECT_EQ(v.client(A).outcome, SegmentOutcome::accepted);
    EXPECT_EQ(v.c.state, State::fin_wait_2);
  }
  EXPECT_EQ(v.server(A | F).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::timed_wait);
}

TEST(TcpClose, DataPastFinDropped) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.client(A | F); // FIN at 1101
  StepResult r = v.step(Dir::up, seg(1102, 5001, A | P, 10));
  EXPECT_EQ(r.outcome, SegmentOutcome::out_of_window);
  EXPECT_FALSE(r.forward);
  r = v.step(Dir::up, seg(1095, 5001, A | P, 10)); // overlaps the FIN position
  EXPECT_EQ(r.outcome, SegmentOutcome::out_of_window);
  // A retransmission before the FIN is fine.
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 100)).outcome, SegmentOutcome::retransmission);
}

TEST(TcpClose, SecondFinElsewhereIsUnexpected) {
  Conv v;
  v.handshake();
  v.client(A | P, 100);
  v.client(A | F); // FIN at 1101
  const StepResult r = v.step(Dir::up, seg(1051, 5001, A | F));
  EXPECT_EQ(r.outcome, SegmentOutcome::unexpected);
  EXPECT_EQ(r.policy, Policy::unexpected_packet);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.up().fin_seq, Seq{1101});
}

TEST(TcpClose, OutOfOrderFinStillTracked) {
  // The FIN arrives before the data preceding it: the state moves on; the
  // missing bytes that arrive later are forwarded for the stream layer.
  Conv v;
  v.handshake();
  EXPECT_EQ(v.step(Dir::up, seg(1101, 5001, A | F)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.up().fin_seq, Seq{1101});
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A | P, 100)).outcome, SegmentOutcome::retransmission);
  EXPECT_EQ(v.step(Dir::down, seg(5001, 1102, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_2);
}

TEST(TcpTimedWait, NewSynFromClientRestarts) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A | F);
  v.client(A);
  ASSERT_EQ(v.c.state, State::timed_wait);
  const StepResult r = v.step(Dir::up, syn(900000), kSec);
  EXPECT_EQ(r.outcome, SegmentOutcome::restart);
  EXPECT_TRUE(r.restart);
  EXPECT_FALSE(r.forward);
  EXPECT_TRUE(r.has(tcp_event::finished));
  EXPECT_FALSE(r.has(tcp_event::end_connection)); // fired on entering timed_wait
  EXPECT_EQ(v.c.state, State::finish);
  // The engine then opens the new connection with the same SYN.
  Connection fresh;
  EXPECT_EQ(open(fresh, syn(900000), v.now, v.cfg).outcome, SegmentOutcome::opened);
  EXPECT_EQ(fresh.state, State::syn_sent);
}

TEST(TcpTimedWait, NewSynFromServerSideRestartsToo) {
  // Haka: a SYN from the output side (responder closed first, the client's
  // SYN) was an invalid handshake that killed the entry.
  Conv v;
  v.handshake();
  v.server(A | F);
  v.client(A | F);
  v.server(A);
  ASSERT_EQ(v.c.state, State::timed_wait);
  ASSERT_EQ(v.c.input(), Dir::down);
  const StepResult r = v.step(Dir::up, syn(900000));
  EXPECT_EQ(r.outcome, SegmentOutcome::restart);
  EXPECT_TRUE(r.restart);
  Conv w;
  w.handshake();
  w.client(A | F);
  w.server(A | F);
  w.client(A);
  EXPECT_EQ(w.step(Dir::down, syn(42)).outcome, SegmentOutcome::restart);
}

TEST(TcpTimedWait, OldSynAndOtherSegments) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A | F);
  v.client(A);
  EXPECT_EQ(v.step(Dir::up, syn(1000)).outcome, SegmentOutcome::syn_retransmitted); // the old SYN
  EXPECT_EQ(v.step(Dir::down, seg(5001, 1002, A | F)).outcome, SegmentOutcome::retransmission); // FIN again
  EXPECT_EQ(v.step(Dir::up, seg(1002, 5002, A)).outcome, SegmentOutcome::accepted);
  StepResult r = v.step(Dir::up, seg(1002, 0, 0));
  EXPECT_EQ(r.outcome, SegmentOutcome::no_ack);
  EXPECT_EQ(r.policy, Policy::unexpected_packet);
  EXPECT_EQ(v.step(Dir::up, seg(1002, 5002, A | P, 10)).outcome, SegmentOutcome::out_of_window);
  // SYN+ACK that is not the connection's own: forwarded or dropped, never restarts.
  r = v.step(Dir::down, synack(123456, 1002));
  EXPECT_NE(r.outcome, SegmentOutcome::restart);
  EXPECT_EQ(v.c.state, State::timed_wait);
}

TEST(TcpTimedWait, ExactRstResetsWithoutSecondEnd) {
  Conv v;
  v.handshake();
  v.client(A | F);
  v.server(A | F);
  v.client(A);
  const StepResult r = v.step(Dir::down, seg(5002, 0, R));
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_accepted);
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_FALSE(r.has(tcp_event::end_connection));
  EXPECT_EQ(v.c.end, EndReason::fin);
}

TEST(TcpLifecycle, TwoConnectionsOnOneTuple) {
  // handshake, data both ways, client-first close, timed_wait, restart by a
  // new SYN, and a second full life on the same entry.
  Conv v;
  v.handshake(7, 7);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(v.client(A | P, 300).outcome, SegmentOutcome::accepted);
    ASSERT_EQ(v.server(A | P, 3000).outcome, SegmentOutcome::accepted);
  }
  v.client(A | F);
  v.server(A);
  v.server(A | F);
  v.client(A);
  ASSERT_EQ(v.c.state, State::timed_wait);
  StepResult r = v.step(Dir::up, syn(77777), 2 * kSec);
  ASSERT_TRUE(r.restart);
  Conv w(77777, 88888);
  w.now = v.now;
  w.handshake();
  EXPECT_EQ(w.server(A | P, 10).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(w.server(A | F).outcome, SegmentOutcome::accepted);
  EXPECT_TRUE(w.c.has(conn_flag::swapped));
  EXPECT_EQ(w.client(A | F).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(w.c.state, State::closing);
  r = w.server(A);
  EXPECT_EQ(w.c.state, State::timed_wait);
  EXPECT_EQ(r.end, EndReason::fin);
}

} // namespace
} // namespace haka::tcp
