// Stream scanning: matches split across chunks at every position, absolute
// offsets, many patterns, end-of-stream matches, the slab (exhaustion,
// return of freed states, frees from another slab or thread), counters.
#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "match_test.hpp"

namespace haka::match {
namespace {

using test::bytes;

// Scans `data` cut at `cuts` (sorted positions), with the stream's base at
// `base`, then closes it; returns every match.
std::vector<Match> scan_cut(const Database& db, Scanner& sc, std::string_view data, const std::vector<size_t>& cuts,
                            uint64_t base) {
  test::Recorder rec;
  StreamScanner s;
  s.set_base(base);
  size_t from = 0;
  for (size_t cut : cuts) {
    EXPECT_EQ(s.scan(db, sc, bytes(data.substr(from, cut - from)), rec), ScanStatus::ok);
    from = cut;
  }
  EXPECT_EQ(s.scan(db, sc, bytes(data.substr(from)), rec), ScanStatus::ok);
  EXPECT_EQ(s.close(db, sc, rec), ScanStatus::ok);
  return rec.seen;
}

struct SplitCase {
  const char* pattern;
  std::string data;
  uint64_t begin; // expected, relative to the data
  uint64_t end;
};

TEST(StreamScanner, MatchSplitInTwoAtEveryPositionIsFoundOnceWithAbsoluteOffsets) {
  const std::vector<SplitCase> cases = {
      {"%x90%x90%x90%x90%xcc", std::string("xx\x90\x90\x90\x90\xcc" "yy"), 2, 7}, // shellcode-like literal
      {"GET /[a-z]+%.php%?id=[0-9]{2,4};", "....GET /index.php?id=123; HTTP/1.1", 4, 26},
  };
  for (const SplitCase& c : cases) {
    auto db = test::regexp(c.pattern);
    ASSERT_NE(db, nullptr);
    auto sc = test::scanner_for(*db);
    for (size_t cut = 0; cut <= c.data.size(); ++cut) {
      const uint64_t base = 1000000007ull * 4096; // a stream well past 2^32
      auto seen = scan_cut(*db, *sc, c.data, {cut}, base);
      ASSERT_EQ(seen.size(), 1u) << c.pattern << " cut at " << cut;
      EXPECT_EQ(seen[0].begin, base + c.begin) << c.pattern << " cut at " << cut;
      EXPECT_EQ(seen[0].end, base + c.end) << c.pattern << " cut at " << cut;
      EXPECT_TRUE(seen[0].exact_begin);
    }
    EXPECT_EQ(sc->counters().streams_open, 0u);
    EXPECT_EQ(sc->slab().available(), sc->slab().capacity());
  }
}

TEST(StreamScanner, MatchSplitIntoManyChunksEveryWayIsFoundOnce) {
  auto lit = test::regexp("attack");
  auto re = test::regexp("a[0-9]+z");
  const std::string lit_data = "--attack--";
  const std::string re_data = "..a0123z..";
  // Every subset of the 9 inner cut positions: 512 ways, from 1 to 10 chunks.
  for (auto [db, data, begin, end] : {std::tuple{lit, lit_data, 2u, 8u}, std::tuple{re, re_data, 2u, 8u}}) {
    auto sc = test::scanner_for(*db);
    for (unsigned mask = 0; mask < (1u << (data.size() - 1)); ++mask) {
      std::vector<size_t> cuts;
      for (size_t i = 1; i < data.size(); ++i)
        if ((mask >> (i - 1)) & 1u) cuts.push_back(i);
      auto seen = scan_cut(*db, *sc, data, cuts, 0);
      ASSERT_EQ(seen.size(), 1u) << "mask " << mask;
      EXPECT_EQ(seen[0].begin, begin);
      EXPECT_EQ(seen[0].end, end);
    }
  }
}

TEST(StreamScanner, ByteByByteOverALongStream) {
  auto db = test::regexp("needle");
  auto sc = test::scanner_for(*db);
  std::string data(5000, '.');
  data.replace(0, 6, "needle");     // very start
  data.replace(2500, 6, "needle");  // middle
  data.replace(4994, 6, "needle");  // very end
  std::vector<size_t> cuts;
  for (size_t i = 1; i < data.size(); ++i) cuts.push_back(i);
  auto seen = scan_cut(*db, *sc, data, cuts, 0);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].begin, 0u);
  EXPECT_EQ(seen[1].begin, 2500u);
  EXPECT_EQ(seen[2].begin, 4994u);
  EXPECT_EQ(seen[2].end, 5000u);
  EXPECT_EQ(sc->counters().bytes_scanned, 5000u);
}

TEST(StreamScanner, ManyPatternsEachFoundOnceAtItsOffset) {
  std::vector<Pattern> patterns;
  for (uint32_t i = 0; i < 1000; ++i) patterns.push_back({test::cat({"sig", std::to_string(i * 7919 % 100000), "!"}), 0, 5000 + i});
  patterns.push_back({"evil[0-9]{3}%.exe", flag::case_insensitive, 9999});
  CompileError error;
  DatabaseOptions o;
  o.block = false;
  auto db = Database::compile(patterns, o, error);
  ASSERT_NE(db, nullptr) << error.describe();
  auto sc = test::scanner_for(*db);

  std::mt19937 rng(42);
  std::string data;
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> planted; // id -> begin, end
  for (int k = 0; k < 200; ++k) {
    for (int j = 0; j < 37; ++j) data += static_cast<char>('a' + rng() % 26);
    const uint32_t i = rng() % 1000;
    if (planted.count(5000 + i) != 0) continue;
    const std::string& p = patterns[i].expression;
    planted[5000 + i] = {data.size(), data.size() + p.size()};
    data += p;
  }
  planted[9999] = {data.size(), data.size() + 11};
  data += "EVIL123.ExE-";

  // 1460-byte chunks, then 7-byte chunks: same answer.
  for (size_t step : {size_t{1460}, size_t{7}}) {
    std::vector<size_t> cuts;
    for (size_t c = step; c < data.size(); c += step) cuts.push_back(c);
    auto seen = scan_cut(*db, *sc, data, cuts, 0);
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> found;
    for (const Match& m : seen) {
      EXPECT_EQ(found.count(m.id), 0u) << "id " << m.id << " twice";
      found[m.id] = {m.begin, m.end};
    }
    EXPECT_EQ(found, planted) << "chunks of " << step;
  }
}

TEST(StreamScanner, EndOfStreamMatchesComeAtClose) {
  auto db = test::regexp("foo$");
  auto sc = test::scanner_for(*db);
  test::Recorder rec;
  StreamScanner s;
  EXPECT_EQ(s.scan(*db, *sc, bytes("a fo"), rec), ScanStatus::ok);
  EXPECT_EQ(s.scan(*db, *sc, bytes("o"), rec), ScanStatus::ok);
  EXPECT_TRUE(rec.seen.empty()); // more bytes could still follow
  EXPECT_EQ(s.close(*db, *sc, rec), ScanStatus::ok);
  ASSERT_EQ(rec.seen.size(), 1u);
  EXPECT_EQ(rec.seen[0].begin, 2u);
  EXPECT_EQ(rec.seen[0].end, 5u);
  EXPECT_EQ(s.state(), StreamScanner::State::finished);
  EXPECT_EQ(s.scan(*db, *sc, bytes("more"), rec), ScanStatus::finished);

  // A discarded stream reports nothing at its end.
  test::Recorder none;
  StreamScanner d;
  EXPECT_EQ(d.scan(*db, *sc, bytes("a foo"), none), ScanStatus::ok);
  d.discard(*sc);
  EXPECT_TRUE(none.seen.empty());
  EXPECT_EQ(sc->counters().streams_open, 0u);
}

TEST(StreamScanner, CallbackStopFreesTheStateAtOnce) {
  auto db = test::regexp("x");
  auto sc = test::scanner_for(*db, 4);
  StreamScanner s;
  int calls = 0;
  auto stop = [&](const Match&) {
    ++calls;
    return Next::stop;
  };
  EXPECT_EQ(s.scan(*db, *sc, bytes("axbxcx"), stop), ScanStatus::stopped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.state(), StreamScanner::State::stopped);
  EXPECT_EQ(sc->slab().available(), 4u);
  EXPECT_EQ(sc->counters().streams_terminated, 1u);
  EXPECT_EQ(sc->counters().streams_open, 0u);
  EXPECT_EQ(s.scan(*db, *sc, bytes("x"), stop), ScanStatus::stopped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.close(*db, *sc, stop), ScanStatus::ok);
}

TEST(StreamSlab, ExhaustionRefusesNewStreamsAndCountsThem) {
  auto db = test::regexp("abc");
  auto sc = test::scanner_for(*db, 2);
  test::Recorder rec;
  StreamScanner a, b, c;
  EXPECT_EQ(a.scan(*db, *sc, bytes("ab"), rec), ScanStatus::ok);
  EXPECT_EQ(b.scan(*db, *sc, bytes("ab"), rec), ScanStatus::ok);
  EXPECT_EQ(sc->slab().available(), 0u);
  EXPECT_EQ(c.scan(*db, *sc, bytes("abc"), rec), ScanStatus::no_memory);
  EXPECT_EQ(c.state(), StreamScanner::State::failed);
  EXPECT_STREQ(message(ScanStatus::no_memory), "memory error: stream state slab exhausted");
  EXPECT_EQ(c.scan(*db, *sc, bytes("abcd"), rec), ScanStatus::no_memory); // stays failed
  const MatchCounters& k = sc->counters();
  EXPECT_EQ(k.alloc_failures, 1u);
  EXPECT_EQ(k.bytes_unscanned, 7u);
  EXPECT_EQ(k.streams_open, 2u);
  EXPECT_EQ(k.streams_open_peak, 2u);
  EXPECT_TRUE(rec.seen.empty());
  // The open ones still work; freeing one lets a new stream open.
  EXPECT_EQ(a.scan(*db, *sc, bytes("c"), rec), ScanStatus::ok);
  EXPECT_EQ(rec.seen.size(), 1u);
  a.discard(*sc);
  EXPECT_EQ(sc->slab().available(), 1u);
  StreamScanner d;
  EXPECT_EQ(d.scan(*db, *sc, bytes("xabc"), rec), ScanStatus::ok);
  EXPECT_EQ(rec.seen.size(), 2u);
  EXPECT_EQ(c.close(*db, *sc, rec), ScanStatus::no_memory);
  b.discard(*sc);
  d.discard(*sc);
  EXPECT_EQ(sc->slab().available(), 2u);
  EXPECT_EQ(k.streams_opened, 3u);
  EXPECT_EQ(k.streams_closed, 3u);
  EXPECT_EQ(k.streams_open, 0u);
}

TEST(StreamSlab, ClosedStreamsGoBackToTheSlabAndAreReused) {
  auto db = test::regexp("abc");
  auto sc = test::scanner_for(*db, 3);
  const uint64_t heap_before = StreamSlab::heap_allocations();
  test::Recorder rec;
  for (int round = 0; round < 100; ++round) {
    StreamScanner s[3];
    for (auto& x : s) ASSERT_EQ(x.scan(*db, *sc, bytes("zab"), rec), ScanStatus::ok);
    EXPECT_EQ(sc->slab().available(), 0u);
    s[0].discard(*sc);
    EXPECT_EQ(s[1].close(*db, *sc, rec), ScanStatus::ok);
    EXPECT_EQ(s[2].scan(*db, *sc, bytes("c"), [](const Match&) { return Next::stop; }), ScanStatus::stopped);
    EXPECT_EQ(sc->slab().available(), 3u);
  }
  EXPECT_EQ(StreamSlab::heap_allocations(), heap_before); // never the heap
  EXPECT_EQ(sc->counters().streams_opened, 300u);
  EXPECT_EQ(sc->counters().streams_open_peak, 3u);
}

TEST(StreamSlab, SlotsAreAlignedAndRefuseOversizedStates) {
  StreamSlab slab(100, 4);
  ASSERT_TRUE(slab.ok());
  EXPECT_EQ(slab.slot_size(), 128u);
  void* p = slab.take(128);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % StreamSlab::alignment, 0u);
  EXPECT_EQ(slab.take(129), nullptr);
  EXPECT_EQ(slab.available(), 3u);
  slab.give(p);
  EXPECT_EQ(slab.available(), 4u);
}

TEST(StreamSlab, StateFreedThroughAnotherSlabOrThreadReturnsToItsOwner) {
  auto db = test::regexp("abc");
  auto one = test::scanner_for(*db, 2);
  auto two = test::scanner_for(*db, 2);
  test::Recorder rec;
  StreamScanner s;
  ASSERT_EQ(s.scan(*db, *one, bytes("a"), rec), ScanStatus::ok);
  EXPECT_EQ(one->slab().available(), 1u);
  s.discard(*two); // wrong scanner: the state finds its own slab
  EXPECT_EQ(two->slab().available(), 2u);
  EXPECT_EQ(one->slab().available(), 2u);

  StreamScanner t;
  ASSERT_EQ(t.scan(*db, *one, bytes("a"), rec), ScanStatus::ok);
  std::thread([&] { t.discard(*two); }).join(); // another thread, another slab
  EXPECT_EQ(one->slab().available(), 2u);
}

TEST(StreamSlab, RemoteFreesRaceWithTheOwnerWithoutLosingOrSharingSlots) {
  // The owner takes slots and hands them to another thread, which gives them
  // back through the lock-free remote list while the owner keeps taking.
  constexpr std::size_t slots = 64;
  constexpr int rounds = 200000;
  StreamSlab slab(64, slots);
  ASSERT_TRUE(slab.ok());
  std::vector<std::atomic<int>> in_use(slots);
  std::mutex m; // the test's hand-over queue, not the slab
  std::vector<void*> queue;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  const auto base = [&] { // the lowest slot address
    std::vector<void*> all;
    while (void* p = slab.take(64)) all.push_back(p);
    EXPECT_EQ(all.size(), slots);
    for (void* p : all) slab.give(p);
    return reinterpret_cast<uintptr_t>(*std::min_element(all.begin(), all.end()));
  }();
  std::thread other([&] {
    while (!done.load() || [&] { std::lock_guard g(m); return !queue.empty(); }()) {
      std::vector<void*> batch;
      {
        std::lock_guard g(m);
        batch.swap(queue);
      }
      for (void* p : batch) {
        const auto i = (reinterpret_cast<uintptr_t>(p) - base) / 64;
        if (in_use[i].exchange(0) != 1) ++errors;
        slab.give_remote(p);
      }
    }
  });
  int taken = 0;
  while (taken < rounds) {
    void* p = slab.take(64);
    if (p == nullptr) continue; // all out: wait for the other thread
    ASSERT_TRUE(slab.owns(p));
    const auto i = (reinterpret_cast<uintptr_t>(p) - base) / 64;
    if (in_use[i].exchange(1) != 0) ++errors; // handed out twice
    std::lock_guard g(m);
    queue.push_back(p);
    ++taken;
  }
  done = true;
  other.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(slab.available(), slots);
}

TEST(StreamSlab, StreamsOpenedOutsideAScannerUseTheHeap) {
  auto db = test::regexp("abc");
  StreamSlab::install();
  const uint64_t before = StreamSlab::heap_allocations();
  hs_stream_t* raw = nullptr;
  ASSERT_EQ(hs_open_stream(db->stream(), 0, &raw), HS_SUCCESS);
  EXPECT_EQ(StreamSlab::heap_allocations(), before + 1);
  EXPECT_EQ(hs_close_stream(raw, nullptr, nullptr, nullptr), HS_SUCCESS);
}

TEST(StreamScanner, ScanFromInsideACallbackWithTheSameScratchIsAnError) {
  auto db = test::regexp("abc");
  auto sc = test::scanner_for(*db);
  StreamScanner outer, inner;
  ScanStatus inner_status = ScanStatus::ok;
  auto cb = [&](const Match&) { inner_status = inner.scan(*db, *sc, bytes("abc"), [](const Match&) {}); };
  EXPECT_EQ(outer.scan(*db, *sc, bytes("abc"), cb), ScanStatus::ok);
  EXPECT_EQ(inner_status, ScanStatus::error);
  EXPECT_EQ(sc->counters().scan_errors, 1u);
  outer.discard(*sc);
  inner.discard(*sc);
}

TEST(Scanner, OneScannerServesSeveralDatabases) {
  // The engine's pattern list and a rule's regexp on one worker.
  std::vector<Pattern> list;
  for (uint32_t i = 0; i < 100; ++i) list.push_back({test::cat({"evil", std::to_string(i), "[0-9]{2}x"}), 0, i});
  CompileError error;
  DatabaseOptions o;
  o.block = false;
  auto engine = Database::compile(list, o, error);
  ASSERT_NE(engine, nullptr) << error.describe();
  auto re = test::regexp("needle", flag::case_insensitive);
  ASSERT_NE(re, nullptr);
  Scanner sc(std::max(engine->stream_size(), re->stream_size()), 8);
  ASSERT_TRUE(sc.reserve(*re));
  ASSERT_TRUE(sc.reserve(*engine));
  test::Recorder a, b;
  StreamScanner up, sink_stream;
  EXPECT_EQ(up.scan(*engine, sc, bytes("..evil42"), a), ScanStatus::ok);
  EXPECT_EQ(sink_stream.scan(*re, sc, bytes("a NEE"), b), ScanStatus::ok);
  EXPECT_EQ(up.scan(*engine, sc, bytes("17x.."), a), ScanStatus::ok);
  EXPECT_EQ(sink_stream.scan(*re, sc, bytes("Dle"), b), ScanStatus::ok);
  ASSERT_EQ(a.seen.size(), 1u);
  EXPECT_EQ(a.seen[0].id, 42u);
  EXPECT_EQ(a.seen[0].begin, 2u);
  EXPECT_EQ(a.seen[0].end, 11u);
  ASSERT_EQ(b.seen.size(), 1u);
  EXPECT_EQ(b.seen[0].begin, 2u);
  EXPECT_TRUE(match(*re, sc, "xxNeEdLe").found); // block mode too
  up.discard(sc);
  sink_stream.discard(sc);
}

TEST(MatchBatch, CollectsThenDropsAndCounts) {
  auto db = test::regexp("a");
  auto sc = test::scanner_for(*db);
  MatchBatch<4> batch;
  StreamScanner s;
  EXPECT_EQ(s.scan(*db, *sc, bytes("aaaaaa"), batch), ScanStatus::ok);
  ASSERT_EQ(batch.matches().size(), 4u);
  EXPECT_EQ(batch.matches()[3].end, 4u);
  EXPECT_EQ(batch.dropped, 2u);
  batch.clear();
  EXPECT_TRUE(batch.matches().empty());
  s.discard(*sc);
}

TEST(MatchCounters, NamesAndSums) {
  MatchCounters a, b;
  a.matches = 3;
  b.matches = 4;
  b.alloc_failures = 1;
  a += b;
  std::vector<std::string> names;
  uint64_t matches = 0;
  a.for_each([&](const char* name, uint64_t v) {
    names.emplace_back(name);
    if (std::string_view(name) == "matches") matches = v;
  });
  EXPECT_EQ(names.size(), match_counter_count);
  EXPECT_EQ(matches, 7u);
  EXPECT_EQ(a.alloc_failures, 1u);
  EXPECT_NE(std::find(names.begin(), names.end(), "streams_open_peak"), names.end());
}

} // namespace
} // namespace haka::match
