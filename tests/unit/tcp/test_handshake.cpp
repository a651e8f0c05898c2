// Opening: syn, syn_sent, syn_received, simultaneous open, midstream pickup.
#include <gtest/gtest.h>

#include "tcp_test_util.hpp"

namespace haka::tcp {
namespace {

using namespace test;

TEST(TcpOpen, OnlySynWithoutAckOpens) {
  TrackerConfig cfg;
  EXPECT_TRUE(opens_connection(seg(1, 0, S), cfg));
  EXPECT_TRUE(opens_connection(seg(1, 0, S | P, 10), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 2, S | A), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 2, A), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 2, A | P, 10), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 0, R), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 0, S | R), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 2, F | A), cfg));
  cfg.midstream = true;
  EXPECT_TRUE(opens_connection(seg(1, 2, A), cfg));
  EXPECT_TRUE(opens_connection(seg(1, 2, A | P, 10), cfg));
  EXPECT_TRUE(opens_connection(seg(1, 2, S | A), cfg));
  EXPECT_FALSE(opens_connection(seg(1, 2, R | A), cfg));
}

TEST(TcpOpen, SynMovesToSynSent) {
  Conv v;
  const StepResult r = v.open();
  EXPECT_EQ(r.outcome, SegmentOutcome::opened);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(r.policy, Policy::none);
  EXPECT_TRUE(r.has(tcp_event::opened));
  EXPECT_TRUE(r.has(tcp_event::state_changed));
  EXPECT_FALSE(r.has(tcp_event::established));
  EXPECT_EQ(v.c.state, State::syn_sent);
  EXPECT_EQ(v.up().isn, Seq{1000});
  EXPECT_EQ(v.up().next, Seq{1001});
  EXPECT_EQ(v.up().mss, 1460);
  EXPECT_TRUE(v.up().has(ep_flag::syn));
  EXPECT_EQ(v.c.input(), Dir::up);
  EXPECT_EQ(v.c.last_seen, v.now);
}

TEST(TcpOpen, FullHandshake) {
  Conv v;
  v.open();
  StepResult r = v.synack_();
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_EQ(v.down().isn, Seq{5000});
  EXPECT_EQ(v.down().max_ack, Seq{1001});
  EXPECT_EQ(v.down().window_end, Seq{1001 + 65535});
  r = v.client(A);
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_TRUE(r.has(tcp_event::established));
  EXPECT_TRUE(v.c.has(conn_flag::established_once));
  EXPECT_EQ(v.up().max_ack, Seq{5001});
  // Later segments do not signal established again.
  r = v.client(A | P, 10);
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_FALSE(r.has(tcp_event::established));
  EXPECT_FALSE(r.has(tcp_event::state_changed));
}

TEST(TcpOpen, HakaInitialStateSyn) {
  // A connection never opened with open() starts in Haka's state syn.
  TrackerConfig cfg;
  Connection c;
  EXPECT_EQ(c.state, State::syn);
  StepResult r = step(c, Dir::up, seg(1, 0, A), 1, cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::invalid_handshake);
  EXPECT_EQ(r.policy, Policy::invalid_handshake);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(c.state, State::syn);
  r = step(c, Dir::up, syn(77), 1, cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::opened);
  EXPECT_EQ(c.state, State::syn_sent);
  EXPECT_EQ(c.endpoint(Dir::up).isn, Seq{77});
}

TEST(TcpSynSent, RetransmittedSynForwarded) {
  Conv v;
  v.open();
  const StepResult r = v.step(Dir::up, syn(1000), kSec);
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_retransmitted);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(r.events, 0);
  EXPECT_EQ(v.c.state, State::syn_sent);
  EXPECT_EQ(v.c.last_seen, v.now);
}

TEST(TcpSynSent, SynWithNewIsnRestarts) {
  Conv v;
  v.open();
  const StepResult r = v.step(Dir::up, syn(9999));
  EXPECT_EQ(r.outcome, SegmentOutcome::restart);
  EXPECT_TRUE(r.restart);
  EXPECT_FALSE(r.forward);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(r.end, EndReason::restart);
  EXPECT_TRUE(r.has(tcp_event::finished));
  EXPECT_EQ(v.c.state, State::finish);
}

TEST(TcpSynSent, SynAckMustAckTheSyn) {
  Conv v;
  v.open();
  for (uint32_t bad : {1000u, 999u, 1002u, 0u, 1001u + 0x80000000u}) {
    const StepResult r = v.step(Dir::down, synack(5000, bad));
    EXPECT_EQ(r.outcome, SegmentOutcome::bad_ack) << bad;
    EXPECT_FALSE(r.forward);
    EXPECT_EQ(v.c.state, State::syn_sent);
  }
  EXPECT_EQ(v.synack_().outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::syn_received);
}

TEST(TcpSynSent, SynDataAckedOrNot) {
  // A SYN carrying data (TCP Fast Open): the SYN+ACK may ack the SYN alone
  // or the data too.
  for (uint32_t ack : {1001u, 1011u}) {
    TrackerConfig cfg;
    Connection c;
    SegmentView s = syn(1000);
    s.len = 10;
    open(c, s, 1, cfg);
    EXPECT_EQ(c.endpoint(Dir::up).next, Seq{1011});
    EXPECT_EQ(step(c, Dir::down, synack(5000, ack), 1, cfg).outcome, SegmentOutcome::accepted);
    EXPECT_EQ(step(c, Dir::down, synack(7000, 1012), 1, cfg).outcome, SegmentOutcome::invalid_handshake);
  }
}

TEST(TcpSynSent, OtherSegmentsAreInvalidHandshake) {
  Conv v;
  v.open();
  struct Case {
    Dir d;
    SegmentView s;
  } cases[] = {
      {Dir::up, seg(1001, 0, A)},             // ACK before the SYN+ACK
      {Dir::up, seg(1001, 0, P, 10)},         // data before the SYN+ACK
      {Dir::up, synack(1000, 5001)},          // the initiator sends SYN+ACK
      {Dir::down, seg(5000, 1001, A)},        // the responder ACKs without SYN
      {Dir::down, seg(5000, 1001, A | P, 5)}, // or sends data
      {Dir::up, seg(1001, 0, F)},
  };
  for (const auto& k : cases) {
    const StepResult r = v.step(k.d, k.s);
    EXPECT_EQ(r.outcome, SegmentOutcome::invalid_handshake);
    EXPECT_EQ(r.policy, Policy::invalid_handshake);
    EXPECT_FALSE(r.forward);
    EXPECT_EQ(r.events, 0);
    EXPECT_EQ(v.c.state, State::syn_sent);
  }
}

TEST(TcpSynSent, CloseOnUnexpectedEndsTheConnection) {
  Conv v;
  v.cfg.close_on_unexpected = true;
  v.open();
  const StepResult r = v.step(Dir::down, seg(5000, 1001, A));
  EXPECT_EQ(r.outcome, SegmentOutcome::invalid_handshake);
  EXPECT_EQ(r.policy, Policy::invalid_handshake);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_TRUE(r.has(tcp_event::finished));
  EXPECT_EQ(r.end, EndReason::error);
  EXPECT_EQ(v.c.state, State::finish);
}

TEST(TcpSynSent, RstAnsweringTheSynRefuses) {
  Conv v;
  v.open();
  StepResult r = v.step(Dir::down, seg(0, 1001, R)); // no ACK: ignored by the client
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_out_of_window);
  EXPECT_FALSE(r.forward);
  r = v.step(Dir::down, seg(0, 1005, R | A)); // acks something never sent
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_out_of_window);
  r = v.step(Dir::down, seg(0, 1000, R | A)); // acks less than the SYN
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_out_of_window);
  EXPECT_EQ(v.c.state, State::syn_sent);
  r = v.step(Dir::down, seg(0, 1001, R | A));
  EXPECT_EQ(r.outcome, SegmentOutcome::rst_accepted);
  EXPECT_TRUE(r.forward);
  EXPECT_TRUE(r.has(tcp_event::end_connection));
  EXPECT_EQ(r.end, EndReason::refused);
  EXPECT_FALSE(r.has(tcp_event::finished));
  EXPECT_EQ(v.c.state, State::reset);
}

TEST(TcpSynSent, RstFromInitiatorMustBeExact) {
  Conv v;
  v.open();
  EXPECT_EQ(v.step(Dir::up, seg(5555, 0, R)).outcome, SegmentOutcome::rst_out_of_window);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 0, R)).outcome, SegmentOutcome::rst_accepted);
  EXPECT_EQ(v.c.state, State::reset);
  EXPECT_EQ(v.c.end, EndReason::rst);
}

TEST(TcpSynReceived, RetransmittedSynAckForwarded) {
  // Haka bug 11: the retransmitted SYN+ACK was absorbed for ever.
  Conv v;
  v.open();
  v.synack_();
  const StepResult r = v.step(Dir::down, synack(5000, 1001), kSec);
  EXPECT_EQ(r.outcome, SegmentOutcome::synack_retransmitted);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_EQ(v.c.last_seen, v.now);
  EXPECT_EQ(v.client(A).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpSynReceived, RetransmittedSynForwarded) {
  // Haka bug 11: the client's retransmitted SYN killed the flow.
  Conv v;
  v.open();
  v.synack_();
  const StepResult r = v.step(Dir::up, syn(1000));
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_retransmitted);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::syn_received);
}

TEST(TcpSynReceived, NewClientSynForwardedStateKept) {
  Conv v;
  v.open();
  v.synack_();
  const StepResult r = v.step(Dir::up, syn(0x70000000));
  EXPECT_EQ(r.outcome, SegmentOutcome::syn_in_established);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_EQ(v.up().isn, Seq{1000});
}

TEST(TcpSynReceived, InvalidSegments) {
  Conv v;
  v.open();
  v.synack_();
  struct Case {
    Dir d;
    SegmentView s;
  } cases[] = {
      {Dir::down, seg(5001, 1001, A)},         // responder talks before the handshake completes
      {Dir::down, seg(5001, 1001, A | P, 10)},
      {Dir::up, seg(1001, 5001, P, 10)},       // no ACK
      {Dir::up, seg(1001, 0, F)},              // Haka: FIN without ACK -> fin_wait_1; receivers drop it
      {Dir::up, synack(1000, 5001)},           // the initiator sends SYN+ACK
      {Dir::down, synack(6000, 1001)},         // another SYN+ACK
  };
  for (const auto& k : cases) {
    const StepResult r = v.step(k.d, k.s);
    EXPECT_EQ(r.outcome, SegmentOutcome::invalid_handshake);
    EXPECT_EQ(r.policy, Policy::invalid_handshake);
    EXPECT_FALSE(r.forward);
    EXPECT_EQ(v.c.state, State::syn_received);
  }
}

TEST(TcpSynReceived, AckMustCoverTheSynAck) {
  Conv v;
  v.open();
  v.synack_();
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5000, A)).outcome, SegmentOutcome::bad_ack); // acks the ISN only
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5002, A)).outcome, SegmentOutcome::bad_ack); // acks the future
  EXPECT_EQ(v.step(Dir::up, seg(1001, 0, A)).outcome, SegmentOutcome::bad_ack);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_EQ(v.step(Dir::up, seg(1001 + 70000, 5001, A)).outcome, SegmentOutcome::out_of_window);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpSynReceived, AckWithDataAndFinEstablishesThenCloses) {
  Conv v;
  v.open();
  v.synack_();
  const StepResult r = v.client(A | P | F, 20);
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_TRUE(r.has(tcp_event::established));
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.up().fin_seq, Seq{1021});
  EXPECT_EQ(v.up().next, Seq{1022});
}

TEST(TcpSynReceived, RstFromEitherSideMustBeExact) {
  for (Dir d : {Dir::up, Dir::down}) {
    Conv v;
    v.open();
    v.synack_();
    const uint32_t next = d == Dir::up ? 1001 : 5001;
    EXPECT_EQ(v.step(d, seg(next + 0x40000000, 0, R)).outcome, SegmentOutcome::rst_out_of_window);
    EXPECT_EQ(v.step(d, seg(next, 0, R)).outcome, SegmentOutcome::rst_accepted);
    EXPECT_EQ(v.c.state, State::reset);
    EXPECT_EQ(v.c.end, EndReason::rst);
  }
}

TEST(TcpSimultaneousOpen, BothSynsThenBothSynAcks) {
  Conv v;
  v.open(7);
  StepResult r = v.step(Dir::down, syn(5000, 7));
  EXPECT_EQ(r.outcome, SegmentOutcome::simultaneous_open);
  EXPECT_TRUE(r.forward);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_TRUE(v.c.has(conn_flag::simultaneous));
  EXPECT_TRUE(v.c.has(conn_flag::scaling));
  // The down SYN again.
  EXPECT_EQ(v.step(Dir::down, syn(5000, 7)).outcome, SegmentOutcome::syn_retransmitted);
  // Each side answers with SYN+ACK (same ISN, acking the other's SYN).
  EXPECT_EQ(v.step(Dir::up, synack(1000, 4000)).outcome, SegmentOutcome::bad_ack);
  r = v.step(Dir::up, synack(1000, 5001, 7));
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::syn_received);
  EXPECT_FALSE(r.has(tcp_event::established));
  EXPECT_EQ(v.step(Dir::up, synack(1000, 5001, 7)).outcome, SegmentOutcome::synack_retransmitted);
  r = v.step(Dir::down, synack(5000, 1001, 7));
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_TRUE(r.has(tcp_event::established));
  // Data both ways, scaled windows: 65535 << 7.
  v.cnext = 1001;
  v.snext = 5001;
  EXPECT_EQ(v.client(A | P, 100).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.server(A | P, 100).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.up().window, 65535u << 7);
}

TEST(TcpSimultaneousOpen, PureAcksCompleteIt) {
  // Each side may also ack the other's SYN with a plain ACK after its SYN.
  Conv v;
  v.open();
  v.step(Dir::down, syn(5000));
  EXPECT_EQ(v.step(Dir::up, seg(1001, 5001, A)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::syn_received);
  const StepResult r = v.step(Dir::down, seg(5001, 1001, A));
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_TRUE(r.has(tcp_event::established));
  EXPECT_EQ(v.c.state, State::established);
}

TEST(TcpMidstream, PicksUpAnEstablishedConnection) {
  Conv v;
  v.cfg.midstream = true;
  const SegmentView first = seg(777777, 888888, A | P, 100);
  ASSERT_TRUE(opens_connection(first, v.cfg));
  StepResult r = open(v.c, first, v.now, v.cfg);
  EXPECT_EQ(r.outcome, SegmentOutcome::midstream_opened);
  EXPECT_TRUE(r.forward);
  EXPECT_TRUE(r.has(tcp_event::opened));
  EXPECT_TRUE(r.has(tcp_event::established));
  EXPECT_EQ(v.c.state, State::established);
  EXPECT_TRUE(v.c.has(conn_flag::liberal));
  EXPECT_EQ(v.up().next, Seq{777877});
  // The other side, first seen now; no window knowledge: accepted.
  r = v.step(Dir::down, seg(888888, 777877, A, 0, 10));
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  r = v.step(Dir::up, seg(777877, 888888, A | P, 5000));
  EXPECT_EQ(r.outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.step(Dir::up, seg(777877, 888888, A | P, 10)).outcome, SegmentOutcome::retransmission);
  // An RST that is not exact is left to the receiver.
  EXPECT_EQ(v.step(Dir::down, seg(123, 0, R)).outcome, SegmentOutcome::rst_in_window);
  EXPECT_EQ(v.c.state, State::established);
  // Close works as usual.
  EXPECT_EQ(v.step(Dir::up, seg(782877, 888888, A | F)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::fin_wait_1);
  EXPECT_EQ(v.step(Dir::down, seg(888888, 782878, A | F)).outcome, SegmentOutcome::accepted);
  EXPECT_EQ(v.c.state, State::closing);
  r = v.step(Dir::up, seg(782878, 888889, A));
  EXPECT_EQ(v.c.state, State::timed_wait);
  EXPECT_EQ(r.end, EndReason::fin);
}

TEST(TcpMidstream, OffByDefault) {
  TrackerConfig cfg;
  EXPECT_FALSE(opens_connection(seg(1, 2, A | P, 10), cfg));
}

} // namespace
} // namespace haka::tcp
