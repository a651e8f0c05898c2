// Flow table and timer wheel benchmarks, with DPDK's rte_hash measured in the
// same run on the same keys and the same memory (EAL --no-huge memory for both;
// one extra row puts our table in ordinary memory with transparent huge pages).
//
//   build/bench/bench_flow --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Every table is filled to its capacity (the near-full case), keys are IPv4
// 5-tuples in canonical form; lookups go in bursts of 32 keys in random order,
// including the hash computation. Tables are built once per size and reused.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <tuple>
#include <random>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "flow/flow_table.hpp"
#include "flow/timer_wheel.hpp"

namespace {

using haka::flow::FlowKey4;
using haka::flow::FlowKey6;
using haka::flow::FlowTable4;
using haka::flow::FlowTable6;
using haka::flow::FlowTableConfig;
using haka::flow::MemorySource;

constexpr std::size_t kBurst = 32;
constexpr uint32_t kMissBase = 0x80000000u; // ids never inserted
constexpr std::size_t kMaxQueries = std::size_t{1} << 20;

// The id-th distinct IPv4 flow (ids < 2^32 give distinct keys).
FlowKey4 key4(uint32_t id) {
  const std::array<uint8_t, 4> a{10, static_cast<uint8_t>(id >> 16), static_cast<uint8_t>(id >> 8),
                                 static_cast<uint8_t>(id)};
  const std::array<uint8_t, 4> b{192, 168, static_cast<uint8_t>(id >> 24), 1};
  return FlowKey4::make(a, b, static_cast<uint16_t>(1024 + id % 60000), 80, 6).key;
}

FlowKey6 key6(uint32_t id) {
  std::array<uint8_t, 16> a{}, b{};
  a[0] = 0x20, a[1] = 0x01, a[7] = 0x42;
  std::memcpy(&a[12], &id, 4);
  b[0] = 0x20, b[1] = 0x01, b[15] = 1;
  return FlowKey6::make(a, b, static_cast<uint16_t>(1024 + id % 60000), 443, 6).key;
}

// Random query ids: hits are a shuffled sample of [0, n), misses never-inserted ids.
const std::vector<uint32_t>& queries(uint32_t n, bool hit) {
  static std::map<std::pair<uint32_t, bool>, std::vector<uint32_t>> cache;
  auto& q = cache[{n, hit}];
  if (q.empty()) {
    std::mt19937 rng(n * 2 + hit);
    const std::size_t len = std::min<std::size_t>(std::max<std::size_t>(n, kBurst * 64), kMaxQueries);
    q.resize(len);
    for (auto& id : q) id = hit ? static_cast<uint32_t>(rng() % n) : kMissBase + static_cast<uint32_t>(rng() % (1u << 30));
  }
  return q;
}

template <class Key>
std::vector<Key> query_keys(uint32_t n, bool hit, Key (*make)(uint32_t)) {
  const auto& ids = queries(n, hit);
  std::vector<Key> k(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) k[i] = make(ids[i]);
  return k;
}

// ---------------------------------------------------------------------------
// Our table.

template <class Table>
struct Ours {
  std::optional<Table> t;
  uint32_t n = 0;
  std::vector<uint32_t> ring; // slot of each live id, oldest first (churn)
  std::size_t head = 0;
  uint32_t next_id = 0;
  uint32_t refused = 0;
};

// role 0: lookups (never changes once built), 1: churn (its own copy, so
// benchmarks can run in any order, interleaved).
template <class Table, class Key>
Ours<Table>& ours(uint32_t n, MemorySource mem, Key (*make)(uint32_t), int role = 0) {
  static std::map<std::tuple<uint32_t, int, int>, std::unique_ptr<Ours<Table>>> cache;
  auto& p = cache[{n, static_cast<int>(mem), role}];
  if (!p) {
    p = std::make_unique<Ours<Table>>();
    FlowTableConfig cfg;
    cfg.capacity = n;
    cfg.seed = 0x1234;
    cfg.memory = mem;
    p->t = Table::create_seeded(cfg);
    if (!p->t) {
      std::fprintf(stderr, "flow table of %u: no memory\n", n);
      std::abort();
    }
    p->n = n;
    p->ring.resize(n);
    for (uint32_t id = 0; id < n; ++id) {
      const Key k = make(id);
      const auto r = p->t->insert(k, p->t->hash(k), false);
      if (!r.ok()) ++p->refused;
      p->ring[id] = r.slot;
    }
    p->next_id = n;
  }
  return *p;
}

template <class Table, class Key>
void our_lookup(benchmark::State& st, MemorySource mem, Key (*make)(uint32_t)) {
  const auto n = static_cast<uint32_t>(st.range(0));
  const bool hit = st.range(1) != 0;
  auto& o = ours<Table>(n, mem, make);
  const auto keys = query_keys(n, hit, make);
  std::array<uint32_t, kBurst> slots;
  std::size_t pos = 0;
  uint64_t found = 0;
  for (auto _ : st) {
    const uint64_t m = o.t->lookup_bulk(std::span(keys.data() + pos, kBurst), {}, slots);
    found += static_cast<uint64_t>(std::popcount(m));
    benchmark::DoNotOptimize(slots);
    pos += kBurst;
    if (pos + kBurst > keys.size()) pos = 0;
  }
  const uint64_t total = st.iterations() * kBurst;
  if (found != (hit ? total : 0)) st.SkipWithError("wrong lookup results");
  st.SetItemsProcessed(static_cast<int64_t>(total));
  st.counters["bytes_per_flow"] = static_cast<double>(o.t->memory_bytes()) / n;
  st.counters["refused_at_fill"] = o.refused;
}

void BM_Ours_Lookup4(benchmark::State& st) { our_lookup<FlowTable4>(st, MemorySource::dpdk, key4); }
void BM_Ours_Lookup4_THP(benchmark::State& st) { our_lookup<FlowTable4>(st, MemorySource::ordinary, key4); }
void BM_Ours_Lookup6(benchmark::State& st) { our_lookup<FlowTable6>(st, MemorySource::dpdk, key6); }

// One insert of a new flow plus one erase of the oldest, on a full table.
void BM_Ours_InsertErase4(benchmark::State& st) {
  const auto n = static_cast<uint32_t>(st.range(0));
  auto& o = ours<FlowTable4>(n, MemorySource::dpdk, key4, 1);
  for (auto _ : st) {
    o.t->erase(o.ring[o.head]);
    const FlowKey4 k = key4(o.next_id++);
    const auto r = o.t->insert(k, o.t->hash(k), false);
    if (!r.ok()) ++o.refused;
    o.ring[o.head] = r.slot;
    if (++o.head == n) o.head = 0;
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["refused"] = o.refused;
}

// ---------------------------------------------------------------------------
// rte_hash, same keys (16-byte canonical FlowKey4), CRC32 hash, default flags.

struct Rte {
  rte_hash* h = nullptr;
  uint32_t n = 0;
  uint32_t lo = 0; // live ids are [lo, lo + n) minus refused ones
  uint32_t refused = 0;
  std::size_t bytes = 0;
};

template <class Key>
Rte& rte(uint32_t n, Key (*make)(uint32_t), int role = 0) {
  static std::map<std::pair<uint32_t, int>, std::unique_ptr<Rte>> cache;
  auto& p = cache[{n, role}];
  if (!p) {
    p = std::make_unique<Rte>();
    char name[RTE_HASH_NAMESIZE];
    std::snprintf(name, sizeof name, "bench%zu_%u_%d", sizeof(Key), n, role);
    rte_hash_parameters prm{};
    prm.name = name;
    prm.entries = n;
    prm.key_len = sizeof(Key);
    prm.hash_func = rte_hash_crc;
    prm.hash_func_init_val = 0x1234;
    prm.socket_id = static_cast<int>(rte_socket_id());
    rte_malloc_socket_stats before{}, after{};
    rte_malloc_get_socket_stats(prm.socket_id, &before);
    p->h = rte_hash_create(&prm);
    rte_malloc_get_socket_stats(prm.socket_id, &after);
    if (p->h == nullptr) {
      std::fprintf(stderr, "rte_hash of %u: %s (EAL heap: %zu bytes, %zu free, largest free %zu)\n", n,
                   rte_strerror(rte_errno), after.heap_totalsz_bytes, after.heap_freesz_bytes,
                   after.greatest_free_size);
      std::abort();
    }
    p->bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
    p->n = n;
    for (uint32_t id = 0; id < n; ++id) {
      const Key k = make(id);
      if (rte_hash_add_key(p->h, &k) < 0) ++p->refused;
    }
  }
  return *p;
}

template <class Key>
void rte_lookup(benchmark::State& st, Key (*make)(uint32_t)) {
  const auto n = static_cast<uint32_t>(st.range(0));
  const bool hit = st.range(1) != 0;
  auto& r = rte(n, make);
  const auto keys = query_keys(n, hit, make);
  std::vector<const void*> ptrs(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) ptrs[i] = &keys[i];
  std::array<int32_t, kBurst> pos_out;
  std::size_t pos = 0;
  uint64_t found = 0;
  for (auto _ : st) {
    rte_hash_lookup_bulk(r.h, ptrs.data() + pos, kBurst, pos_out.data());
    for (int32_t p : pos_out) found += p >= 0;
    benchmark::DoNotOptimize(pos_out);
    pos += kBurst;
    if (pos + kBurst > keys.size()) pos = 0;
  }
  const uint64_t total = st.iterations() * kBurst;
  // Keys refused at fill time miss; allow exactly those.
  if (!hit && found != 0) st.SkipWithError("wrong lookup results");
  if (hit && r.refused == 0 && found != total) st.SkipWithError("wrong lookup results");
  st.SetItemsProcessed(static_cast<int64_t>(total));
  st.counters["bytes_per_flow"] = static_cast<double>(r.bytes) / n;
  st.counters["refused_at_fill"] = r.refused;
}

void BM_Rte_Lookup4(benchmark::State& st) { rte_lookup(st, key4); }
void BM_Rte_Lookup6(benchmark::State& st) { rte_lookup(st, key6); }

void BM_Rte_InsertErase4(benchmark::State& st) {
  const auto n = static_cast<uint32_t>(st.range(0));
  auto& r = rte(n, key4, 1);
  for (auto _ : st) {
    const FlowKey4 old = key4(r.lo);
    rte_hash_del_key(r.h, &old);
    const FlowKey4 k = key4(r.lo + n);
    if (rte_hash_add_key(r.h, &k) < 0) ++r.refused;
    ++r.lo;
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["refused"] = r.refused;
}

// ---------------------------------------------------------------------------
// Timer wheel: a packet refreshing its flow's idle timeout (the per-packet
// cost), and expiring a million timers (the per-timer cost of advance).

void BM_Timer_Refresh(benchmark::State& st) {
  const auto n = static_cast<uint32_t>(st.range(0));
  haka::flow::TimerWheelConfig cfg;
  cfg.capacity = n;
  auto w = haka::flow::TimerWheel::create(cfg);
  std::vector<uint32_t> order(kMaxQueries);
  std::mt19937 rng(5);
  for (auto& s : order) s = rng() % n;
  const uint64_t timeout = 300ull * 1'000'000'000; // 5 min idle
  for (uint32_t s = 0; s < n; ++s) w->schedule(s, timeout);
  uint64_t now = 0;
  std::size_t i = 0;
  for (auto _ : st) {
    w->schedule(order[i], now + timeout);
    now += 1000; // 1 us between packets
    if (++i == order.size()) i = 0;
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_Timer_Expire(benchmark::State& st) {
  const uint32_t n = 1'000'000;
  haka::flow::TimerWheelConfig cfg;
  cfg.capacity = n;
  auto w = haka::flow::TimerWheel::create(cfg);
  std::mt19937 rng(6);
  uint64_t base = 0;
  uint64_t fired = 0;
  for (auto _ : st) {
    st.PauseTiming();
    for (uint32_t s = 0; s < n; ++s) w->schedule(s, base + (rng() % 3600) * 1'000'000'000ull);
    st.ResumeTiming();
    base += 3601ull * 1'000'000'000;
    fired += w->advance(base, [](uint32_t s) { benchmark::DoNotOptimize(s); });
  }
  st.SetItemsProcessed(static_cast<int64_t>(fired));
}

const std::vector<int64_t> kSizes = {1000, 100'000, 1'000'000, 10'000'000};

void register_all() {
  for (int64_t n : kSizes) {
    for (int hit : {1, 0}) {
      benchmark::RegisterBenchmark("BM_Ours_Lookup4", BM_Ours_Lookup4)->Args({n, hit});
      benchmark::RegisterBenchmark("BM_Rte_Lookup4", BM_Rte_Lookup4)->Args({n, hit});
    }
    if (n >= 1'000'000)
      for (int hit : {1, 0})
        benchmark::RegisterBenchmark("BM_Ours_Lookup4_THP", BM_Ours_Lookup4_THP)->Args({n, hit});
    benchmark::RegisterBenchmark("BM_Ours_InsertErase4", BM_Ours_InsertErase4)->Arg(n);
    benchmark::RegisterBenchmark("BM_Rte_InsertErase4", BM_Rte_InsertErase4)->Arg(n);
  }
  for (int hit : {1, 0}) {
    benchmark::RegisterBenchmark("BM_Ours_Lookup6", BM_Ours_Lookup6)->Args({1'000'000, hit});
    benchmark::RegisterBenchmark("BM_Rte_Lookup6", BM_Rte_Lookup6)->Args({1'000'000, hit});
  }
  benchmark::RegisterBenchmark("BM_Timer_Refresh", BM_Timer_Refresh)->Arg(1'000'000);
  benchmark::RegisterBenchmark("BM_Timer_Expire", BM_Timer_Expire)->Iterations(3);
}

} // namespace

int main(int argc, char** argv) {
  // Both tables get the same EAL memory: 4 KiB pages, no hugepages needed.
  const char* eal[] = {"bench_flow", "--no-huge", "-m", "6144", "--no-pci", "--no-shconf",
                       "--no-telemetry", "-l", "0", "--log-level=*:error"};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
    std::fprintf(stderr, "rte_eal_init failed\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // No rte_eal_cleanup(): the cached tables are freed by static destructors
  // after main returns, and rte_free needs the EAL still up then.
  return 0;
}
