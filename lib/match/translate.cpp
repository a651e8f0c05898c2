// Haka pattern translation (see translate.hpp).
#include "match/translate.hpp"

#include <algorithm>
#include <cstdio>

#include <hs/hs_compile.h>

namespace haka::match {

std::size_t Translation::source_index(std::size_t index) const {
  if (index < prefix) return 0;
  std::size_t source = index - prefix;
  for (const Expansion& e : expansions_) {
    if (e.at >= index) break;
    if (e.at + e.width <= index) {
      source -= e.width - 1;
    } else {
      source -= index - e.at; // inside the expansion: its one character
      break;
    }
  }
  return source;
}

Translation translate(std::string_view pattern, uint32_t flags) {
  Translation t;
  if ((flags & ~flag::all) != 0) {
    char text[64];
    std::snprintf(text, sizeof text, "unknown regexp flags 0x%x", flags & ~flag::all);
    t.error = text;
    return t;
  }
  t.hs_flags = HS_FLAG_MULTILINE;
  if ((flags & flag::case_insensitive) != 0) t.hs_flags |= HS_FLAG_CASELESS;
  if ((flags & flag::dotall) != 0) t.hs_flags |= HS_FLAG_DOTALL;
  t.expression.reserve(pattern.size() + 8);
  if ((flags & flag::extended) != 0) {
    t.expression = "(?x)";
    t.prefix = t.expression.size();
  }
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    bool escaped = false;
    if (c == '%') {
      if (i + 1 == pattern.size()) {
        t.error = "pattern ends with a lone '%' (escape of nothing) at index " + std::to_string(i);
        return t;
      }
      t.expression += '\\';
      c = pattern[++i];
      escaped = true;
    } else if (c == '\\' && i + 1 < pattern.size() && pattern[i + 1] == '\0') {
      t.expression += '\\';
      c = pattern[++i];
      escaped = true;
    }
    if (c == '\0') {
      const std::string_view nul = escaped ? "x00" : "\\x00";
      t.expansions_.push_back({t.expression.size(), nul.size()});
      t.expression += nul;
      continue;
    }
    t.expression += c;
  }
  // Hyperscan's (?x) wants a '#' comment closed by a newline; PCRE lets it
  // run to the end of the pattern. A final newline is whitespace under /x.
  if ((flags & flag::extended) != 0) t.expression += '\n';
  return t;
}

} // namespace haka::match
