// Haka pattern translation: escapes, flags, errors, index mapping, and what
// the translated patterns match once compiled.
#include <hs/hs_compile.h>

#include "match/translate.hpp"
#include "match_test.hpp"

namespace haka::match {
namespace {

using test::bytes;

TEST(Translate, PercentBecomesBackslashAndCopiesTheNextCharacter) {
  EXPECT_EQ(translate("%x90%x90", 0).expression, "\\x90\\x90");
  EXPECT_EQ(translate("%d+%.%d+", 0).expression, "\\d+\\.\\d+");
  EXPECT_EQ(translate("100%%", 0).expression, "100\\%");   // "%%" is a literal '%'
  EXPECT_EQ(translate("a%\\b", 0).expression, "a\\\\b");  // "%\" is a literal backslash
  EXPECT_EQ(translate("\\d%d", 0).expression, "\\d\\d");  // backslashes pass through
  EXPECT_EQ(translate("[%r]?%n", 0).expression, "[\\r]?\\n");
  EXPECT_EQ(translate("", 0).expression, "");
}

TEST(Translate, FlagsMapToHyperscanAndMultilineIsAlwaysOn) {
  EXPECT_EQ(translate("a", 0).hs_flags, unsigned{HS_FLAG_MULTILINE});
  EXPECT_EQ(translate("a", flag::multiline).hs_flags, unsigned{HS_FLAG_MULTILINE});
  EXPECT_EQ(translate("a", flag::case_insensitive).hs_flags, unsigned{HS_FLAG_MULTILINE | HS_FLAG_CASELESS});
  EXPECT_EQ(translate("a", flag::dotall).hs_flags, unsigned{HS_FLAG_MULTILINE | HS_FLAG_DOTALL});
  const Translation x = translate("a b", flag::extended);
  EXPECT_EQ(x.expression, "(?x)a b\n"); // the newline closes a trailing comment
  EXPECT_EQ(x.prefix, 4u);
  EXPECT_EQ(x.hs_flags, unsigned{HS_FLAG_MULTILINE});
}

TEST(Translate, Errors) {
  const Translation lone = translate("abc%", 0);
  EXPECT_FALSE(lone.ok());
  EXPECT_NE(lone.error.find("lone '%'"), std::string::npos) << lone.error;
  EXPECT_NE(lone.error.find("index 3"), std::string::npos) << lone.error;
  const Translation bad = translate("a", 0x30);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error, "unknown regexp flags 0x30");
  EXPECT_TRUE(translate("a%%", 0).ok());
}

TEST(Translate, NulBytesBecomeHexEscapesAndIndexesMapBack) {
  const std::string pattern("a\0b%\0c", 6);
  const Translation t = translate(pattern, flag::extended);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.expression, "(?x)a\\x00b\\x00c\n");
  EXPECT_EQ(t.expression.find('\0'), std::string::npos);
  // expression: (?x) a \x00 b \x00 c ; pattern: a NUL b % NUL c
  EXPECT_EQ(t.source_index(0), 0u);  // inside the prefix
  EXPECT_EQ(t.source_index(4), 0u);  // a
  EXPECT_EQ(t.source_index(5), 1u);  // the NUL's expansion
  EXPECT_EQ(t.source_index(7), 1u);
  EXPECT_EQ(t.source_index(9), 2u);  // b
  EXPECT_EQ(t.source_index(10), 3u); // % -> backslash
  EXPECT_EQ(t.source_index(11), 4u); // escaped NUL: "x00"
  EXPECT_EQ(t.source_index(14), 5u); // c
}

// The translated patterns, compiled and run.
bool matches(std::string_view pattern, uint32_t flags, std::string_view subject) {
  auto db = test::regexp(pattern, flags);
  if (db == nullptr) return false;
  auto sc = test::scanner_for(*db);
  return match(*db, *sc, bytes(subject)).found;
}

TEST(TranslateRun, ByteEscapes) {
  EXPECT_TRUE(matches("%x90%x90", 0, "ab\x90\x90" "cd"));
  EXPECT_FALSE(matches("%x90%x90", 0, "ab\x90" "c\x90"));
  EXPECT_TRUE(matches("%xff%x00", 0, std::string_view("\xff\0", 2)));
  EXPECT_TRUE(matches(std::string_view("a\0b", 3), 0, std::string_view("xa\0b", 4)));
  EXPECT_FALSE(matches(std::string_view("a\0b", 3), 0, "ab"));
  EXPECT_TRUE(matches("%d%d%d", 0, "x666"));
  EXPECT_TRUE(matches("100%%", 0, "100%"));
}

TEST(TranslateRun, CaseInsensitive) {
  EXPECT_FALSE(matches("select", 0, "SeLeCt"));
  EXPECT_TRUE(matches("select", flag::case_insensitive, "SeLeCt"));
}

TEST(TranslateRun, ExtendedIgnoresWhitespaceAndCommentsOutsideClasses) {
  EXPECT_TRUE(matches("a b  c # a comment\n d", flag::extended, "abcd"));
  EXPECT_FALSE(matches("a b", flag::extended, "a b"));
  EXPECT_TRUE(matches("a b", 0, "a b"));       // without the flag, spaces count
  EXPECT_TRUE(matches("a% b", flag::extended, "a b"));  // escaped space stays
  EXPECT_TRUE(matches("a[ ]b", flag::extended, "a b")); // space in a class stays
  EXPECT_TRUE(matches("a%#b", flag::extended, "a#b"));  // escaped '#' is literal
  EXPECT_TRUE(matches("a[#]b", flag::extended, "a#b")); // '#' in a class is literal
  EXPECT_TRUE(matches("a#b", flag::extended, "a"));     // a comment up to the end
}

TEST(TranslateRun, DotallAndMultiline) {
  EXPECT_FALSE(matches("a.b", 0, "a\nb"));
  EXPECT_TRUE(matches("a.b", flag::dotall, "a\nb"));
  EXPECT_TRUE(matches("^bar$", 0, "foo\nbar\nbaz")); // Haka: always multiline
}

TEST(TranslateRun, ErrorIndexesPointIntoTheHakaPattern) {
  CompileError error;
  EXPECT_EQ(Database::compile_regexp("a b(", flag::extended, error), nullptr);
  EXPECT_NE(error.message.find("index 3"), std::string::npos) << error.message; // not 7
  EXPECT_EQ(Database::compile_regexp(std::string_view("a\0(", 3), 0, error), nullptr);
  EXPECT_NE(error.message.find("index 2"), std::string::npos) << error.message; // not 5
}

} // namespace
} // namespace haka::match
