// Worker loop and TxBatch: verdict order, TX refusal, the accounting invariant.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <vector>

#include <rte_mbuf.h>

#include "engine/counters.hpp"
#include "engine/runner.hpp"
#include "engine/worker.hpp"
#include "fake_io.hpp"
#include "test_eal.hpp"

namespace haka::engine {
namespace {

rte_mempool* pool() {
  static rte_mempool* p = test::make_pool("engine_test", 1023);
  return p;
}

rte_mbuf* make_packet(uint16_t len, uint8_t tag) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  EXPECT_NE(m, nullptr);
  auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
  d[0] = tag;
  return m;
}

class EngineTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(rte_mempool_avail_count(pool()), pool()->size) << "an mbuf leaked"; }
};

TEST_F(EngineTest, ForwardsEveryBurstAndBalances) {
  FakeIo io;
  for (int b = 0; b < 3; ++b) {
    std::vector<rte_mbuf*> burst;
    for (int i = 0; i < 32; ++i) burst.push_back(make_packet(100, static_cast<uint8_t>(b * 32 + i)));
    io.bursts.push_back(burst);
  }
  WorkerCounters c;
  ForwardAll proc;
  Worker<FakeIo, ForwardAll> w(io, proc, {Lane{0, 0, 1, 0}}, c);
  std::atomic<bool> stop{false};
  w.run(stop);
  CounterSnapshot s = c.snapshot();
  EXPECT_EQ(s.rx_packets, 96u);
  EXPECT_EQ(s.tx_packets, 96u);
  EXPECT_EQ(s.rx_bytes, 9600u);
  EXPECT_EQ(s.tx_bytes, 9600u);
  EXPECT_TRUE(s.balanced());
  ASSERT_EQ(io.sent.size(), 96u);
  for (std::size_t i = 0; i < 96; ++i) {
    EXPECT_EQ(io.sent[i].first, 1) << "forwarded packets leave by the peer port";
    EXPECT_EQ(io.sent[i].second, i) << "order kept";
  }
}

TEST_F(EngineTest, RefusedTransmitsAreCountedDrops) {
  FakeIo io;
  io.tx_capacity = 10;
  std::vector<rte_mbuf*> burst;
  for (int i = 0; i < 32; ++i) burst.push_back(make_packet(60, static_cast<uint8_t>(i)));
  io.bursts.push_back(burst);
  WorkerCounters c;
  ForwardAll proc;
  Worker<FakeIo, ForwardAll> w(io, proc, {Lane{0, 0, 1, 0}}, c);
  w.poll();
  CounterSnapshot s = c.snapshot();
  EXPECT_EQ(s.rx_packets, 32u);
  EXPECT_EQ(s.tx_packets, 10u);
  EXPECT_EQ(s.tx_bytes, 600u);
  EXPECT_EQ(s.dropped_by[static_cast<std::size_t>(DropReason::tx_full)], 22u);
  EXPECT_TRUE(s.balanced());
}

TEST_F(EngineTest, BatchKeepsVerdictOrderOnOnePortAndSplitsOnTwo) {
  for (bool same_port : {true, false}) {
    FakeIo io;
    BurstTally tally;
    Lane lane = same_port ? Lane{0, 0, 0, 0} : Lane{0, 0, 1, 0};
    {
      TxBatch<FakeIo> out(io, lane, tally);
      out.forward(make_packet(60, 1));
      out.inject_back(make_packet(54, 2));
      out.forward(make_packet(60, 3));
      out.drop(make_packet(60, 4), DropReason::shutdown);
      // More than the batch capacity: flushed as it fills, order kept.
      for (int i = 0; i < 100; ++i) out.forward(make_packet(60, static_cast<uint8_t>(10 + i)));
    }
    EXPECT_EQ(tally.tx_packets, 103u);
    EXPECT_EQ(tally.injected, 1u);
    EXPECT_EQ(tally.dropped_by[static_cast<std::size_t>(DropReason::shutdown)], 1u);
    ASSERT_EQ(io.sent.size(), 103u);
    if (same_port) {
      EXPECT_EQ(io.sent[0].second, 1);
      EXPECT_EQ(io.sent[1].second, 2);
      EXPECT_EQ(io.sent[2].second, 3);
    } else {
      std::vector<uint8_t> to_peer, to_sender;
      for (auto& [port, tag] : io.sent) (port == 1 ? to_peer : to_sender).push_back(tag);
      EXPECT_EQ(to_sender, std::vector<uint8_t>{2});
      ASSERT_EQ(to_peer.size(), 102u);
      EXPECT_EQ(to_peer[0], 1);
      EXPECT_EQ(to_peer[1], 3);
      EXPECT_EQ(to_peer[101], 109);
    }
  }
}

TEST(Accounting, InvariantAndMessages) {
  RunReport r;
  r.pool_size = r.pool_available = 100;
  r.total.rx_packets = 10;
  r.total.tx_packets = 7;
  r.total.dropped_by[0] = 3;
  EXPECT_TRUE(r.accounting_ok());
  EXPECT_EQ(accounting_error(r), "");
  r.total.tx_packets = 6;
  EXPECT_FALSE(r.accounting_ok());
  EXPECT_NE(accounting_error(r).find("accounting violated: rx 10 + injected 0 != tx 6 + dropped 3 + held 0"),
            std::string::npos)
      << accounting_error(r);
  r.total.tx_packets = 5;
  r.total.held = 2;
  EXPECT_FALSE(r.accounting_ok()) << "balanced, but packets still held at exit";
  r.total.held = 0;
  r.total.tx_packets = 7;
  r.pool_available = 98;
  EXPECT_NE(accounting_error(r).find("mbuf leak: 2 of 100"), std::string::npos);
}

TEST(Accounting, JsonCarriesEveryCounter) {
  RunReport r;
  r.mode = "offline";
  r.input = "in \"x\".pcap";
  r.total.rx_packets = 5;
  r.total.tx_packets = 5;
  r.pool_size = r.pool_available = 1;
  r.workers = {r.total};
  std::string j = report_json(r);
  EXPECT_NE(j.find("\"input\":\"in \\\"x\\\".pcap\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"packets\":{\"rx\":5,\"tx\":5,\"injected\":0,\"dropped\":0,\"held\":0}"), std::string::npos) << j;
  for (std::size_t i = 0; i < drop_reason_count; ++i)
    EXPECT_NE(j.find(std::string("\"") + drop_reason_name(static_cast<DropReason>(i)) + "\":0"), std::string::npos);
  EXPECT_NE(j.find("\"ok\":true"), std::string::npos);
}

} // namespace
} // namespace haka::engine
