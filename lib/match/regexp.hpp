// The pieces of Haka's regexp API (regexp/pcre) that the Lua layer wraps:
// one-shot matches and sinks fed piece by piece.
//
// Which match is reported: Hyperscan reports every match, PCRE the first
// by its backtracking rules. We report, among the matches found in the bytes
// scanned by one call, the leftmost begin and, for that begin, the longest
// end: PCRE's answer for greedy patterns ("a+" on "baaab" is 1..4), not for
// lazy ones ("a+?" gives 1..4 where PCRE gives 1..2). A sink reports the
// first feed() whose bytes complete a match (Hyperscan cannot say that a
// match is still growing), chosen as above among that feed's matches.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "match/database.hpp"
#include "match/scanner.hpp"

namespace haka::match {

/// Result of a one-shot match or of a sink: found, where.
struct Found {
  bool found = false;
  uint32_t id = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  bool exact_begin = false;
};

/// Keeps the leftmost-begin, longest-end match of those offered.
struct FoundKeeper {
  Found best;
  void operator()(const Match& m) {
    if (!best.found || m.begin < best.begin || (m.begin == best.begin && m.end > best.end)) {
      best = Found{true, m.id, m.begin, m.end, m.exact_begin};
    }
  }
};

/// re:match(string): one block-mode scan of `data` (db needs block mode).
/// `status` (optional) receives the scan's outcome; on error found is false.
Found match(const Database& db, Scanner& scanner, std::span<const uint8_t> data, ScanStatus* status = nullptr);
inline Found match(const Database& db, Scanner& scanner, std::string_view data, ScanStatus* status = nullptr) {
  return match(db, scanner, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}, status);
}

/// Haka's regexp_sink (re:get_sink()): data fed piece by piece, remembered
/// match. Offsets count the bytes fed, from 0. The stream state is freed as
/// soon as the answer is known (a match, or eof), else with the sink.
class Sink {
 public:
  /// `db` needs stream mode; `scanner` is the worker's and must outlive the sink.
  Sink(std::shared_ptr<const Database> db, Scanner& scanner) : db_(std::move(db)), scanner_(&scanner) {}
  ~Sink() { stream_.discard(*scanner_); }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  /// sink:feed(data, eof): scans `data` (nothing once matched or finished);
  /// with eof, also the end-of-stream matches. Returns whether the regexp
  /// has matched so far. status() says why not when it could not scan.
  bool feed(std::span<const uint8_t> data, bool eof);
  bool feed(std::string_view data, bool eof) {
    return feed({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, eof);
  }

  bool matched() const { return found_.found; }
  const Found& result() const { return found_; }
  /// Outcome of the last scan: ok, or no_memory/error (the Lua layer raises).
  ScanStatus status() const { return status_; }
  /// True once eof was fed or a match was found: nothing more is scanned.
  bool done() const { return done_; }
  /// Bytes fed so far (including those not scanned after the answer).
  uint64_t fed() const { return fed_; }

 private:
  std::shared_ptr<const Database> db_;
  Scanner* scanner_;
  StreamScanner stream_;
  Found found_;
  uint64_t fed_ = 0;
  ScanStatus status_ = ScanStatus::ok;
  bool done_ = false;
};

} // namespace haka::match
