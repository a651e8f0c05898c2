// Names, outcome table, config, layout and counters.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "tcp/counters.hpp"
#include "tcp/tracker.hpp"
#include "tcp_test_util.hpp"

namespace haka::tcp {
namespace {

using namespace test;

TEST(TcpTables, OutcomesHaveUniqueNamesAndMeanings) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < outcome_count; ++i) {
    const auto o = static_cast<SegmentOutcome>(i);
    const std::string name = outcome_name(o);
    EXPECT_EQ(name.rfind("tcp_", 0), 0u) << name;
    EXPECT_GT(std::strlen(outcome_meaning(o)), 10u) << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
  }
  EXPECT_STREQ(outcome_name(SegmentOutcome::out_of_window), "tcp_out_of_window");
}

TEST(TcpTables, VerdictsAndPolicies) {
  EXPECT_EQ(outcome_verdict(SegmentOutcome::accepted), Verdict::forward);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::keepalive), Verdict::forward);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::rst_in_window), Verdict::forward);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::syn_in_established), Verdict::forward);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::out_of_window), Verdict::drop);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::bad_ack), Verdict::drop);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::after_close), Verdict::drop);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::restart), Verdict::again);
  EXPECT_EQ(outcome_verdict(SegmentOutcome::timed_out), Verdict::none);
  EXPECT_EQ(policy_for(SegmentOutcome::unexpected), Policy::unexpected_packet);
  EXPECT_EQ(policy_for(SegmentOutcome::no_ack), Policy::unexpected_packet);
  EXPECT_EQ(policy_for(SegmentOutcome::invalid_handshake), Policy::invalid_handshake);
  EXPECT_EQ(policy_for(SegmentOutcome::out_of_window), Policy::none);
  EXPECT_EQ(policy_for(SegmentOutcome::after_close), Policy::none);
}

TEST(TcpTables, Names) {
  EXPECT_STREQ(state_name(State::syn), "syn");
  EXPECT_STREQ(state_name(State::syn_sent), "syn_sent");
  EXPECT_STREQ(state_name(State::syn_received), "syn_received");
  EXPECT_STREQ(state_name(State::established), "established");
  EXPECT_STREQ(state_name(State::fin_wait_1), "fin_wait_1");
  EXPECT_STREQ(state_name(State::fin_wait_2), "fin_wait_2");
  EXPECT_STREQ(state_name(State::closing), "closing");
  EXPECT_STREQ(state_name(State::timed_wait), "timed_wait");
  EXPECT_STREQ(state_name(State::reset), "reset");
  EXPECT_STREQ(state_name(State::finish), "finish");
  EXPECT_STREQ(policy_name(Policy::none), "none");
  EXPECT_STREQ(policy_name(Policy::no_connection_found), "no_connection_found");
  EXPECT_STREQ(policy_name(Policy::unexpected_packet), "unexpected_packet");
  EXPECT_STREQ(policy_name(Policy::invalid_handshake), "invalid_handshake");
  EXPECT_STREQ(policy_name(Policy::new_connection), "new_connection");
  EXPECT_STREQ(end_reason_name(EndReason::fin), "fin");
  EXPECT_STREQ(end_reason_name(EndReason::refused), "refused");
  EXPECT_STREQ(end_reason_name(EndReason::restart), "restart");
  EXPECT_STREQ(dir_name(Dir::up), "up");
  EXPECT_EQ(opposite(Dir::up), Dir::down);
  EXPECT_EQ(opposite(Dir::down), Dir::up);
}

TEST(TcpTables, TimeoutsPerState) {
  TrackerConfig cfg;
  EXPECT_EQ(cfg.timeout_for(State::syn_sent), 60 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::syn_received), 60 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::established), 3600 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::fin_wait_1), 120 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::fin_wait_2), 120 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::closing), 120 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::timed_wait), 60 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::reset), 60 * kSec);
  EXPECT_EQ(cfg.timeout_for(State::finish), 0u);
  EXPECT_FALSE(cfg.midstream);
  EXPECT_TRUE(cfg.window_checks);
}

TEST(TcpTables, ConnectionIsASmallValue) {
  static_assert(sizeof(Connection) <= 96);
  static_assert(std::is_trivially_copyable_v<Connection>);
  Conv v;
  v.handshake();
  Connection copy;
  std::memcpy(&copy, &v.c, sizeof copy);
  EXPECT_EQ(copy.state, State::established);
  EXPECT_EQ(copy.endpoint(Dir::up).isn, Seq{1000});
}

TEST(TcpTables, SegmentFromPacketMeta) {
  net::PacketMeta pm{};
  pm.tcp_seq = 0xDEADBEEF;
  pm.tcp_ack = 42;
  pm.tcp_flags = S | A;
  pm.payload_len = 17;
  pm.tcp_window = 29200;
  pm.tcp_mss = 1460;
  pm.tcp_wscale = 7;
  pm.tcp_options = net::tcp_opt::mss | net::tcp_opt::wscale | net::tcp_opt::timestamps;
  pm.tcp_tsval = 11;
  pm.tcp_tsecr = 22;
  const SegmentView s = segment_from(pm);
  EXPECT_EQ(s.seq, Seq{0xDEADBEEF});
  EXPECT_EQ(s.ack, Seq{42});
  EXPECT_EQ(s.flags, S | A);
  EXPECT_EQ(s.len, 17u);
  EXPECT_EQ(s.window, 29200);
  EXPECT_EQ(s.mss, 1460);
  EXPECT_EQ(s.wscale, 7);
  EXPECT_EQ(s.options, seg_opt::mss | seg_opt::wscale | seg_opt::timestamps);
  EXPECT_EQ(s.tsval, 11u);
  EXPECT_EQ(s.tsecr, 22u);
  EXPECT_EQ(s.seq_len(), 18u);
}

TEST(TcpCounters, CountsALifecycle) {
  TcpCounters n;
  Conv v;
  n.add(v.open());
  n.add(v.synack_());
  n.add(v.client(A));
  n.add(v.client(A | P, 100));
  n.add(v.step(Dir::up, seg(v.cnext + 1'000'000, v.snext, A | P, 10))); // out of window
  n.add(v.step(Dir::up, seg(v.cnext, v.snext, P, 10)));                 // no ACK
  n.add(v.client(A | F));
  n.add(v.server(A | F));
  n.add(v.client(A));
  EXPECT_EQ(v.c.state, State::timed_wait);
  n.add(expire(v.c, v.now + 60 * kSec, v.cfg));
  EXPECT_EQ(n.opened, 1u);
  EXPECT_EQ(n.established, 1u);
  EXPECT_EQ(n.finished, 1u);
  EXPECT_EQ(n.active, 0u);
  EXPECT_EQ(n.active_peak, 1u);
  EXPECT_EQ(n.ended_by(EndReason::fin), 1u);
  EXPECT_EQ(n.ended_by(EndReason::rst), 0u);
  EXPECT_EQ(n.outcome(SegmentOutcome::opened), 1u);
  EXPECT_EQ(n.outcome(SegmentOutcome::accepted), 6u);
  EXPECT_EQ(n.outcome(SegmentOutcome::out_of_window), 1u);
  EXPECT_EQ(n.outcome(SegmentOutcome::no_ack), 1u);
  EXPECT_EQ(n.outcome(SegmentOutcome::timed_out), 1u);
  EXPECT_EQ(n.policy_applied[static_cast<std::size_t>(Policy::unexpected_packet)], 1u);

  TcpCounters sum;
  sum += n;
  sum += n;
  EXPECT_EQ(sum.opened, 2u);
  EXPECT_EQ(sum.outcome(SegmentOutcome::accepted), 12u);
}

} // namespace
} // namespace haka::tcp
