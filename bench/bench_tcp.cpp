// TCP tracker benchmarks: cost of step() per segment on the data path, and a
// whole connection life (open, handshake, a few segments, close, expire).
//
//   build/bench/bench_tcp --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Connections live in an array the size of a flow table's slot array, visited
// in random order, so the numbers include the cache misses the engine pays.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "tcp/tracker.hpp"

namespace {

using namespace haka::tcp;

constexpr uint8_t kAck = tcp_flag::ack;

SegmentView segment(uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len) {
  SegmentView s;
  s.seq = Seq{seq};
  s.ack = Seq{ack};
  s.flags = flags;
  s.len = len;
  s.window = 65535;
  return s;
}

SegmentView syn_segment(uint32_t isn, uint8_t flags, uint32_t ack) {
  SegmentView s = segment(isn, ack, flags, 0);
  s.options = seg_opt::mss | seg_opt::wscale;
  s.mss = 1460;
  s.wscale = 7;
  return s;
}

/// Established connections, client ISN i * 7919, server ISN ~that.
std::vector<Connection> established(std::size_t n, const TrackerConfig& cfg) {
  std::vector<Connection> cs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t c = static_cast<uint32_t>(i * 7919u), s = ~c;
    open(cs[i], syn_segment(c, tcp_flag::syn, 0), 1, cfg);
    step(cs[i], Dir::down, syn_segment(s, tcp_flag::syn | kAck, c + 1), 1, cfg);
    step(cs[i], Dir::up, segment(c + 1, s + 1, kAck, 0), 1, cfg);
  }
  return cs;
}

// One data segment (alternately each way, 64 bytes) on a random connection.
void BM_StepData(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  TrackerConfig cfg;
  auto cs = established(n, cfg);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  std::size_t k = 0;
  uint64_t now = 2;
  uint64_t rejected = 0;
  bool from_up = true;
  for (auto _ : st) {
    Connection& c = cs[order[k]];
    if (++k == n) {
      k = 0;
      from_up = !from_up; // every connection sees both directions, each acking the other
    }
    const Endpoint& up = c.endpoint(Dir::up);
    const Endpoint& down = c.endpoint(Dir::down);
    const StepResult r = from_up ? step(c, Dir::up, segment(up.next.value(), down.next.value(), kAck, 64), ++now, cfg)
                                 : step(c, Dir::down, segment(down.next.value(), up.next.value(), kAck, 64), ++now, cfg);
    rejected += r.outcome != SegmentOutcome::accepted;
  }
  if (rejected != 0) st.SkipWithError("a data segment was not accepted");
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_StepData)->Arg(1)->Arg(1 << 10)->Arg(1 << 17)->Arg(1 << 20);

// A spoofed segment (random seq/ack) on a random connection: the reject path.
void BM_StepSpoofed(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  TrackerConfig cfg;
  auto cs = established(n, cfg);
  std::mt19937 rng(7);
  uint64_t now = 2;
  for (auto _ : st) {
    Connection& c = cs[rng() % n];
    const StepResult r = step(c, Dir::up, segment(rng(), rng(), kAck, 64), ++now, cfg);
    benchmark::DoNotOptimize(r);
    if (r.outcome == SegmentOutcome::accepted) st.SkipWithError("a spoofed segment was accepted");
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_StepSpoofed)->Arg(1 << 10)->Arg(1 << 20);

// A whole short connection: SYN, SYN+ACK, ACK, request, response, FIN, ACK, FIN, ACK, expire.
void BM_ConnectionLife(benchmark::State& st) {
  TrackerConfig cfg;
  uint32_t isn = 1;
  uint64_t now = 1;
  for (auto _ : st) {
    Connection c;
    const uint32_t ci = isn, si = ~isn;
    isn += 104729;
    open(c, syn_segment(ci, tcp_flag::syn, 0), now, cfg);
    step(c, Dir::down, syn_segment(si, tcp_flag::syn | kAck, ci + 1), now, cfg);
    step(c, Dir::up, segment(ci + 1, si + 1, kAck, 0), now, cfg);
    step(c, Dir::up, segment(ci + 1, si + 1, kAck | tcp_flag::psh, 100), now, cfg);
    step(c, Dir::down, segment(si + 1, ci + 101, kAck | tcp_flag::psh, 1000), now, cfg);
    step(c, Dir::up, segment(ci + 101, si + 1001, kAck | tcp_flag::fin, 0), now, cfg);
    step(c, Dir::down, segment(si + 1001, ci + 102, kAck, 0), now, cfg);
    step(c, Dir::down, segment(si + 1001, ci + 102, kAck | tcp_flag::fin, 0), now, cfg);
    step(c, Dir::up, segment(ci + 102, si + 1002, kAck, 0), now, cfg);
    const StepResult r = expire(c, now + cfg.timed_wait_ns, cfg);
    if (!r.has(tcp_event::finished)) st.SkipWithError("connection did not finish");
    benchmark::DoNotOptimize(c);
    ++now;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_ConnectionLife);

} // namespace

BENCHMARK_MAIN();
