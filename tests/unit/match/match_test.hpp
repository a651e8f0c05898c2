// Helpers shared by the match unit tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "match/database.hpp"
#include "match/regexp.hpp"
#include "match/scanner.hpp"
#include "match/translate.hpp"

namespace haka::match::test {

/// Concatenates pieces (GCC 12 -O3 reports a false -Wrestrict on
/// `"literal" + std::string` in some loops; appending avoids it).
inline std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) s.append(p);
  return s;
}

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// Compiles one Haka regexp, failing the test with the error when it does not.
inline std::shared_ptr<const Database> regexp(std::string_view pattern, uint32_t flags = 0) {
  CompileError error;
  auto db = Database::compile_regexp(pattern, flags, error);
  EXPECT_NE(db, nullptr) << error.describe();
  return db;
}

/// A scanner ready for `db`: slots of its stream size, `streams` of them.
inline std::unique_ptr<Scanner> scanner_for(const Database& db, std::size_t streams = 16) {
  auto s = std::make_unique<Scanner>(db.stream_size() > 0 ? db.stream_size() : 64, streams);
  EXPECT_TRUE(s->ok());
  EXPECT_TRUE(s->reserve(db));
  return s;
}

/// Every match of a stream scan, recorded.
struct Recorder {
  std::vector<Match> seen;
  void operator()(const Match& m) { seen.push_back(m); }
};

} // namespace haka::match::test
