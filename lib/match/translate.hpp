// Haka regexp patterns (PCRE syntax with '%' as the escape character, as
// Haka's regexp modules took them) to Hyperscan expressions and flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace haka::match {

/// Compile flags of Haka's regexp API. The first two keep Haka's values
/// (REGEXP_CASE_INSENSITIVE, REGEXP_EXTENDED) so rule files that pass
/// numbers keep working.
namespace flag {
inline constexpr uint32_t case_insensitive = 1u << 0; // HS_FLAG_CASELESS
inline constexpr uint32_t extended = 1u << 1;         // PCRE /x: whitespace and # comments ignored
inline constexpr uint32_t dotall = 1u << 2;           // '.' also matches '\n' (HS_FLAG_DOTALL)
// Haka compiled every pattern with PCRE_MULTILINE ('^' and '$' at every
// line), so this is always on; the flag is accepted to say it explicitly.
inline constexpr uint32_t multiline = 1u << 3;
inline constexpr uint32_t all = case_insensitive | extended | dotall | multiline;
} // namespace flag

/// A Haka pattern made ready for hs_compile: the expression, its Hyperscan
/// flags (without SOM and ALLOWEMPTY, which the Database decides), and how
/// to map a position in `expression` back to the Haka pattern.
struct Translation {
  std::string expression; // NUL-free, for hs_compile
  unsigned hs_flags = 0;
  std::string error;      // empty when the translation succeeded
  std::size_t prefix = 0; // characters put in front of the pattern ("(?x)")

  bool ok() const { return error.empty(); }

  /// The index in the Haka pattern of the character at `index` in
  /// `expression` (Hyperscan's messages say "at index N" of the expression).
  std::size_t source_index(std::size_t index) const;

 private:
  friend Translation translate(std::string_view pattern, uint32_t flags);
  // Expression characters [at, at + width) that stand for one pattern
  // character: a NUL byte written as "\x00" (or "x00" after an escape).
  // Haka patterns were C strings and stopped at the first NUL; ours are
  // Lua strings and may hold any byte.
  struct Expansion {
    std::size_t at;
    std::size_t width;
  };
  std::vector<Expansion> expansions_;
};

/// Translates a Haka pattern:
///  - every '%' becomes '\' and the character after it is copied as it is
///    (Haka's escape_chars: "%x90" is the byte 0x90, "%d" a digit, "%%" a
///    literal '%'); backslashes pass through unchanged;
///  - a NUL byte becomes "\x00" (a literal NUL; Haka truncated the pattern);
///  - case_insensitive -> HS_FLAG_CASELESS, dotall -> HS_FLAG_DOTALL,
///    multiline (always) -> HS_FLAG_MULTILINE, extended -> a "(?x)" prefix
///    (Hyperscan has no compile flag for /x but its parser implements the
///    inline (?x) modifier as PCRE does: unescaped whitespace and '#'
///    comments outside classes are ignored), and a final newline (a '#'
///    comment may run to the end of a PCRE pattern; Hyperscan wants it
///    closed). Not handled: an unterminated \Q quote under /x would take
///    that newline as a literal.
/// Errors: a pattern ending in a lone '%', unknown flag bits.
Translation translate(std::string_view pattern, uint32_t flags);

} // namespace haka::match
