// TcpPipeline in the worker loop: connections counted from start to end,
// policies and their alerts, timeouts on packet time, table limits,
// fragments, pass-through, and the accounting invariant throughout.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "engine/tcp_pipeline.hpp"
#include "engine/worker.hpp"
#include "fake_io.hpp"
#include "net/decode.hpp"
#include "net/forge.hpp"
#include "test_eal.hpp"

namespace haka::engine {
namespace {

rte_mempool* pool() {
  static rte_mempool* p = test::make_pool("tcp_pipeline_test", 2047);
  return p;
}

constexpr uint64_t sec = 1'000'000'000ull;

/// One TCP conversation between a client and a server, forging its segments.
struct Conversation {
  net::TcpEndpoints up, down;
  uint32_t cseq = 1000, sseq = 5000;

  explicit Conversation(uint16_t cport, bool v6 = false) {
    up.l3 = down.l3 = v6 ? net::L3Kind::ipv6 : net::L3Kind::ipv4;
    for (int i = 0; i < 16; ++i) {
      up.src[i] = down.dst[i] = static_cast<uint8_t>(v6 ? 0x20 + i : 10 + i);
      up.dst[i] = down.src[i] = static_cast<uint8_t>(v6 ? 0x30 + i : 192 + i);
    }
    up.sport = down.dport = cport;
    up.dport = down.sport = 80;
  }
  rte_mbuf* seg(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, std::size_t len, uint64_t t) {
    std::vector<uint8_t> payload(len, 'p');
    net::TcpSegmentSpec s;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.payload = payload;
    rte_mbuf* m = net::forge_tcp(pool(), net::LinkType::ethernet, from_client ? up : down, s);
    EXPECT_NE(m, nullptr);
    net::meta(m) = net::PacketMeta{};
    net::meta(m).timestamp_ns = t;
    return m;
  }
  // The three-way handshake, data both ways, and a client-first close.
  std::vector<rte_mbuf*> whole_life(uint64_t t) {
    return {seg(true, 0x02, cseq, 0, 0, t),
            seg(false, 0x12, sseq, cseq + 1, 0, t + 1),
            seg(true, 0x10, cseq + 1, sseq + 1, 0, t + 2),
            seg(true, 0x18, cseq + 1, sseq + 1, 100, t + 3),
            seg(false, 0x18, sseq + 1, cseq + 101, 50, t + 4),
            seg(true, 0x11, cseq + 101, sseq + 51, 0, t + 5),
            seg(false, 0x11, sseq + 51, cseq + 102, 0, t + 6),
            seg(true, 0x10, cseq + 102, sseq + 52, 0, t + 7)};
  }
};

/// A pipeline, its worker and its outputs, with alerts captured in memory.
struct Harness {
  FakeIo io;
  WorkerCounters counters;
  AlertSink alerts;
  char* alert_text = nullptr;
  std::size_t alert_len = 0;
  std::FILE* alert_stream = open_memstream(&alert_text, &alert_len);
  std::unique_ptr<TcpPipeline> proc;

  explicit Harness(TrackingConfig tc = {}) {
    test::init_eal_once();
    tc.pool = pool();
    tc.flows_v4 = tc.flows_v4 > 4096 ? 4096 : tc.flows_v4;
    tc.flows_v6 = 64;
    alerts.set_text_stream(alert_stream);
    std::string err;
    proc = TcpPipeline::create(tc, alerts, err);
    EXPECT_TRUE(proc) << err;
  }
  ~Harness() {
    std::fclose(alert_stream);
    std::free(alert_text);
  }
  void run(std::vector<rte_mbuf*> pkts) {
    for (std::size_t i = 0; i < pkts.size(); i += 32)
      io.bursts.emplace_back(pkts.begin() + static_cast<long>(i),
                             pkts.begin() + static_cast<long>(std::min(pkts.size(), i + 32)));
    Worker<FakeIo, TcpPipeline> w(io, *proc, {Lane{0, 0, 1, 0}}, counters);
    std::atomic<bool> stop{false};
    w.run(stop);
  }
  std::map<std::string, uint64_t> group(const std::string& name) {
    std::map<std::string, uint64_t> out;
    for (auto& g : proc->collect())
      if (g.name == name)
        for (auto& [k, v] : g.values) out[k] = v;
    return out;
  }
  std::string alert_output() {
    std::fflush(alert_stream);
    return std::string(alert_text, alert_len);
  }
  uint64_t dropped(DropReason r) const { return counters.snapshot().dropped_by[static_cast<std::size_t>(r)]; }
};

/// The first n packets; the others are freed.
std::vector<rte_mbuf*> first(std::vector<rte_mbuf*> v, std::size_t n) {
  for (std::size_t i = n; i < v.size(); ++i) rte_pktmbuf_free(v[i]);
  v.resize(n);
  return v;
}

class TcpPipelineTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(rte_mempool_avail_count(pool()), pool()->size) << "an mbuf leaked"; }
};

TEST_F(TcpPipelineTest, CountsAConnectionFromHandshakeToFin) {
  Harness h;
  Conversation c(40000);
  h.run(c.whole_life(100 * sec));
  auto conn = h.group("connections");
  EXPECT_EQ(conn["opened"], 1u);
  EXPECT_EQ(conn["established"], 1u);
  EXPECT_EQ(conn["closed_fin"], 1u);
  EXPECT_EQ(conn["closed_rst"], 0u);
  CounterSnapshot s = h.counters.snapshot();
  EXPECT_EQ(s.rx_packets, 8u);
  EXPECT_EQ(s.tx_packets, 8u);
  EXPECT_TRUE(s.balanced());
  EXPECT_EQ(h.alert_output(), "");
  EXPECT_EQ(h.group("tcp")["tcp_accepted"] + h.group("tcp")["tcp_opened"], 8u);
}

TEST_F(TcpPipelineTest, IPv6ConnectionsAreTrackedToo) {
  Harness h;
  Conversation c(40001, true);
  h.run(c.whole_life(100 * sec));
  EXPECT_EQ(h.group("connections")["opened"], 1u);
  EXPECT_EQ(h.group("connections")["closed_fin"], 1u);
  EXPECT_EQ(h.counters.snapshot().tx_packets, 8u);
}

TEST_F(TcpPipelineTest, SegmentWithoutConnectionAlertsAndDrops) {
  Harness h;
  Conversation c(40002);
  h.run({c.seg(true, 0x18, 1, 1, 10, 5 * sec)});
  EXPECT_EQ(h.dropped(DropReason::policy_no_connection_found), 1u);
  EXPECT_EQ(h.group("policies")["no_connection_found"], 1u);
  std::string a = h.alert_output();
  EXPECT_NE(a.find("alert: id = = <>\n\tseverity = low\n\tdescription = no connection found for tcp packet\n"
                   "\tsources = {\n\t\taddress: 10.11.12.13\n\t\tservice: tcp/40002\n\t}\n"
                   "\ttargets = {\n\t\taddress: 192.193.194.195\n\t\tservice: tcp/80\n\t}\n"),
            std::string::npos)
      << a;
  EXPECT_TRUE(h.counters.snapshot().balanced());
}

TEST_F(TcpPipelineTest, PassThroughObservesButForwardsEverything) {
  TrackingConfig tc;
  tc.pass_through = true;
  Harness h(tc);
  Conversation c(40003);
  rte_mbuf* bad = c.seg(true, 0x18, 1, 1, 10, 6 * sec);
  rte_pktmbuf_mtod_offset(bad, uint8_t*, 14 + 20 + 16)[0] ^= 0xff; // break the TCP checksum
  h.run({c.seg(true, 0x18, 1, 1, 10, 5 * sec), bad});
  CounterSnapshot s = h.counters.snapshot();
  EXPECT_EQ(s.tx_packets, 2u);
  EXPECT_EQ(s.dropped(), 0u);
  EXPECT_EQ(h.group("policies")["no_connection_found"], 1u);
  EXPECT_EQ(h.group("decode")["tcp_bad_checksum"], 1u);
  EXPECT_NE(h.alert_output().find("no connection found"), std::string::npos);
}

TEST_F(TcpPipelineTest, MalformedSegmentsAreDroppedInline) {
  Harness h;
  Conversation c(40004);
  rte_mbuf* bad = c.seg(true, 0x02, 1, 0, 0, 6 * sec);
  rte_pktmbuf_mtod_offset(bad, uint8_t*, 14 + 20 + 16)[0] ^= 0xff;
  h.run({bad});
  EXPECT_EQ(h.dropped(DropReason::malformed), 1u);
  EXPECT_EQ(h.group("connections")["opened"], 0u);
}

TEST_F(TcpPipelineTest, IdleHandshakeTimesOutOnPacketTime) {
  Harness h;
  Conversation a(40005), b(40006);
  // A SYN nobody answers, then unrelated traffic 61 s later moves the clock.
  h.run({a.seg(true, 0x02, 1000, 0, 0, 10 * sec), b.seg(true, 0x02, 7000, 0, 0, 71 * sec + 1)});
  auto conn = h.group("connections");
  EXPECT_EQ(conn["opened"], 2u);
  EXPECT_EQ(conn["timed_out"], 1u);
  EXPECT_EQ(conn["active"], 1u);
}

TEST_F(TcpPipelineTest, ExactRstClosesAndOutOfWindowRstIsDropped) {
  Harness h;
  Conversation c(40007);
  std::vector<rte_mbuf*> pkts = first(c.whole_life(10 * sec), 4); // handshake and one data segment
  pkts.push_back(c.seg(true, 0x04, c.cseq + 101 + 100000, 0, 0, 11 * sec)); // far outside the window
  pkts.push_back(c.seg(true, 0x04, c.cseq + 101, 0, 0, 12 * sec));          // exactly the next byte
  h.run(pkts);
  EXPECT_EQ(h.group("tcp")["tcp_rst_out_of_window"], 1u);
  EXPECT_EQ(h.dropped(DropReason::tcp_invalid), 1u);
  EXPECT_EQ(h.group("connections")["closed_rst"], 1u);
  EXPECT_EQ(h.counters.snapshot().tx_packets, 5u);
}

TEST_F(TcpPipelineTest, NewSynAfterCloseRestartsTheConnection) {
  Harness h;
  Conversation c(40008);
  auto pkts = c.whole_life(10 * sec);
  pkts.push_back(c.seg(true, 0x02, 90000, 0, 0, 20 * sec)); // same tuple, in timed_wait
  pkts.push_back(c.seg(false, 0x12, 70000, 90001, 0, 20 * sec + 1));
  h.run(pkts);
  auto conn = h.group("connections");
  EXPECT_EQ(conn["opened"], 2u);
  EXPECT_EQ(conn["closed_fin"], 1u);
  EXPECT_EQ(h.counters.snapshot().tx_packets, 10u);
}

TEST_F(TcpPipelineTest, FullTableRefusesNewConnectionsAndKeepsOldOnes) {
  TrackingConfig tc;
  tc.flows_v4 = 16;
  Harness h(tc);
  std::vector<rte_mbuf*> syns;
  std::vector<Conversation> convs;
  for (uint16_t i = 0; i < 20; ++i) convs.emplace_back(static_cast<uint16_t>(41000 + i));
  for (auto& c : convs) syns.push_back(c.seg(true, 0x02, 1000, 0, 0, 10 * sec));
  // The first connection goes on working.
  syns.push_back(convs[0].seg(false, 0x12, 5000, 1001, 0, 11 * sec));
  h.run(syns);
  auto conn = h.group("connections");
  EXPECT_EQ(conn["opened"], 16u);
  EXPECT_EQ(conn["refused_table_full"], 4u);
  EXPECT_EQ(h.dropped(DropReason::flow_table_full), 4u);
  EXPECT_EQ(h.counters.snapshot().tx_packets, 17u);
  EXPECT_TRUE(h.counters.snapshot().balanced());
}

TEST_F(TcpPipelineTest, FragmentedSegmentIsReassembledTrackedAndAccounted) {
  Harness h;
  Conversation c(40009);
  auto pkts = first(c.whole_life(10 * sec), 3);
  rte_mbuf* big = c.seg(true, 0x18, c.cseq + 1, c.sseq + 1, 1200, 11 * sec);
  net::DecodeConfig dc;
  ASSERT_EQ(net::decode(big, dc), net::DecodeOutcome::tcp);
  rte_mbuf* frags[8];
  int n = net::fragment_ipv4(big, 576, frags, pool(), pool(), dc);
  rte_pktmbuf_free(big);
  ASSERT_EQ(n, 3);
  for (int i = n - 1; i >= 0; --i) { // out of order
    net::meta(frags[i]).timestamp_ns = 11 * sec + static_cast<uint64_t>(i);
    pkts.push_back(frags[i]);
  }
  h.run(pkts);
  CounterSnapshot s = h.counters.snapshot();
  EXPECT_EQ(h.group("fragments")["reassembled"], 1u);
  EXPECT_EQ(h.group("fragments")["refragmented"], 0u) << "1240 bytes of IP fit the 1500-byte MTU whole";
  EXPECT_TRUE(s.balanced()) << "rx " << s.rx_packets << " inj " << s.injected << " tx " << s.tx_packets << " drop "
                            << s.dropped();
  EXPECT_EQ(h.dropped(DropReason::fragment_merged), 3u);
  EXPECT_EQ(h.group("tcp")["tcp_accepted"], 3u) << "SYN+ACK, ACK and the reassembled segment";
}

TEST_F(TcpPipelineTest, OversizedReassembledDatagramLeavesRefragmented) {
  TrackingConfig tc;
  tc.mtu = 576;
  Harness h(tc);
  Conversation c(40010);
  auto pkts = first(c.whole_life(10 * sec), 3);
  rte_mbuf* big = c.seg(true, 0x18, c.cseq + 1, c.sseq + 1, 1200, 11 * sec);
  net::DecodeConfig dc;
  ASSERT_EQ(net::decode(big, dc), net::DecodeOutcome::tcp);
  rte_mbuf* frags[8];
  int n = net::fragment_ipv4(big, 1000, frags, pool(), pool(), dc);
  rte_pktmbuf_free(big);
  ASSERT_EQ(n, 2);
  for (int i = 0; i < n; ++i) {
    net::meta(frags[i]).timestamp_ns = 11 * sec + static_cast<uint64_t>(i);
    pkts.push_back(frags[i]);
  }
  h.run(pkts);
  CounterSnapshot s = h.counters.snapshot();
  EXPECT_EQ(h.group("fragments")["refragmented"], 1u);
  EXPECT_EQ(h.dropped(DropReason::refragmented), 1u);
  EXPECT_EQ(s.tx_packets, 3u + 3u) << "the handshake, then 3 fragments of at most 576 bytes";
  EXPECT_TRUE(s.balanced());
}

} // namespace
} // namespace haka::engine
