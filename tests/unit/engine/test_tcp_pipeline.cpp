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

namespace haka::engine {
namespace {

// The fields of a packet the engine sent, decoded again.
struct Sent {
  bool from_client;
  uint32_t seq, ack;
  std::string payload;
};

std::vector<Sent> decode_sent(const std::vector<rte_mbuf*>& kept, const Conversation& c) {
  std::vector<Sent> out;
  for (rte_mbuf* m : kept) {
    net::DecodeConfig dc;
    net::decode(m, dc);
    const net::PacketMeta& pm = net::meta(m);
    EXPECT_EQ(net::outcome(pm), net::DecodeOutcome::tcp) << "rebuilt packets decode with good checksums";
    uint16_t sport = 0, dport = 0;
    net::tcp_ports(m, sport, dport);
    std::string p(pm.payload_len, '\0');
    if (pm.payload_len)
      std::memcpy(p.data(), rte_pktmbuf_read(m, pm.payload_offset, pm.payload_len, p.data()), pm.payload_len);
    out.push_back({sport == c.up.sport, pm.tcp_seq, pm.tcp_ack, p});
  }
  return out;
}

// A consumer that inserts "XX" before the first byte of the client's stream
// and erases the server's third and fourth bytes, as a Haka rule would.
struct Editor : StreamListener {
  std::string seen[2];
  int ends = 0, closes = 0;
  void on_data(const StreamConn&, tcp::Dir d, vbuffer::Iterator first, uint32_t n) override {
    std::string s(n, '\0');
    vbuffer::Iterator it = first;
    vbuffer::Sub sub;
    ASSERT_EQ(it.sub(n, false, sub), vbuffer::Error::ok);
    std::size_t got = 0;
    sub.read(std::span(reinterpret_cast<uint8_t*>(s.data()), n), got);
    const bool first_call = seen[static_cast<int>(d)].empty();
    seen[static_cast<int>(d)] += s;
    if (!first_call) return;
    if (d == tcp::Dir::up) {
      vbuffer::Buffer ins;
      const uint8_t xx[] = {'X', 'X'};
      ASSERT_EQ(vbuffer::Buffer::from(*first.pool(), xx, ins), vbuffer::Error::ok);
      vbuffer::Iterator at = first;
      ASSERT_EQ(at.insert(ins), vbuffer::Error::ok);
    } else {
      vbuffer::Iterator at = first;
      ASSERT_EQ(at.advance(2), vbuffer::Error::ok);
      vbuffer::Sub two;
      ASSERT_EQ(at.sub(2, true, two), vbuffer::Error::ok);
      ASSERT_EQ(two.erase(), vbuffer::Error::ok);
    }
  }
  void on_end(const StreamConn&, tcp::Dir) override { ++ends; }
  void on_close(const StreamConn&) override { ++closes; }
};

TEST_F(TcpPipelineTest, EditedStreamsLeaveRebuiltAndSequenceNumbersAreTranslated) {
  Harness h;
  Editor ed;
  h.proc->add_stream_listener(&ed);
  std::vector<rte_mbuf*> kept;
  h.io.keep = &kept;
  Conversation c(40100);
  const uint32_t C = c.cseq + 1, S = c.sseq + 1;
  const uint64_t t = 100 * sec;
  h.run({c.seg(true, 0x02, c.cseq, 0, 0, t), c.seg(false, 0x12, c.sseq, C, 0, t + 1),
         c.seg(true, 0x10, C, S, 0, t + 2),
         c.seg(true, 0x18, C, S, 10, t + 3),       // up bytes [0,10): "XX" inserted before them
         c.seg(true, 0x18, C + 10, S, 5, t + 4),   // up [10,15): seq +2
         c.seg(false, 0x18, S, C + 17, 8, t + 5),  // server acks all 17 output bytes; down [0,8) loses 2 bytes
         c.seg(true, 0x10, C + 15, S + 6, 0, t + 6), // client acks the 6 output bytes: 8 original
         c.seg(true, 0x11, C + 15, S + 6, 0, t + 7), c.seg(false, 0x11, S + 8, C + 18, 0, t + 8),
         c.seg(true, 0x10, C + 16, S + 7, 0, t + 9)});
  std::vector<Sent> out = decode_sent(kept, c);
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(out[3].seq, C);
  EXPECT_EQ(out[3].payload, "XXpppppppppp");
  EXPECT_EQ(out[4].seq, C + 12);
  EXPECT_EQ(out[4].payload, "ppppp");
  EXPECT_EQ(out[5].seq, S);
  EXPECT_EQ(out[5].ack, C + 15) << "the server's ack of 17 output bytes is 15 original ones";
  EXPECT_EQ(out[5].payload, "pppppp");
  EXPECT_EQ(out[6].ack, S + 8) << "the client's ack of 6 output bytes is 8 original ones";
  EXPECT_EQ(out[7].seq, C + 17) << "the client's FIN after 15 original bytes is at 17 in output";
  EXPECT_EQ(out[8].seq, S + 6);
  EXPECT_EQ(out[8].ack, C + 16);
  EXPECT_EQ(out[9].ack, S + 9) << "the ack of the FIN at output S+6 is of the original FIN at S+8";
  EXPECT_EQ(ed.seen[0], std::string(15, 'p'));
  EXPECT_EQ(ed.seen[1], std::string(8, 'p'));
  EXPECT_EQ(ed.ends, 2);
  EXPECT_EQ(ed.closes, 1);
  EXPECT_EQ(h.group("connections")["closed_fin"], 1u) << "the tracker followed the translated numbers";
  EXPECT_EQ(h.group("tcp")["tcp_bad_ack"], 0u);
  CounterSnapshot s = h.counters.snapshot();
  EXPECT_TRUE(s.balanced());
  EXPECT_EQ(h.dropped(DropReason::stream_replaced), 2u);
  EXPECT_EQ(s.injected, 2u);
  for (rte_mbuf* m : kept) rte_pktmbuf_free(m);
}

TEST_F(TcpPipelineTest, OutOfOrderSegmentsAreHeldThenLeaveInOrder) {
  Harness h;
  Editor ed;
  h.proc->add_stream_listener(&ed);
  std::vector<rte_mbuf*> kept;
  h.io.keep = &kept;
  Conversation c(40101);
  const uint32_t C = c.cseq + 1, S = c.sseq + 1;
  const uint64_t t = 100 * sec;
  h.run({c.seg(true, 0x02, c.cseq, 0, 0, t), c.seg(false, 0x12, c.sseq, C, 0, t + 1),
         c.seg(true, 0x10, C, S, 0, t + 2),
         c.seg(true, 0x18, C + 10, S, 10, t + 3), // a gap of 10
         c.seg(true, 0x18, C + 20, S, 10, t + 4),
         c.seg(true, 0x18, C, S, 10, t + 5)});    // fills it
  std::vector<Sent> out = decode_sent(kept, c);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[3].seq, C) << "the held segments leave after the one that filled the gap, in order";
  EXPECT_EQ(out[4].seq, C + 10 + 2);
  EXPECT_EQ(out[5].seq, C + 20 + 2);
  EXPECT_EQ(out[3].payload, "XX" + std::string(10, 'p'));
  EXPECT_EQ(h.group("streams")["out_of_order"], 2u);
  EXPECT_TRUE(h.counters.snapshot().balanced());
  for (rte_mbuf* m : kept) rte_pktmbuf_free(m);
}

} // namespace
} // namespace haka::engine

namespace haka::engine {
namespace {

// A rule that resets the connection once more than 10 bytes came from the
// client (Haka's stream-rst case), or half-resets it.
struct Resetter : StreamListener {
  TcpPipeline* pipe = nullptr;
  bool half = false;
  std::size_t seen = 0;
  void on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator, uint32_t n) override {
    if (d != tcp::Dir::up) return;
    seen += n;
    if (seen > 10) pipe->rule_reset(*conn.conn, conn.packet, conn.packet_dir, half);
  }
  void on_end(const StreamConn&, tcp::Dir) override {}
  void on_close(const StreamConn&) override {}
};

void reset_case(bool half) {
  Harness h;
  Resetter rs;
  rs.pipe = h.proc.get();
  rs.half = half;
  h.proc->add_stream_listener(&rs);
  std::vector<rte_mbuf*> kept;
  h.io.keep = &kept;
  Conversation c(half ? 40201 : 40200);
  const uint32_t C = c.cseq + 1, S = c.sseq + 1;
  const uint64_t t = 100 * sec;
  h.run({c.seg(true, 0x02, c.cseq, 0, 0, t), c.seg(false, 0x12, c.sseq, C, 0, t + 1),
         c.seg(true, 0x10, C, S, 0, t + 2), c.seg(true, 0x18, C, S, 6, t + 3),
         c.seg(false, 0x18, S, C + 6, 4, t + 4),
         c.seg(true, 0x18, C + 6, S + 4, 6, t + 5), // 12 bytes: reset here, this segment dropped
         c.seg(true, 0x18, C + 12, S + 4, 6, t + 6)}); // later: dropped silently
  std::vector<Sent> out = decode_sent(kept, c);
  for (rte_mbuf* m : kept) rte_pktmbuf_free(m);
  std::string listing;
  for (const Sent& o : out)
    listing += (o.from_client ? "c " : "s ") + std::to_string(o.seq) + " " + std::to_string(o.ack) + " " +
               std::to_string(o.payload.size()) + "\n";
  ASSERT_EQ(out.size(), half ? 6u : 7u) << listing;
  // The two RSTs leave by different ports (toward the client: back out the
  // port the client's packets come in by), so find them by direction.
  int to_client = 0, to_server = 0;
  for (std::size_t i = 5; i < out.size(); ++i) {
    EXPECT_EQ(out[i].ack, 0u);
    EXPECT_TRUE(out[i].payload.empty());
    if (out[i].from_client) {
      ++to_server;
      EXPECT_EQ(out[i].seq, C + 6) << "the dropped segment's bytes never left";
    } else {
      ++to_client;
      EXPECT_EQ(out[i].seq, S + 4) << "at the end of what the client received";
    }
  }
  EXPECT_EQ(to_client, half ? 0 : 1);
  EXPECT_EQ(to_server, 1);
  EXPECT_EQ(h.group("connections")["closed_dropped"], 1u);
  EXPECT_EQ(h.dropped(DropReason::connection_dropped), 2u);
  EXPECT_EQ(h.group("streams")["resets_forged"], half ? 1u : 2u);
  EXPECT_TRUE(h.counters.snapshot().balanced());
}

TEST_F(TcpPipelineTest, RuleResetForgesAcceptableRstsAndDropsTheRest) { reset_case(false); }
TEST_F(TcpPipelineTest, RuleHalfResetOnlyTellsTheServer) { reset_case(true); }

} // namespace
} // namespace haka::engine

namespace haka::engine {
namespace {

// The stream stage without a reader: in-order bytes pass, each kept in one
// chunk node until the peer acknowledges it, and an idle connection holds no
// node at all (no stream end markers, no kept sentinels).
TEST_F(TcpPipelineTest, StreamStageWithoutReaderHoldsNoNodeOnceAcknowledged) {
  test::init_eal_once();
  OutputQueue out(64);
  StreamStageConfig sc;
  sc.pool = pool();
  sc.connections = 4;
  sc.chunks = 64;
  std::string err;
  auto stage = StreamStage::create(sc, out, err);
  ASSERT_TRUE(stage) << err;
  tcp::Connection c;
  c.ep[0].isn = tcp::Seq{1000};
  c.ep[1].isn = tcp::Seq{5000};
  Conversation conv(40001);
  net::DecodeConfig dc;
  auto segment = [&](bool from_client, uint32_t seq, uint32_t ack, std::size_t len) {
    rte_mbuf* m = conv.seg(from_client, 0x18, seq, ack, len, 1);
    EXPECT_EQ(net::decode(m, dc), net::DecodeOutcome::tcp);
    const bool took = stage->on_segment(c, from_client ? tcp::Dir::up : tcp::Dir::down, m, tcp::StepResult{});
    EXPECT_FALSE(took) << "in order, no reader: the packet leaves at once";
    rte_pktmbuf_free(m);
  };
  vbuffer::BufferPool& nodes = stage->buffers();
  segment(true, 1001, 5001, 100);
  EXPECT_EQ(nodes.chunks_in_use(), 1u) << "the client's bytes, kept until acknowledged";
  segment(false, 5001, 1101, 50);
  EXPECT_EQ(nodes.chunks_in_use(), 1u) << "the client's kept node freed by the ACK, the server's kept";
  segment(true, 1101, 5051, 10);
  EXPECT_EQ(nodes.chunks_in_use(), 1u);
  segment(false, 5051, 1111, 1);
  segment(true, 1111, 5052, 1);
  segment(false, 5052, 1112, 1);
  EXPECT_EQ(nodes.chunks_in_use(), 1u) << "one node per unacknowledged packet, never a sentinel or end marker";
  EXPECT_EQ(out.size(), 0u);
  stage->on_close(c, DropReason::shutdown);
  EXPECT_EQ(nodes.chunks_in_use(), 0u);
  EXPECT_EQ(c.streams, 0u);
}

} // namespace
} // namespace haka::engine
