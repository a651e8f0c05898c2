// Haka's regexp API pieces: one-shot match (re:match on a string) and sinks
// (re:get_sink():feed(data, eof)).
#include "match_test.hpp"

namespace haka::match {
namespace {

using test::bytes;

Found once(std::string_view pattern, std::string_view subject, uint32_t flags = 0) {
  auto db = test::regexp(pattern, flags);
  if (db == nullptr) return {};
  auto sc = test::scanner_for(*db);
  ScanStatus status = ScanStatus::error;
  Found f = match(*db, *sc, subject, &status);
  EXPECT_EQ(status, ScanStatus::ok);
  EXPECT_EQ(sc->counters().block_scans, 1u);
  EXPECT_EQ(sc->counters().bytes_scanned, subject.size());
  return f;
}

TEST(Match, HakasOwnCases) {
  // From Haka's regexp tests (lib/haka/test/regexp-lua.lua).
  Found f = once(".*", "aaa");
  EXPECT_TRUE(f.found);
  EXPECT_EQ(f.begin, 0u);
  EXPECT_EQ(f.end, 3u);
  EXPECT_FALSE(once("abc", "aaa").found);
  f = once("bar", "foo bar foo");
  EXPECT_TRUE(f.found);
  EXPECT_EQ(f.begin, 4u);
  EXPECT_EQ(f.end, 7u);
  EXPECT_TRUE(f.exact_begin);
  EXPECT_FALSE(once("bar", "foo").found);
  EXPECT_TRUE(once("%d", "666").found);
  EXPECT_TRUE(once("%d%s", "6 ").found);
}

TEST(Match, LeftmostBeginThenLongestEnd) {
  Found f = once("a+", "baaab");
  EXPECT_EQ(f.begin, 1u);
  EXPECT_EQ(f.end, 4u);
  f = once("a|xyzab", "xyzab"); // PCRE: leftmost start wins
  EXPECT_EQ(f.begin, 0u);
  EXPECT_EQ(f.end, 5u);
  f = once("[0-9]+", "ab 12 345");
  EXPECT_EQ(f.begin, 3u);
  EXPECT_EQ(f.end, 5u);
  EXPECT_FALSE(once("x", "").found);
  EXPECT_TRUE(once(".*", "").found); // empty match on empty subject, as PCRE
}

TEST(Match, NeedsBlockMode) {
  CompileError error;
  DatabaseOptions o;
  o.block = false;
  const Pattern p{"abc", 0, 0};
  auto db = Database::compile(std::span<const Pattern>(&p, 1), o, error);
  ASSERT_NE(db, nullptr);
  auto sc = test::scanner_for(*db);
  ScanStatus s = ScanStatus::ok;
  EXPECT_FALSE(match(*db, *sc, "abc", &s).found);
  EXPECT_EQ(s, ScanStatus::error);
}

TEST(Sink, HakasExampleAcrossTwoFeeds) {
  auto db = test::regexp("foo");
  auto sc = test::scanner_for(*db, 4);
  Sink sink(db, *sc);
  EXPECT_FALSE(sink.feed("some fo", false));
  EXPECT_EQ(sc->slab().available(), 3u); // state held while waiting
  EXPECT_TRUE(sink.feed("o over two string", true));
  EXPECT_EQ(sink.result().begin, 5u);
  EXPECT_EQ(sink.result().end, 8u);
  EXPECT_TRUE(sink.done());
  EXPECT_EQ(sc->slab().available(), 4u); // freed once the answer is known
}

TEST(Sink, KeepsItsMatchAndScansNoMore) {
  auto db = test::regexp("b[0-9]+");
  auto sc = test::scanner_for(*db);
  Sink sink(db, *sc);
  EXPECT_FALSE(sink.feed("aaab", false));
  EXPECT_TRUE(sink.feed("12x", false));
  EXPECT_EQ(sink.result().begin, 3u);
  EXPECT_EQ(sink.result().end, 6u);
  const uint64_t scanned = sc->counters().bytes_scanned;
  EXPECT_TRUE(sink.feed("b999", false));
  EXPECT_TRUE(sink.feed("", true));
  EXPECT_EQ(sc->counters().bytes_scanned, scanned);
  EXPECT_EQ(sink.result().begin, 3u);
  EXPECT_EQ(sink.fed(), 11u);
}

TEST(Sink, EndOfStreamAnchorNeedsEof) {
  auto db = test::regexp("foo$");
  auto sc = test::scanner_for(*db);
  Sink sink(db, *sc);
  EXPECT_FALSE(sink.feed("a fo", false));
  EXPECT_FALSE(sink.feed("o", false));
  EXPECT_TRUE(sink.feed("", true));
  EXPECT_EQ(sink.result().begin, 2u);
  EXPECT_EQ(sink.result().end, 5u);

  Sink no(db, *sc);
  EXPECT_FALSE(no.feed("a foo", false));
  EXPECT_FALSE(no.feed("d", true));
  EXPECT_TRUE(no.done());
  EXPECT_EQ(sc->counters().streams_open, 0u);
}

TEST(Sink, EveryOneByteFeedingFindsTheSameMatch) {
  auto db = test::regexp("%x90{4}%xcc", 0);
  auto sc = test::scanner_for(*db);
  const std::string data = "xyz\x90\x90\x90\x90\xcc" "tail";
  Sink sink(db, *sc);
  bool matched = false;
  for (size_t i = 0; i < data.size(); ++i) {
    const bool m = sink.feed(std::string_view(data).substr(i, 1), i + 1 == data.size());
    EXPECT_EQ(m, i >= 7) << i;
    matched = m;
  }
  EXPECT_TRUE(matched);
  EXPECT_EQ(sink.result().begin, 3u);
  EXPECT_EQ(sink.result().end, 8u);
}

// Haka's sample rule (sample/ruleset/tcp/security.lua): the /bin/sh
// shellcode as EXTENDED %xNN escapes, matched across packets.
constexpr std::string_view kShellcodePattern =
    "%xeb %x1f %x5e %x89 %x76 %x08 %x31 %xc0"
    "%x88 %x46 %x07 %x89 %x46 %x0c %xb0 %x0b"
    "%x89 %xf3 %x8d %x4e %x08 %x8d %x56 %x0c"
    "%xcd %x80 %x31 %xdb %x89 %xd8 %x40 %xcd"
    "%x80 %xe8 %xdc %xff %xff %xff /bin/sh";
const std::string kShellcode =
    "\xeb\x1f\x5e\x89\x76\x08\x31\xc0\x88\x46\x07\x89\x46\x0c\xb0\x0b"
    "\x89\xf3\x8d\x4e\x08\x8d\x56\x0c\xcd\x80\x31\xdb\x89\xd8\x40\xcd"
    "\x80\xe8\xdc\xff\xff\xff/bin/sh";

TEST(Sink, HakaSampleShellcodeAcrossPacketsAtEveryCut) {
  ASSERT_EQ(kShellcode.size(), 45u);
  auto db = test::regexp(kShellcodePattern, flag::extended);
  ASSERT_NE(db, nullptr);
  auto sc = test::scanner_for(*db);
  const std::string stream = "GET / HTTP/1.0\r\n\r\n" + kShellcode + "\r\n";
  const uint64_t at = stream.find(kShellcode);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    Sink sink(db, *sc);
    const bool first = sink.feed(std::string_view(stream).substr(0, cut), false);
    EXPECT_EQ(first, cut >= at + kShellcode.size()) << cut;
    EXPECT_TRUE(sink.feed(std::string_view(stream).substr(cut), true)) << cut;
    EXPECT_EQ(sink.result().begin, at) << cut;
    EXPECT_EQ(sink.result().end, at + kShellcode.size()) << cut;
  }
  EXPECT_TRUE(match(*db, *sc, stream).found);
  // Without EXTENDED the spaces are part of the pattern: no match.
  auto plain = test::regexp(kShellcodePattern, 0);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(match(*plain, *sc, stream).found);
  // One byte changed: no match.
  std::string altered = stream;
  altered[at + 20] ^= 1;
  EXPECT_FALSE(match(*db, *sc, altered).found);
}

TEST(Sink, NoMemoryIsReportedNotHidden) {
  auto db = test::regexp("abc");
  auto sc = test::scanner_for(*db, 1);
  Sink first(db, *sc);
  EXPECT_FALSE(first.feed("ab", false));
  Sink second(db, *sc);
  EXPECT_FALSE(second.feed("abc", false));
  EXPECT_EQ(second.status(), ScanStatus::no_memory);
  EXPECT_TRUE(second.done());
  EXPECT_EQ(sc->counters().alloc_failures, 1u);
  EXPECT_TRUE(first.feed("c", false));
  EXPECT_EQ(first.status(), ScanStatus::ok);
}

TEST(Sink, DestroyedWhileWaitingFreesItsState) {
  auto db = test::regexp("abc");
  auto sc = test::scanner_for(*db, 2);
  {
    Sink sink(db, *sc);
    EXPECT_FALSE(sink.feed("ab", false));
    EXPECT_EQ(sc->slab().available(), 1u);
  }
  EXPECT_EQ(sc->slab().available(), 2u);
  EXPECT_EQ(sc->counters().streams_open, 0u);
}

} // namespace
} // namespace haka::match
