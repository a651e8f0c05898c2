// Hostile input: random and mutated frames of every link type through the
// whole tracking pipeline. Each frame lives in a heap buffer of exactly its
// length, attached to its mbuf as an external buffer, so an ASan build reports
// any read past the end of a packet. Checks: no crash, accounting balanced,
// every mbuf back in the pool.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include <rte_mbuf.h>

#include "engine/tcp_pipeline.hpp"
#include "engine/worker.hpp"
#include "fake_io.hpp"
#include "net/forge.hpp"
#include "test_eal.hpp"

namespace haka::engine {
namespace {

rte_mempool* pool() {
  static rte_mempool* p = test::make_pool("hostile_test", 1023);
  return p;
}

void free_heap(void* addr, void* opaque) {
  delete[] static_cast<uint8_t*>(addr);
  delete static_cast<rte_mbuf_ext_shared_info*>(opaque);
}

/// An mbuf whose data is a heap copy of `bytes`, exactly as long.
rte_mbuf* exact_mbuf(const std::vector<uint8_t>& bytes, uint64_t t) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  if (m == nullptr) return nullptr;
  const uint16_t len = static_cast<uint16_t>(bytes.size());
  auto* buf = new uint8_t[len == 0 ? 1 : len];
  if (len != 0) std::memcpy(buf, bytes.data(), len);
  auto* sh = new rte_mbuf_ext_shared_info{};
  sh->free_cb = free_heap;
  sh->fcb_opaque = sh;
  rte_mbuf_ext_refcnt_set(sh, 1);
  rte_pktmbuf_attach_extbuf(m, buf, RTE_BAD_IOVA, len == 0 ? 1 : len, sh);
  m->data_len = len;
  m->pkt_len = len;
  net::meta(m) = net::PacketMeta{};
  net::meta(m).timestamp_ns = t;
  return m;
}

std::vector<uint8_t> bytes_of(rte_mbuf* m) {
  std::vector<uint8_t> v(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_mtod(m, uint8_t*) + m->data_len);
  rte_pktmbuf_free(m);
  return v;
}

TEST(Hostile, MutatedFramesNeverCrashOrLeak) {
  test::init_eal_once();
  std::mt19937_64 rng(20261126);
  for (net::LinkType link : {net::LinkType::ethernet, net::LinkType::raw_ip, net::LinkType::linux_sll,
                             net::LinkType::linux_sll2}) {
    for (bool pass_through : {false, true}) {
      TrackingConfig tc;
      tc.pool = pool();
      tc.flows_v4 = 256;
      tc.flows_v6 = 64;
      tc.pass_through = pass_through;
      tc.decode.link = link;
      tc.mtu = 576;
      AlertSink alerts;
      alerts.set_text_stream(nullptr);
      std::string err;
      auto proc = TcpPipeline::create(tc, alerts, err);
      ASSERT_TRUE(proc) << err;
      FakeIo io;
      WorkerCounters counters;
      uint64_t t = 1'000'000'000;
      for (int burst = 0; burst < 150; ++burst) {
        std::vector<rte_mbuf*> pkts;
        for (int i = 0; i < 32; ++i) {
          t += rng() % 3'000'000'000ull; // sometimes past timeouts
          std::vector<uint8_t> b;
          if (rng() % 8 == 0) {
            b.resize(rng() % 200);
            for (auto& x : b) x = static_cast<uint8_t>(rng());
          } else {
            net::TcpEndpoints ep;
            ep.l3 = rng() % 3 == 0 ? net::L3Kind::ipv6 : net::L3Kind::ipv4;
            ep.src[3] = static_cast<uint8_t>(rng() % 4);
            ep.dst[3] = static_cast<uint8_t>(rng() % 4);
            ep.sport = static_cast<uint16_t>(1000 + rng() % 4);
            ep.dport = 80;
            std::vector<uint8_t> payload(rng() % 64, 'x');
            net::TcpSegmentSpec s;
            s.seq = static_cast<uint32_t>(rng() % 4 == 0 ? rng() : 1000 + rng() % 100);
            s.ack = static_cast<uint32_t>(rng());
            s.flags = static_cast<uint8_t>(rng());
            s.mss = rng() % 2 ? 1460 : 0;
            s.payload = payload;
            rte_mbuf* f = net::forge_tcp(pool(), link, ep, s);
            ASSERT_NE(f, nullptr);
            b = bytes_of(f);
            // Mutate: flip bytes, then maybe cut the frame short.
            for (int k = rng() % 6; k > 0; --k) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
            if (rng() % 3 == 0) b.resize(rng() % (b.size() + 1));
          }
          rte_mbuf* m = exact_mbuf(b, t);
          ASSERT_NE(m, nullptr);
          // Most mutated frames fail their checksums; let some through unchecked.
          if (rng() % 2) m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
          pkts.push_back(m);
        }
        io.bursts.push_back(pkts);
        Worker<FakeIo, TcpPipeline> w(io, *proc, {Lane{0, 0, 1, 0}}, counters);
        w.poll();
      }
      {
        Worker<FakeIo, TcpPipeline> w(io, *proc, {Lane{0, 0, 1, 0}}, counters);
        w.finish();
      }
      CounterSnapshot s = counters.snapshot();
      EXPECT_EQ(s.rx_packets, 150u * 32);
      EXPECT_TRUE(s.balanced()) << "rx " << s.rx_packets << " injected " << s.injected << " tx " << s.tx_packets
                                << " dropped " << s.dropped() << " held " << s.held;
      EXPECT_EQ(s.held, 0u);
      if (pass_through) {
        EXPECT_EQ(s.dropped(), 0u) << "pass-through never drops";
      }
    }
  }
  EXPECT_EQ(rte_mempool_avail_count(pool()), pool()->size) << "an mbuf leaked";
}

} // namespace
} // namespace haka::engine
