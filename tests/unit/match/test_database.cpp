// Database compilation: errors name the pattern, start-of-match fallback,
// widths, sharing between threads; scratch.
#include <thread>

#include "match_test.hpp"

namespace haka::match {
namespace {

using test::bytes;

std::shared_ptr<const Database> compile(std::vector<Pattern> patterns, CompileError& error,
                                        DatabaseOptions options = {}) {
  return Database::compile(patterns, options, error);
}

TEST(Database, SyntaxErrorNamesThePattern) {
  CompileError error;
  auto db = compile({{"good", 0, 10}, {"bad(", 0, 11}, {"fine", 0, 12}}, error);
  EXPECT_EQ(db, nullptr);
  EXPECT_EQ(error.index, 1);
  EXPECT_EQ(error.id, 11u);
  EXPECT_EQ(error.pattern, "bad(");
  EXPECT_NE(error.message.find("Missing close parenthesis"), std::string::npos) << error.message;
  EXPECT_EQ(error.describe().rfind("pattern #1 (id 11) \"bad(\": Missing close parenthesis", 0), 0u)
      << error.describe();
}

TEST(Database, UnsupportedConstructsAreErrors) {
  CompileError error;
  EXPECT_EQ(compile({{"(a)%1", 0, 1}}, error), nullptr);
  EXPECT_NE(error.message.find("Back-references"), std::string::npos) << error.message;
  EXPECT_EQ(compile({{"(?<=a)b", 0, 2}}, error), nullptr);
  EXPECT_NE(error.message.find("not supported"), std::string::npos) << error.message;
  EXPECT_EQ(error.id, 2u);
  EXPECT_EQ(compile({{"?", 0, 3}}, error), nullptr);
  EXPECT_EQ(error.index, 0);
}

TEST(Database, TranslationErrorsAndEmptySets) {
  CompileError error;
  EXPECT_EQ(compile({{"ok", 0, 1}, {"trailing%", 0, 2}}, error), nullptr);
  EXPECT_EQ(error.index, 1);
  EXPECT_NE(error.message.find("lone '%'"), std::string::npos);
  EXPECT_EQ(compile({}, error), nullptr);
  EXPECT_EQ(error.index, -1);
  EXPECT_EQ(error.describe(), "pattern set: no patterns to compile");
}

TEST(Database, EmptyMatchingPatternsOnlyWhereAllowed) {
  CompileError error;
  EXPECT_EQ(compile({{"a*", 0, 7}}, error), nullptr);
  EXPECT_NE(error.message.find("empty string"), std::string::npos) << error.message;
  DatabaseOptions allow;
  allow.allow_empty = true;
  auto db = compile({{"a*", 0, 7}}, error, allow);
  ASSERT_NE(db, nullptr) << error.describe();
  EXPECT_FALSE(db->info(0).exact_begin); // Hyperscan has no SOM for these
  EXPECT_EQ(db->info(0).min_width, 0u);
}

TEST(Database, PatternRefusedForStartOfMatchIsCompiledWithout) {
  CompileError error;
  // Hyperscan: "Pattern is too large" with HS_FLAG_SOM_LEFTMOST, fine without.
  auto db = compile({{"abc", 0, 1}, {"(a|b)*c.{100}d", 0, 2}, {"xyz", 0, 3}}, error);
  ASSERT_NE(db, nullptr) << error.describe();
  EXPECT_TRUE(db->info(0).exact_begin);
  EXPECT_FALSE(db->info(1).exact_begin);
  EXPECT_TRUE(db->info(2).exact_begin);
  ASSERT_NE(db->block(), nullptr);
  ASSERT_NE(db->stream(), nullptr);

  // Its matches report begin = start of the scanned data, a lower bound.
  auto sc = test::scanner_for(*db);
  const std::string data = test::cat({"zz", "bababac", std::string(100, '.'), "d xyz"});
  test::Recorder rec;
  EXPECT_EQ(scan_block(*db, *sc, bytes(data), rec), ScanStatus::ok);
  ASSERT_EQ(rec.seen.size(), 2u);
  EXPECT_EQ(rec.seen[0].id, 2u);
  EXPECT_EQ(rec.seen[0].begin, 0u);
  EXPECT_FALSE(rec.seen[0].exact_begin);
  EXPECT_EQ(rec.seen[0].end, data.size() - 4);
  EXPECT_EQ(rec.seen[1].id, 3u);
  EXPECT_EQ(rec.seen[1].begin, data.size() - 3);
  EXPECT_TRUE(rec.seen[1].exact_begin);
}

TEST(Database, SeveralStartOfMatchRefusalsAmongManyPatterns) {
  std::vector<Pattern> patterns;
  for (uint32_t i = 0; i < 300; ++i) patterns.push_back({test::cat({"lit", std::to_string(i), "eral"}), 0, i});
  const std::vector<std::string> refused = {"(a|b)*c.{100}d", "[a-f]*q.{200}", "(a|b|c)+.{64}z"};
  for (uint32_t k = 0; k < refused.size(); ++k) patterns.insert(patterns.begin() + 100 * k, {refused[k], 0, 1000 + k});
  patterns.push_back({"x.*y.{300}z", 0, 2000}); // SOM accepted
  CompileError error;
  auto db = Database::compile(patterns, {}, error);
  ASSERT_NE(db, nullptr) << error.describe();
  for (std::size_t i = 0; i < db->size(); ++i) {
    const bool is_refused = db->info(static_cast<uint32_t>(i)).id >= 1000 && db->info(static_cast<uint32_t>(i)).id < 2000;
    EXPECT_EQ(db->info(static_cast<uint32_t>(i)).exact_begin, !is_refused) << patterns[i].expression;
  }
}

TEST(Database, StartOfMatchCanBeTurnedOff) {
  CompileError error;
  DatabaseOptions o;
  o.start_of_match = false;
  auto db = compile({{"abc", 0, 1}}, error, o);
  ASSERT_NE(db, nullptr);
  EXPECT_FALSE(db->info(0).exact_begin);
}

TEST(Database, ModesWidthsAndIds) {
  CompileError error;
  DatabaseOptions stream_only;
  stream_only.block = false;
  auto db = compile({{"abc", 0, 100}, {"x[0-9]{2,5}y", 0, 200}, {"q.*z", 0, 300}}, error, stream_only);
  ASSERT_NE(db, nullptr) << error.describe();
  EXPECT_EQ(db->block(), nullptr);
  EXPECT_NE(db->stream(), nullptr);
  EXPECT_GT(db->stream_size(), 0u);
  EXPECT_EQ(db->size(), 3u);
  EXPECT_EQ(db->info(0).id, 100u);
  EXPECT_EQ(db->info(0).min_width, 3u);
  EXPECT_EQ(db->info(0).max_width, 3u);
  EXPECT_EQ(db->info(1).min_width, 4u);
  EXPECT_EQ(db->info(1).max_width, 7u);
  EXPECT_EQ(db->info(2).max_width, UINT32_MAX);
  DatabaseOptions none;
  none.block = false;
  none.stream = false;
  EXPECT_EQ(compile({{"abc", 0, 1}}, error, none), nullptr);
}

TEST(Database, SharedReadOnlyByWorkersWithTheirOwnScratch) {
  CompileError error;
  std::vector<Pattern> patterns;
  for (uint32_t i = 0; i < 50; ++i) patterns.push_back({test::cat({"needle", std::to_string(i), "x"}), 0, i});
  std::shared_ptr<const Database> db = Database::compile(patterns, {}, error);
  ASSERT_NE(db, nullptr);
  std::string hay;
  for (int i = 0; i < 2000; ++i) hay += test::cat({"filler needle", std::to_string(i % 50), "x "});
  std::vector<uint64_t> counts(4);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      Scanner sc(db->stream_size(), 4);
      if (!sc.reserve(*db)) return;
      for (int rep = 0; rep < 20; ++rep) {
        StreamScanner s;
        (void)s.scan(*db, sc, bytes(hay), [&](const Match&) { ++counts[w]; });
        s.discard(sc);
      }
    });
  }
  for (auto& t : workers) t.join();
  for (uint64_t c : counts) EXPECT_EQ(c, 2000u * 20);
}

TEST(Scratch, ReserveCloneAndMove) {
  auto a = test::regexp("abc");
  auto b = test::regexp("x{10,20}y");
  Scratch s;
  EXPECT_FALSE(s.valid());
  ASSERT_TRUE(s.reserve(*a));
  ASSERT_TRUE(s.reserve(*b));
  Scratch c = s.clone();
  ASSERT_TRUE(c.valid());
  EXPECT_NE(c.get(), s.get());
  Scratch moved = std::move(c);
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(moved.valid());
  size_t size = 0;
  EXPECT_EQ(hs_scratch_size(moved.get(), &size), HS_SUCCESS);
  EXPECT_GT(size, 0u);
}

TEST(Scratch, ScannerRefusesADatabaseWhoseStreamsDoNotFitItsSlots) {
  auto small = test::regexp("abc");
  std::vector<Pattern> many;
  for (uint32_t i = 0; i < 50; ++i) many.push_back({test::cat({"p", std::to_string(i), "[a-z]{3,90}.*q"}), 0, i});
  CompileError error;
  auto big = Database::compile(many, {}, error);
  ASSERT_NE(big, nullptr) << error.describe();
  ASSERT_GT(big->stream_size(), small->stream_size() + StreamSlab::alignment);
  Scanner sc(small->stream_size(), 2);
  EXPECT_TRUE(sc.reserve(*small));
  EXPECT_FALSE(sc.reserve(*big));
}

} // namespace
} // namespace haka::match
