// match benchmarks: stream-mode scan throughput of our StreamScanner next to
// raw hs_scan_stream on the same database, the same bytes and the same chunk
// sizes, in the same run (the ratio is what issue 6 asks for). Pattern sets:
// 10, 1000 and 10000 literals, 100 regexes. Payload: 1 MiB of pseudo-random
// words with planted matches, scanned as one stream per iteration (open,
// every chunk in order, close with end-of-stream matches).
//
//   build/bench/bench_match --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Args: {pattern set, chunk bytes}; set 0 = 10 literals, 1 = 1000 literals,
// 2 = 10000 literals, 3 = 100 regexes. BM_Raw*NoSom scans a second database
// compiled without start-of-match tracking: what SOM itself costs.
// BM_*Flows: the same bytes spread over 4096 concurrent streams;
// BM_*OpenClose: the cost of a stream's life (set 1 or 3).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "match/database.hpp"
#include "match/scanner.hpp"

namespace {

using namespace haka::match;

constexpr std::size_t kPayload = 1 << 20;

std::string random_token(std::mt19937& rng, std::size_t n) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % 36];
  return s;
}

// Literal signatures, nested: the first 10 of the 1000 are the 10-set, etc.
const std::vector<std::string>& literals() {
  static const std::vector<std::string> all = [] {
    std::mt19937 rng(1);
    std::vector<std::string> v;
    for (int i = 0; i < 10000; ++i) v.push_back(random_token(rng, 8 + rng() % 9) + "_" + std::to_string(i));
    return v;
  }();
  return all;
}

// 100 regexes in Haka syntax, five shapes around random words.
const std::vector<std::string>& regexes() {
  static const std::vector<std::string> all = [] {
    std::mt19937 rng(2);
    std::vector<std::string> v;
    for (int i = 0; i < 100; ++i) {
      const std::string w = random_token(rng, 6);
      switch (i % 5) {
        case 0: v.push_back(w + "[0-9]{2,6}[a-z]+x"); break;
        case 1: v.push_back(w + "%s*=%s*\"[^\"]{1,64}\""); break;
        case 2: v.push_back("(GET|POST) /" + w + "[a-z0-9/]*%.php"); break;
        case 3: v.push_back(w + ".{0,40}q3z"); break;
        default: v.push_back("%x90{4,}" + w); break;
      }
    }
    return v;
  }();
  return all;
}

// What a planted regex match looks like, per shape.
std::string regex_sample(int i, std::mt19937& rng) {
  const std::string& p = regexes()[static_cast<std::size_t>(i)];
  switch (i % 5) {
    case 0: return p.substr(0, 6) + "1234abcx";
    case 1: return p.substr(0, 6) + " = \"value\"";
    case 2: return "GET /" + p.substr(12, 6) + "dir/x.php";
    case 3: return p.substr(0, 6) + random_token(rng, 20) + "q3z";
    default: return "\x90\x90\x90\x90\x90" + p.substr(p.size() - 6);
  }
}

// Pseudo-random lower-case words and spaces (no digits or '_': literals
// cannot appear by chance), with a planted literal every ~4 KiB and a
// planted regex match every ~8 KiB.
const std::string& payload() {
  static const std::string text = [] {
    std::mt19937 rng(3);
    std::string s;
    s.reserve(kPayload + 256);
    std::size_t next_literal = 4096, next_regex = 8192;
    while (s.size() < kPayload) {
      const std::size_t len = 2 + rng() % 9;
      for (std::size_t i = 0; i < len; ++i) s += static_cast<char>('a' + rng() % 26);
      s += (rng() % 16 == 0) ? '\n' : ' ';
      if (s.size() >= next_literal) {
        s += literals()[rng() % 10] + " "; // in every set
        next_literal += 4096;
      }
      if (s.size() >= next_regex) {
        s += regex_sample(static_cast<int>(rng() % 100), rng) + " ";
        next_regex += 8192;
      }
    }
    s.resize(kPayload);
    return s;
  }();
  return text;
}

std::shared_ptr<const Database> database(int set, bool som) {
  static std::shared_ptr<const Database> cache[2][4];
  auto& db = cache[som ? 1 : 0][set];
  if (db) return db;
  std::vector<Pattern> patterns;
  if (set == 3) {
    for (std::size_t i = 0; i < regexes().size(); ++i) patterns.push_back({regexes()[i], 0, static_cast<uint32_t>(i)});
  } else {
    const std::size_t n = set == 0 ? 10 : set == 1 ? 1000 : 10000;
    for (std::size_t i = 0; i < n; ++i) patterns.push_back({literals()[i], 0, static_cast<uint32_t>(i)});
  }
  DatabaseOptions o;
  o.block = false;
  o.start_of_match = som;
  CompileError error;
  db = Database::compile(patterns, o, error);
  if (!db) {
    std::fprintf(stderr, "bench_match: %s\n", error.describe().c_str());
    std::abort();
  }
  return db;
}

void report(benchmark::State& state, const Database& db, uint64_t matches) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPayload));
  state.counters["matches/iter"] = static_cast<double>(matches) / static_cast<double>(state.iterations());
  state.counters["stream_state_B"] = static_cast<double>(db.stream_size());
}

void BM_StreamScanner(benchmark::State& state) {
  const auto db = database(static_cast<int>(state.range(0)), true);
  const auto chunk = static_cast<std::size_t>(state.range(1));
  const std::string& data = payload();
  Scanner scanner(db->stream_size(), 4);
  if (!scanner.reserve(*db)) std::abort();
  uint64_t matches = 0;
  auto count = [&](const Match&) { ++matches; };
  for (auto _ : state) {
    StreamScanner s;
    for (std::size_t off = 0; off < data.size(); off += chunk) {
      const std::size_t n = std::min(chunk, data.size() - off);
      (void)s.scan(*db, scanner, {reinterpret_cast<const uint8_t*>(data.data() + off), n}, count);
    }
    (void)s.close(*db, scanner, count);
  }
  report(state, *db, matches);
}

int raw_count(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

void raw(benchmark::State& state, bool som) {
  const auto db = database(static_cast<int>(state.range(0)), som);
  const auto chunk = static_cast<std::size_t>(state.range(1));
  const std::string& data = payload();
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db->stream(), &scratch) != HS_SUCCESS) std::abort();
  uint64_t matches = 0;
  for (auto _ : state) {
    hs_stream_t* s = nullptr;
    if (hs_open_stream(db->stream(), 0, &s) != HS_SUCCESS) std::abort();
    for (std::size_t off = 0; off < data.size(); off += chunk) {
      const auto n = static_cast<unsigned>(std::min(chunk, data.size() - off));
      hs_scan_stream(s, data.data() + off, n, 0, scratch, raw_count, &matches);
    }
    hs_close_stream(s, scratch, raw_count, &matches);
  }
  hs_free_scratch(scratch);
  report(state, *db, matches);
}
void BM_RawHyperscan(benchmark::State& state) { raw(state, true); }
void BM_RawHyperscanNoSom(benchmark::State& state) { raw(state, false); }

// Many flows at once: the same 1 MiB dealt chunk by chunk, round robin, to
// 4096 streams that stay open across iterations (each state is touched once
// every 4096 chunks, as on a worker with that many active connections).
// Scanning only: opening and closing are measured by BM_*OpenClose.
constexpr std::size_t kFlows = 4096;

void BM_StreamScannerFlows(benchmark::State& state) {
  const auto db = database(static_cast<int>(state.range(0)), true);
  const auto chunk = static_cast<std::size_t>(state.range(1));
  const std::string& data = payload();
  Scanner scanner(db->stream_size(), kFlows);
  if (!scanner.reserve(*db)) std::abort();
  std::vector<StreamScanner> flows(kFlows);
  uint64_t matches = 0;
  auto count = [&](const Match&) { ++matches; };
  for (auto _ : state) {
    std::size_t f = 0;
    for (std::size_t off = 0; off < data.size(); off += chunk, f = (f + 1) % kFlows) {
      const std::size_t n = std::min(chunk, data.size() - off);
      (void)flows[f].scan(*db, scanner, {reinterpret_cast<const uint8_t*>(data.data() + off), n}, count);
    }
  }
  for (StreamScanner& s : flows) s.discard(scanner);
  report(state, *db, matches);
}

void BM_RawHyperscanFlows(benchmark::State& state) {
  const auto db = database(static_cast<int>(state.range(0)), true);
  const auto chunk = static_cast<std::size_t>(state.range(1));
  const std::string& data = payload();
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db->stream(), &scratch) != HS_SUCCESS) std::abort();
  std::vector<hs_stream_t*> flows(kFlows, nullptr);
  for (hs_stream_t*& s : flows)
    if (hs_open_stream(db->stream(), 0, &s) != HS_SUCCESS) std::abort();
  uint64_t matches = 0;
  for (auto _ : state) {
    std::size_t f = 0;
    for (std::size_t off = 0; off < data.size(); off += chunk, f = (f + 1) % kFlows) {
      const auto n = static_cast<unsigned>(std::min(chunk, data.size() - off));
      hs_scan_stream(flows[f], data.data() + off, n, 0, scratch, raw_count, &matches);
    }
  }
  for (hs_stream_t* s : flows) hs_close_stream(s, nullptr, nullptr, nullptr);
  hs_free_scratch(scratch);
  report(state, *db, matches);
}

// Opening and closing a flow's stream state (with its end-of-stream check):
// ours from the slab; raw Hyperscan's from the heap (the process-wide stream
// allocator is ours once a slab exists; with no slab current it is
// aligned_alloc/free plus a look-up of the slab registry on free).
void BM_StreamScannerOpenClose(benchmark::State& state) {
  const auto db = database(static_cast<int>(state.range(0)), true);
  Scanner scanner(db->stream_size(), 4);
  if (!scanner.reserve(*db)) std::abort();
  const uint8_t byte = 'x';
  for (auto _ : state) {
    StreamScanner s;
    (void)s.scan(*db, scanner, {&byte, 1}, [](const Match&) {});
    (void)s.close(*db, scanner, [](const Match&) {});
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RawHyperscanOpenClose(benchmark::State& state) {
  const auto db = database(static_cast<int>(state.range(0)), true);
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db->stream(), &scratch) != HS_SUCCESS) std::abort();
  uint64_t matches = 0;
  for (auto _ : state) {
    hs_stream_t* s = nullptr;
    if (hs_open_stream(db->stream(), 0, &s) != HS_SUCCESS) std::abort();
    hs_scan_stream(s, "x", 1, 0, scratch, raw_count, &matches);
    hs_close_stream(s, scratch, raw_count, &matches);
  }
  hs_free_scratch(scratch);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StreamScannerOpenClose)->Arg(1)->Arg(3);
BENCHMARK(BM_RawHyperscanOpenClose)->Arg(1)->Arg(3);

void flow_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"set", "chunk"});
  for (int set : {1, 3})
    for (int chunk : {1460, 200}) b->Args({set, chunk});
  b->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_StreamScannerFlows)->Apply(flow_args);
BENCHMARK(BM_RawHyperscanFlows)->Apply(flow_args);

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"set", "chunk"});
  for (int set = 0; set < 4; ++set)
    for (int chunk : {1460, 200}) b->Args({set, chunk});
  b->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_StreamScanner)->Apply(args);
BENCHMARK(BM_RawHyperscan)->Apply(args);
BENCHMARK(BM_RawHyperscanNoSom)->Apply(args);

} // namespace

BENCHMARK_MAIN();
