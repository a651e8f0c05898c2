// Decode throughput: ns per packet for 64-byte and full-size TCP frames, with
// checksums verified in software (ol_flags UNKNOWN, as offline) and with the
// NIC's GOOD flags (as live with offloads). Reported as items/s and "s/pkt".
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "net/decode.hpp"

namespace {

using haka::net::DecodeConfig;
using haka::net::DecodeOutcome;
using haka::net::DecodeTally;

rte_mempool* g_pool = nullptr;

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
uint32_t be_sum(const uint8_t* p, std::size_t n, uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
  if (n % 2) s += uint32_t(p[n - 1]) << 8;
  return s;
}

/// An Ethernet + IPv4 (or IPv6) + TCP frame with `payload` bytes, optionally a
/// timestamps option, and valid checksums.
std::vector<uint8_t> frame(std::size_t payload, bool v6, bool timestamps) {
  const std::size_t l3 = v6 ? 40 : 20, l4 = timestamps ? 32 : 20;
  std::vector<uint8_t> b(14 + l3 + l4 + payload, 0);
  b[12] = v6 ? 0x86 : 0x08;
  b[13] = v6 ? 0xdd : 0x00;
  uint8_t* ip = &b[14];
  uint8_t* tcp = ip + l3;
  std::size_t seg = l4 + payload;
  uint32_t pseudo = 0;
  if (v6) {
    ip[0] = 0x60;
    ip[4] = static_cast<uint8_t>(seg >> 8);
    ip[5] = static_cast<uint8_t>(seg);
    ip[6] = 6;
    ip[7] = 64;
    ip[8] = 0x20;
    ip[23] = 1;
    ip[24] = 0x20;
    ip[39] = 2;
    pseudo = be_sum(ip + 8, 32) + static_cast<uint32_t>(seg) + 6;
  } else {
    std::size_t total = l3 + seg;
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = 10;
    ip[15] = 1;
    ip[16] = 10;
    ip[19] = 2;
    uint16_t ck = static_cast<uint16_t>(~fold(be_sum(ip, 20)));
    ip[10] = static_cast<uint8_t>(ck >> 8);
    ip[11] = static_cast<uint8_t>(ck);
    pseudo = be_sum(ip + 12, 8) + static_cast<uint32_t>(seg) + 6;
  }
  tcp[0] = 0x9c;
  tcp[1] = 0x40;
  tcp[3] = 80;
  tcp[7] = 1;
  tcp[12] = static_cast<uint8_t>((l4 / 4) << 4);
  tcp[13] = 0x10;
  tcp[14] = 0xff;
  tcp[15] = 0xff;
  const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  if (timestamps) std::memcpy(tcp + 20, ts, sizeof ts);
  for (std::size_t i = 0; i < payload; ++i) tcp[l4 + i] = static_cast<uint8_t>(i * 7);
  uint16_t ck = static_cast<uint16_t>(~fold(be_sum(tcp, seg, pseudo)));
  tcp[16] = static_cast<uint8_t>(ck >> 8);
  tcp[17] = static_cast<uint8_t>(ck);
  return b;
}

void decode_bench(benchmark::State& state, std::size_t payload, bool v6, uint64_t ol_flags, bool ts = false) {
  constexpr std::size_t n_pkts = 512, burst = 32;
  std::vector<uint8_t> bytes = frame(payload, v6, ts);
  std::vector<rte_mbuf*> pkts(n_pkts);
  for (rte_mbuf*& m : pkts) {
    m = rte_pktmbuf_alloc(g_pool);
    if (m == nullptr) {
      state.SkipWithError("pool empty");
      return;
    }
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size())), bytes.data(), bytes.size());
    m->ol_flags = ol_flags;
  }
  DecodeConfig cfg;
  DecodeTally tally;
  for (auto _ : state) {
    for (std::size_t i = 0; i < n_pkts; i += burst)
      haka::net::decode_burst(std::span<rte_mbuf* const>(pkts.data() + i, burst), cfg, tally);
    benchmark::ClobberMemory();
  }
  if (tally.count(DecodeOutcome::tcp) != state.iterations() * n_pkts) state.SkipWithError("not decoded as tcp");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n_pkts));
  // Seconds per packet, printed with an SI prefix ("40.1n" = 40.1 ns).
  state.counters["s/pkt"] = benchmark::Counter(static_cast<double>(state.iterations() * n_pkts),
                                               benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["frame_bytes"] = static_cast<double>(bytes.size());
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
}

constexpr uint64_t nic_good = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;

// 64-byte frames (FCS included: 14 + 20 + 20 + 6 payload + 4), and
// 1460-byte segments (1514-byte frames); IPv6 at the same frame sizes.
void BM_DecodeIpv4Tcp64Software(benchmark::State& s) { decode_bench(s, 6, false, 0); }
void BM_DecodeIpv4Tcp64NicGood(benchmark::State& s) { decode_bench(s, 6, false, nic_good); }
void BM_DecodeIpv4Tcp64TimestampsSoftware(benchmark::State& s) { decode_bench(s, 0, false, 0, true); }
void BM_DecodeIpv4Tcp1460Software(benchmark::State& s) { decode_bench(s, 1460, false, 0); }
void BM_DecodeIpv4Tcp1460NicGood(benchmark::State& s) { decode_bench(s, 1460, false, nic_good); }
void BM_DecodeIpv6Tcp64Software(benchmark::State& s) { decode_bench(s, 0, true, 0); }
void BM_DecodeIpv6Tcp1440Software(benchmark::State& s) { decode_bench(s, 1440, true, 0); }
void BM_DecodeIpv6Tcp1440NicGood(benchmark::State& s) { decode_bench(s, 1440, true, nic_good); }

BENCHMARK(BM_DecodeIpv4Tcp64Software);
BENCHMARK(BM_DecodeIpv4Tcp64NicGood);
BENCHMARK(BM_DecodeIpv4Tcp64TimestampsSoftware);
BENCHMARK(BM_DecodeIpv4Tcp1460Software);
BENCHMARK(BM_DecodeIpv4Tcp1460NicGood);
BENCHMARK(BM_DecodeIpv6Tcp64Software);
BENCHMARK(BM_DecodeIpv6Tcp1440Software);
BENCHMARK(BM_DecodeIpv6Tcp1440NicGood);

} // namespace

int main(int argc, char** argv) {
  const char* eal[] = {"bench_net", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
                       "-l", "0", "--log-level=*:error"};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
    std::fprintf(stderr, "rte_eal_init failed\n");
    return 1;
  }
  g_pool = rte_pktmbuf_pool_create("bench_net", 2047, 0, sizeof(haka::net::PacketMeta), RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
  if (g_pool == nullptr) {
    std::fprintf(stderr, "pool creation failed\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_mempool_free(g_pool);
  rte_eal_cleanup();
  return 0;
}
