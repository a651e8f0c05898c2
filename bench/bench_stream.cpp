// Stream reassembly benchmarks (issue 4), one core:
//  * TcpStream alone, one direction: receive, a C++ consumer that reads every
//    delivered byte in place (walking the vbuffer chunks from the iterator),
//    release, keep (for retransmission checks), then the receiver's ACK every
//    second segment: in order, with 10 % of segments swapped with their
//    successor, at 1460- and 64-byte payloads. Next to it, in the same run,
//    the same loop with no consumer and a baseline that only reads every
//    payload byte of the same mbufs (the limit).
//  * Memory a connection holds at rest: the stage's per-connection state and
//    the chunks an idle connection keeps after its data left and was acked.
//  * The whole TcpPipeline (real Worker loop, preloaded traffic) with
//    reassembly off, on, and on with a listener reading every byte, next to
//    a touch-only loop over the same packets, in the same iteration.
//
//   build/bench/bench_stream --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//       [--eal="--no-huge -m 1024"]   (default: 2 MB hugepages, --socket-mem 1024)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <immintrin.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "engine/alerts.hpp"
#include "engine/output_queue.hpp"
#include "engine/stream_stage.hpp"
#include "engine/tcp_pipeline.hpp"
#include "engine/worker.hpp"
#include "io/packet_pool.hpp"
#include "net/forge.hpp"
#include "net/packet_meta.hpp"
#include "tcp/tcp_stream.hpp"
#include "vbuffer/vbuffer.hpp"

namespace {

using namespace haka;
using tcp::Seq;

constexpr uint32_t kHeader = 54;    // Ethernet + IPv4 + TCP: the payload's offset
constexpr uint32_t kSegments = 4096; // preloaded segments per pass (about 8 MB of mbufs at 1460)

std::string g_eal; // extra EAL arguments (--eal=...)

rte_mempool* mempool() {
  static rte_mempool* mp = [] {
    std::vector<std::string> args = {"bench_stream", "-l", "0", "--no-pci", "--no-shconf", "--no-telemetry",
                                     "--log-level=*:error",
                                     "--file-prefix=haka-bench-stream-" + std::to_string(getpid())};
    if (g_eal.empty()) {
      args.push_back("--socket-mem");
      args.push_back("1024");
    }
    for (std::size_t p = 0, q; p < g_eal.size(); p = q + 1) {
      q = g_eal.find(' ', p);
      if (q == std::string::npos) q = g_eal.size();
      if (q > p) args.push_back(g_eal.substr(p, q - p));
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      std::fprintf(stderr, "bench_stream: EAL init failed (reserve hugepages or pass --eal=\"--no-huge -m 1024\")\n");
      std::abort();
    }
    rte_mempool* p = rte_pktmbuf_pool_create("bench_stream", 2 * kSegments + 8191, 256,
                                             sizeof(net::PacketMeta), RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (p == nullptr) std::abort();
    return p;
  }();
  return mp;
}

/// `n` packets of kHeader + `payload` bytes, payload bytes varied.
std::vector<rte_mbuf*> make_segments(uint32_t n, uint32_t payload) {
  std::vector<rte_mbuf*> v;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = rte_pktmbuf_alloc(mempool());
    if (m == nullptr) std::abort();
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(kHeader + payload)));
    for (uint32_t k = 0; k < kHeader + payload; ++k) p[k] = static_cast<uint8_t>(i * 31 + k * 7);
    v.push_back(m);
  }
  return v;
}

void free_segments(std::vector<rte_mbuf*>& v) {
  for (rte_mbuf* m : v) rte_pktmbuf_free(m);
  v.clear();
}

/// The consumer's work on bytes: their sum (reads every byte; the same
/// whatever the chunk boundaries, so the stream's sum can be checked). 32
/// bytes per instruction (vpsadbw), so the consumer costs about what reading
/// the bytes costs and the stream's own overhead shows.
inline uint64_t touch(const uint8_t* b, uint32_t len) {
  uint64_t s = 0;
  uint32_t i = 0;
#ifdef __AVX2__
  __m256i acc = _mm256_setzero_si256();
  const __m256i zero = _mm256_setzero_si256();
  for (; i + 32 <= len; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
  for (; i < len; ++i) s += b[i];
  return s;
}

/// A consumer of on_data(first, n): walks the chunks from the iterator, in
/// place (no copy), skipping control chunks.
inline uint64_t consume(const vbuffer::Iterator& first, uint32_t n) {
  uint64_t s = 0;
  const vbuffer::Chunk* c = first.chunk();
  uint32_t off = first.offset();
  while (n > 0) {
    if (c->kind == vbuffer::ChunkKind::data) {
      const uint32_t k = std::min(c->size - off, n);
      s += touch(c->bytes + off, k);
      n -= k;
    } else if (c->is_end()) [[unlikely]] {
      std::fprintf(stderr, "bench_stream: the stream ended %u bytes early\n", n);
      std::abort();
    }
    off = 0;
    c = c->next;
  }
  return s;
}

/// Order of the segments in a pass: in order, or with `swap_pct` % of the
/// segments swapped with their successor (non-overlapping pairs, seeded).
std::vector<uint32_t> make_order(uint32_t n, uint32_t swap_pct, uint32_t& swaps) {
  std::vector<uint32_t> o(n);
  for (uint32_t i = 0; i < n; ++i) o[i] = i;
  swaps = 0;
  if (swap_pct == 0) return o;
  // A pair starts at a position with probability p, and consumes two: the
  // fraction of segments that start a swapped pair is p / (1 + p) = swap_pct.
  const double frac = swap_pct / 100.0, p = frac / (1 - frac);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i + 1 < n;) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (double(x % 1000000) / 1e6 < p) {
      std::swap(o[i], o[i + 1]);
      ++swaps;
      i += 2;
    } else {
      ++i;
    }
  }
  return o;
}

enum class Consumer { touch, none };

/// One direction's reassembly as the stream stage drives it.
void stream_loop(benchmark::State& state, uint32_t payload, uint32_t swap_pct, Consumer consumer) {
  std::vector<rte_mbuf*> segs = make_segments(kSegments, payload);
  uint32_t swaps = 0;
  const std::vector<uint32_t> order = make_order(kSegments, swap_pct, swaps);
  uint64_t expect = 0;
  for (rte_mbuf* m : segs) expect += touch(rte_pktmbuf_mtod_offset(m, const uint8_t*, kHeader), payload);

  vbuffer::BufferPool buffers(mempool(), 1u << 15);
  tcp::StreamConfig cfg; // the engine's defaults (bsd overlap policy, 64 queued pieces)
  tcp::StreamPool spool(buffers, cfg);
  tcp::TcpStream s;
  Seq base{0xfffff000u}; // wraps during the first pass
  if (s.init(spool, base) != vbuffer::Error::ok) std::abort();

  uint64_t sum = 0, bad = 0;
  for (auto _ : state) {
    for (uint32_t i = 0; i < kSegments; ++i) {
      const uint32_t k = order[i];
      rte_mbuf* m = segs[k];
      const Seq seq = base + k * payload;
      tcp::Arrival a;
      s.receive(spool, m, seq, kHeader, payload, base, false, seq, seq + payload, a);
      if (tcp::stream_verdict(a.outcome) != tcp::StreamVerdict::held) [[unlikely]]
        ++bad;
      if (consumer == Consumer::touch && a.new_bytes != 0) sum += consume(a.first_new, a.new_bytes);
      tcp::Released r;
      while (s.release(spool, r)) {
        if (r.held != nullptr) {
          // The packet leaves (here: stays preloaded; the stream's own
          // references went with its chunks) and its bytes are kept until acked.
          s.keep(spool, r.bytes, r.held->seq);
          spool.free_held(r.held);
        }
        r.bytes.release();
        r = tcp::Released{};
      }
      // The receiver's ACK, every second segment (delayed ACKs).
      if (i % 2 == 1) s.acked(s.released_seq());
    }
    base += kSegments * payload;
  }
  s.acked(s.released_seq());
  if (bad != 0) state.SkipWithError("a segment was not held (see the stream counters)");
  if (consumer == Consumer::touch && sum != expect * state.iterations())
    state.SkipWithError("the consumer did not see every byte exactly once");
  benchmark::DoNotOptimize(sum);
  const auto bytes = static_cast<int64_t>(state.iterations() * uint64_t{kSegments} * payload);
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kSegments));
  state.counters["Gbit/s"] = benchmark::Counter(double(bytes) * 8 / 1e9, benchmark::Counter::kIsRate);
  state.counters["swapped"] = double(swaps) / kSegments;
  state.counters["chunks_left"] = buffers.chunks_in_use();
  s.clear(spool, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
  buffers.release_arena();
  free_segments(segs);
}

// The limit: read every payload byte of the same preloaded mbufs, nothing else.
void BM_TouchOnly(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  std::vector<rte_mbuf*> segs = make_segments(kSegments, payload);
  uint64_t sum = 0;
  for (auto _ : state) {
    for (rte_mbuf* m : segs) sum += touch(rte_pktmbuf_mtod_offset(m, const uint8_t*, kHeader), payload);
    benchmark::DoNotOptimize(sum);
  }
  const auto bytes = static_cast<int64_t>(state.iterations() * uint64_t{kSegments} * payload);
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kSegments));
  state.counters["Gbit/s"] = benchmark::Counter(double(bytes) * 8 / 1e9, benchmark::Counter::kIsRate);
  free_segments(segs);
}
BENCHMARK(BM_TouchOnly)->Arg(1460)->Arg(64);

void BM_StreamInOrder(benchmark::State& state) {
  stream_loop(state, static_cast<uint32_t>(state.range(0)), 0, Consumer::touch);
}
void BM_StreamReorder10(benchmark::State& state) {
  stream_loop(state, static_cast<uint32_t>(state.range(0)), 10, Consumer::touch);
}
void BM_StreamNoConsumer(benchmark::State& state) {
  stream_loop(state, static_cast<uint32_t>(state.range(0)), 0, Consumer::none);
}
void BM_StreamReorder10NoConsumer(benchmark::State& state) {
  stream_loop(state, static_cast<uint32_t>(state.range(0)), 10, Consumer::none);
}
BENCHMARK(BM_StreamInOrder)->Arg(1460)->Arg(64);
BENCHMARK(BM_StreamReorder10)->Arg(1460)->Arg(64);
BENCHMARK(BM_StreamNoConsumer)->Arg(1460)->Arg(64);
BENCHMARK(BM_StreamReorder10NoConsumer)->Arg(1460)->Arg(64);

// Memory at rest. Per-connection state: the stage reserves `connections`
// pairs, so its memory grows by sizeof(Pair) per connection reserved. Held
// at rest: the chunks (64 B nodes) and held records both directions of a
// connection keep after 8 segments each way were released and acknowledged.
void BM_MemoryAtRest(benchmark::State& state) {
  double pair_bytes = 0, chunks = 0, held = 0, pinned = 0;
  for (auto _ : state) {
    engine::OutputQueue out(64);
    std::string err;
    engine::StreamStageConfig sc;
    sc.pool = mempool();
    sc.chunks = 1024;
    sc.stream.held_packets = 64;
    sc.connections = 1000;
    auto a = engine::StreamStage::create(sc, out, err);
    sc.connections = 2000;
    auto b = engine::StreamStage::create(sc, out, err);
    if (!a || !b) {
      state.SkipWithError(err.c_str());
      return;
    }
    pair_bytes = double(b->memory_bytes() - a->memory_bytes()) / 1000;

    std::vector<rte_mbuf*> segs = make_segments(16, 1460);
    vbuffer::BufferPool buffers(mempool(), 1024);
    tcp::StreamConfig cfg;
    tcp::StreamPool spool(buffers, cfg);
    tcp::TcpStream dir[2];
    const uint32_t before = buffers.chunks_in_use();
    for (int d = 0; d < 2; ++d) {
      const Seq isn{1000u + 7777u * static_cast<uint32_t>(d)};
      if (dir[d].init(spool, isn) != vbuffer::Error::ok) std::abort();
      for (uint32_t i = 0; i < 8; ++i) {
        rte_mbuf* m = segs[static_cast<std::size_t>(d) * 8 + i];
        const Seq seq = isn + i * 1460;
        (void)dir[d].receive(spool, m, seq, kHeader, 1460, isn, false, seq, seq + 1460);
        tcp::Released r;
        while (dir[d].release(spool, r)) {
          if (r.held != nullptr) {
            dir[d].keep(spool, r.bytes, r.held->seq);
            spool.free_held(r.held);
          }
          r.bytes.release();
          r = tcp::Released{};
        }
      }
      dir[d].acked(dir[d].released_seq());
    }
    chunks = buffers.chunks_in_use() - before;
    held = double(spool.counters().held_now);
    pinned = 0;
    for (rte_mbuf* m : segs) pinned += rte_mbuf_refcnt_read(m) > 1 ? 1 : 0;
    for (auto& s : dir) s.clear(spool, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
    buffers.release_arena();
    free_segments(segs);
  }
  state.counters["pair_B"] = pair_bytes;
  state.counters["tcpstream_B"] = sizeof(tcp::TcpStream);
  state.counters["seqoffsetmap_B"] = sizeof(tcp::SeqOffsetMap);
  state.counters["chunks_at_rest"] = chunks;
  state.counters["chunk_B_at_rest"] = chunks * sizeof(vbuffer::Chunk);
  state.counters["held_at_rest"] = held;
  state.counters["mbufs_pinned"] = pinned;
  state.counters["total_B_at_rest"] = pair_bytes + chunks * sizeof(vbuffer::Chunk);
}
BENCHMARK(BM_MemoryAtRest)->Iterations(1);

// ---------------------------------------------------------------------------
// The whole pipeline (the real Worker loop over preloaded packets, as
// bench_pipeline.cpp), tracking with reassembly off then on, same packets.

/// Preloaded packets as an Io: each carries one extra reference per run, so
/// the frees on output leave it for the next run.
struct PreloadedIo {
  static constexpr bool stamps_packets = true;
  std::vector<rte_mbuf*>* pkts = nullptr;
  std::size_t pos = 0;
  uint16_t rx(uint16_t, uint16_t, rte_mbuf** out, uint16_t n) {
    const std::size_t k = std::min<std::size_t>(n, pkts->size() - pos);
    std::memcpy(out, pkts->data() + pos, k * sizeof(rte_mbuf*));
    pos += k;
    return static_cast<uint16_t>(k);
  }
  uint16_t tx(uint16_t, uint16_t, rte_mbuf** p, uint16_t n) {
    rte_pktmbuf_free_bulk(p, n);
    return n;
  }
  bool done() const { return pos >= pkts->size(); }
};

struct Traffic {
  std::unique_ptr<io::PacketPool> pool;
  std::vector<rte_mbuf*> handshake, data, close;
  uint64_t payload_bytes = 0;
};

void add(std::vector<rte_mbuf*>& v, rte_mbuf* m, uint64_t& t) {
  if (m == nullptr) std::abort();
  net::meta(m) = net::PacketMeta{};
  net::meta(m).timestamp_ns = (t += 1000);
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  v.push_back(m);
}

/// `conns` connections: handshakes; `segs` data segments each, round robin
/// over the connections, alternating directions, each acknowledging what the
/// other side sent; closes.
Traffic make_traffic(uint32_t conns, uint32_t segs, uint32_t payload) {
  Traffic t;
  (void)mempool(); // EAL
  std::string err;
  const auto n = static_cast<unsigned>(uint64_t{conns} * (segs + 6) + 4096);
  t.pool = io::PacketPool::create("bench_stream_pipe" + std::to_string(payload), n, 256,
                                  static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + 128 + payload), SOCKET_ID_ANY, err);
  if (!t.pool) {
    std::fprintf(stderr, "bench_stream: %s\n", err.c_str());
    std::abort();
  }
  rte_mempool* mp = t.pool->get();
  uint64_t ts = 1'700'000'000'000'000'000ull;
  std::vector<uint8_t> bytes(payload);
  for (uint32_t i = 0; i < payload; ++i) bytes[i] = static_cast<uint8_t>('a' + i % 26);
  auto endpoints = [](uint32_t c, bool reply) {
    net::TcpEndpoints ep;
    uint8_t cli[4] = {10, static_cast<uint8_t>(c >> 16), static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)};
    uint8_t srv[4] = {192, 168, 1, 1};
    std::memcpy(reply ? ep.src : ep.dst, srv, 4);
    std::memcpy(reply ? ep.dst : ep.src, cli, 4);
    const auto cport = static_cast<uint16_t>(1024 + c % 60000);
    ep.sport = reply ? 80 : cport;
    ep.dport = reply ? cport : 80;
    return ep;
  };
  const uint32_t cisn = 1000, sisn = 5000;
  for (uint32_t c = 0; c < conns; ++c) {
    net::TcpSegmentSpec s;
    s.seq = cisn;
    s.flags = 0x02;
    s.mss = 1460;
    add(t.handshake, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, false), s), ts);
    s = {};
    s.seq = sisn;
    s.ack = cisn + 1;
    s.flags = 0x12;
    s.mss = 1460;
    add(t.handshake, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, true), s), ts);
    s = {};
    s.seq = cisn + 1;
    s.ack = sisn + 1;
    s.flags = 0x10;
    add(t.handshake, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, false), s), ts);
  }
  for (uint32_t r = 0; r < segs; ++r) {
    const bool reply = r % 2 == 1;
    const uint32_t mine = r / 2 + (reply ? 0 : r % 2), theirs = (r + 1) / 2;
    for (uint32_t c = 0; c < conns; ++c) {
      net::TcpSegmentSpec s;
      s.flags = 0x18;
      s.payload = bytes;
      s.seq = (reply ? sisn : cisn) + 1 + mine * payload;
      s.ack = (reply ? cisn : sisn) + 1 + theirs * payload;
      add(t.data, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, reply), s), ts);
    }
  }
  t.payload_bytes = uint64_t{segs} * conns * payload;
  const uint32_t csent = (segs + 1) / 2 * payload, ssent = segs / 2 * payload;
  for (uint32_t c = 0; c < conns; ++c) {
    const uint32_t cfin = cisn + 1 + csent, sfin = sisn + 1 + ssent;
    net::TcpSegmentSpec s;
    s.flags = 0x11;
    s.seq = cfin;
    s.ack = sfin;
    add(t.close, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, false), s), ts);
    s.seq = sfin;
    s.ack = cfin + 1;
    add(t.close, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, true), s), ts);
    s.flags = 0x10;
    s.seq = cfin + 1;
    s.ack = sfin + 1;
    add(t.close, net::forge_tcp(mp, net::LinkType::ethernet, endpoints(c, false), s), ts);
  }
  return t;
}

template <class Proc>
double run_worker(Proc& proc, std::vector<rte_mbuf*>& pkts, engine::WorkerCounters& c) {
  for (rte_mbuf* m : pkts) rte_mbuf_refcnt_update(m, 1);
  PreloadedIo io{&pkts};
  engine::Worker<PreloadedIo, Proc> w(io, proc, {engine::Lane{}}, c);
  const auto t0 = std::chrono::steady_clock::now();
  while (!io.done()) w.poll();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// A rule-like consumer of the reassembled bytes: reads every byte in place.
class TouchListener : public engine::StreamListener {
 public:
  void on_data(const engine::StreamConn&, tcp::Dir, vbuffer::Iterator first, uint32_t n) override {
    sum += consume(first, n);
  }
  void on_end(const engine::StreamConn&, tcp::Dir) override {}
  void on_close(const engine::StreamConn&) override {}
  uint64_t sum = 0;
};

/// One run of the data packets through a fresh pipeline (handshakes and
/// closes untimed); seconds, or < 0 if a packet was lost.
double pipeline_run(Traffic& t, bool reassemble, uint64_t& delivered, TouchListener* listener = nullptr) {
  engine::TrackingConfig tc;
  tc.flows_v4 = 4096;
  tc.flows_v6 = 1024;
  tc.pool = t.pool->get();
  tc.reassemble = reassemble;
  engine::AlertSink alerts;
  std::string err;
  auto p = engine::TcpPipeline::create(tc, alerts, err);
  if (!p) {
    std::fprintf(stderr, "bench_stream: %s\n", err.c_str());
    std::abort();
  }
  if (listener != nullptr) p->add_stream_listener(listener);
  engine::WorkerCounters c0, c1, c2;
  run_worker(*p, t.handshake, c0);
  const double s = run_worker(*p, t.data, c1);
  run_worker(*p, t.close, c2);
  delivered = 0;
  for (auto& g : p->collect())
    for (auto& [k, v] : g.values)
      if (g.name == "streams" && (k == "bytes_up" || k == "bytes_down")) delivered += v;
  return c1.snapshot().tx_packets == t.data.size() ? s : -1;
}

// Reassembly off, on, and on with a listener reading every byte, on the same
// packets, once each per iteration; the manual time is the last one's;
// ratios are rates over off's rate in the same iteration.
void BM_PipelineReassembly(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  const auto conns = static_cast<uint32_t>(state.range(1)), segs = static_cast<uint32_t>(state.range(2));
  Traffic t = make_traffic(conns, segs, payload);
  uint64_t expect = 0;
  for (rte_mbuf* m : t.data) expect += touch(rte_pktmbuf_mtod_offset(m, const uint8_t*, kHeader), payload);
  double off_s = 0, on_s = 0, use_s = 0, touch_s = 0;
  std::vector<double> ratios, use_ratios;
  uint64_t delivered = 0;
  bool sums_ok = true;
  for (auto _ : state) {
    uint64_t d0 = 0, d2 = 0;
    TouchListener l;
    const double off = pipeline_run(t, false, d0);
    const double on = pipeline_run(t, true, delivered);
    const double use = pipeline_run(t, true, d2, &l);
    if (off < 0 || on < 0 || use < 0) {
      state.SkipWithError("a data packet did not leave");
      break;
    }
    // The limit for the consumer: only reading every payload byte of the
    // same packets, in the same order (80 MB at 1460: from DRAM, as above).
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t sum = 0;
    for (rte_mbuf* m : t.data) sum += touch(rte_pktmbuf_mtod_offset(m, const uint8_t*, kHeader), payload);
    benchmark::DoNotOptimize(sum);
    const double tch = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    touch_s += tch;
    sums_ok = sums_ok && l.sum == expect && sum == expect;
    off_s += off;
    on_s += on;
    use_s += use;
    ratios.push_back(off / on);
    use_ratios.push_back(off / use);
    state.SetIterationTime(use);
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(use_ratios.begin(), use_ratios.end());
  state.counters["consumer_Mpps"] = use_s > 0 ? double(t.data.size()) * double(state.iterations()) / use_s / 1e6 : 0;
  state.counters["consumer_payload_Gbit/s"] =
      use_s > 0 ? double(t.payload_bytes) * 8 * double(state.iterations()) / use_s / 1e9 : 0;
  state.counters["ratio_consumer_off"] = use_ratios.empty() ? 0 : use_ratios[use_ratios.size() / 2];
  state.counters["consumer_sum_ok"] = sums_ok ? 1 : 0;
  state.counters["touch_only_payload_Gbit/s"] =
      touch_s > 0 ? double(t.payload_bytes) * 8 * double(state.iterations()) / touch_s / 1e9 : 0;
  const double pkts = double(t.data.size()) * double(state.iterations());
  const double bits = double(t.payload_bytes) * 8 * double(state.iterations());
  state.counters["off_Mpps"] = off_s > 0 ? pkts / off_s / 1e6 : 0;
  state.counters["on_Mpps"] = on_s > 0 ? pkts / on_s / 1e6 : 0;
  state.counters["off_payload_Gbit/s"] = off_s > 0 ? bits / off_s / 1e9 : 0;
  state.counters["on_payload_Gbit/s"] = on_s > 0 ? bits / on_s / 1e9 : 0;
  state.counters["ratio_on_off"] = ratios.empty() ? 0 : ratios[ratios.size() / 2];
  state.counters["delivered_ok"] = delivered == t.payload_bytes ? 1 : 0;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.SetBytesProcessed(static_cast<int64_t>(t.payload_bytes * state.iterations()));
  for (auto* v : {&t.handshake, &t.data, &t.close}) free_segments(*v);
}
BENCHMARK(BM_PipelineReassembly)
    ->Args({1460, 1000, 40})
    ->Args({64, 1000, 40})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

} // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--eal=", 6) == 0) g_eal = argv[i] + 6;
    else rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  (void)mempool();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
