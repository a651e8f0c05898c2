// vbuffer benchmarks: the stream's fast path (push + pop of one packet, no
// marks, no edits), reading every byte of a stream across chunks, and a
// packet with edits (copy-on-write write, insert, erase) on its way through.
//
//   build/bench/bench_vbuffer --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "net/packet_meta.hpp"
#include "vbuffer/stream.hpp"

namespace {

using namespace haka::vbuffer;

constexpr uint32_t kHeader = 54;

rte_mempool* mempool() {
  static rte_mempool* mp = [] {
    std::string prefix = "--file-prefix=haka-bench-vb-" + std::to_string(getpid());
    std::vector<std::string> args = {"bench", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                     "--no-telemetry", "--log-level=*:error", prefix};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) std::abort();
    rte_mempool* p = rte_pktmbuf_pool_create("bench_vb", 8191, 256, sizeof(haka::net::PacketMeta),
                                             RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (p == nullptr) std::abort();
    return p;
  }();
  return mp;
}

rte_mbuf* make_packet(uint32_t payload) {
  rte_mbuf* m = rte_pktmbuf_alloc(mempool());
  auto* p = rte_pktmbuf_mtod(m, uint8_t*);
  rte_pktmbuf_append(m, static_cast<uint16_t>(kHeader + payload));
  for (uint32_t i = 0; i < kHeader + payload; ++i) p[i] = static_cast<uint8_t>(i * 7);
  return m;
}

// One packet in, one packet out: what every in-order segment costs.
void BM_PushPop(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  BufferPool pool(mempool(), 1024);
  Stream s(pool);
  rte_mbuf* m = make_packet(payload);
  Popped out;
  for (auto _ : state) {
    (void)s.push(m, kHeader, payload, m);
    Error e = s.pop(out);
    benchmark::DoNotOptimize(e);
    out.bytes.release();
  }
  state.SetItemsProcessed(state.iterations());
  s.clear();
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_PushPop)->Arg(64)->Arg(1460);

// A burst of 32 pushes, then 32 pops (packets pending together, as in a burst).
void BM_PushPopBurst(benchmark::State& state) {
  BufferPool pool(mempool(), 1024);
  Stream s(pool);
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < 32; ++i) pkts.push_back(make_packet(1460));
  Popped out;
  for (auto _ : state) {
    for (rte_mbuf* m : pkts) (void)s.push(m, kHeader, 1460, m);
    for (int i = 0; i < 32; ++i) {
      (void)s.pop(out);
      out.bytes.release();
    }
  }
  state.SetItemsProcessed(state.iterations() * 32);
  s.clear();
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
}
BENCHMARK(BM_PushPopBurst);

// The consumer: touches every byte, 8 at a time (its own cost is small next
// to the chain's).
uint64_t touch(const uint8_t* b, std::size_t len) {
  uint64_t x = 0;
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, b + i, 8);
    x ^= w;
  }
  for (; i < len; ++i) x ^= b[i];
  return x;
}

// Reading every byte of 64 pushed packets through the chain.
void read_every_byte(benchmark::State& state, uint32_t payload, bool by_segment) {
  BufferPool pool(mempool(), 4096);
  Stream s(pool);
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < 64; ++i) {
    pkts.push_back(make_packet(payload));
    (void)s.push(pkts.back(), kHeader, payload, nullptr);
  }
  const std::size_t total = std::size_t{64} * payload;
  for (auto _ : state) {
    uint64_t sum = 0;
    if (by_segment) {
      s.data().for_each_segment([&](const uint8_t* b, uint32_t len, rte_mbuf*) { sum += touch(b, len); });
    } else {
      // The generic path: 256-byte reads through a Sub, whatever the chunks.
      Iterator it = s.data().begin();
      uint8_t block[256];
      for (;;) {
        Sub sub;
        (void)it.sub(sizeof block, false, sub);
        std::size_t n = 0;
        (void)sub.read(block, n);
        if (n == 0) break;
        sum += touch(block, n);
      }
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  s.clear();
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
}
void BM_ReadSegments(benchmark::State& state) { read_every_byte(state, static_cast<uint32_t>(state.range(0)), true); }
void BM_ReadSub(benchmark::State& state) { read_every_byte(state, static_cast<uint32_t>(state.range(0)), false); }
BENCHMARK(BM_ReadSegments)->Arg(64)->Arg(1460);
BENCHMARK(BM_ReadSub)->Arg(64)->Arg(1460);

// A packet whose bytes a rule edits: 4-byte overwrite (copy-on-write of the
// chunk), 8-byte insert, 8-byte erase, then pop and copy the result out.
void BM_EditedPacket(benchmark::State& state) {
  BufferPool pool(mempool(), 1024);
  Stream s(pool);
  rte_mbuf* m = make_packet(1460);
  const uint8_t ins[8] = {'i', 'n', 's', 'e', 'r', 't', 'e', 'd'};
  uint8_t out_bytes[2048];
  Popped out;
  for (auto _ : state) {
    Iterator cur;
    (void)s.push(m, kHeader, 1460, m, &cur);
    Sub head = Sub::from(cur, 4);
    (void)head.write(std::span<const uint8_t>(ins, 4));
    Iterator at = cur;
    (void)at.advance(100);
    Buffer b;
    (void)Buffer::from(pool, ins, b);
    (void)at.insert(b);
    Sub gone;
    (void)at.sub(8, false, gone);
    (void)gone.erase();
    (void)s.pop(out);
    benchmark::DoNotOptimize(out.bytes.copy_to(out_bytes));
    out.bytes.release();
  }
  state.SetItemsProcessed(state.iterations());
  s.clear();
  pool.release_arena();
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_EditedPacket);

} // namespace

BENCHMARK_MAIN();
