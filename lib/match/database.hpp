// Hyperscan databases compiled from Haka patterns, shared read-only by all
// workers, and the per-worker scratch that scanning them needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <hs/hs.h>

namespace haka::match {

/// One pattern to compile: Haka syntax, Haka flags (translate.hpp), and the
/// caller's id, given back with every match.
struct Pattern {
  std::string expression;
  uint32_t flags = 0;
  uint32_t id = 0;
};

/// How to compile a set of patterns.
struct DatabaseOptions {
  bool block = true;  // one-shot scans (re:match on a string)
  bool stream = true; // scans across segments
  // Accept patterns that match the empty string (Haka's regexps: ".*"
  // matches). Off for engine-level pattern lists, where such a pattern
  // would call its rule at every byte.
  bool allow_empty = false;
  // Report where matches begin (HS_FLAG_SOM_LEFTMOST) where Hyperscan
  // accepts it; see PatternInfo::exact_begin.
  bool start_of_match = true;
};

/// Why a set of patterns did not compile. The caller adds where the pattern
/// came from (the rule's file:line).
struct CompileError {
  long index = -1;     // which pattern of the list, -1 when about the whole set
  uint32_t id = 0;     // its id
  std::string pattern; // its text, as given (Haka syntax)
  std::string message; // the translation's or Hyperscan's message (indexes are into `pattern`)

  /// One line: `pattern #3 (id 17) "a(b": Missing close paren at index 3.`
  std::string describe() const;
};

/// What the database knows of one of its patterns, by index.
struct PatternInfo {
  uint32_t id = 0;
  // True when matches of this pattern carry their leftmost begin. False when
  // Hyperscan refused start-of-match tracking for it (patterns that can
  // match the empty string, some large bounded repeats): its matches then
  // report begin = the first offset of the scanned data (0 in block mode,
  // the stream's base in stream mode), a lower bound of the true begin.
  // (A single match longer than 2^32 bytes, past Hyperscan's SOM horizon,
  // is reported the same way, with Match::exact_begin false.)
  bool exact_begin = false;
  uint32_t min_width = 0;          // shortest match, in bytes
  uint32_t max_width = UINT32_MAX; // longest match, UINT32_MAX when unbounded
};

/// Patterns compiled once (block and/or stream mode); immutable afterwards,
/// so workers share it through shared_ptr<const Database> without locks.
/// Hyperscan ids are pattern indexes; PatternInfo maps them to caller ids.
class Database {
 public:
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Compiles `patterns`; on failure returns nullptr and fills `error`.
  /// Each pattern is checked alone first, so a bad one is named with its
  /// own message; a pattern Hyperscan refuses only for start-of-match is
  /// compiled without it (exact_begin = false).
  static std::shared_ptr<const Database> compile(std::span<const Pattern> patterns,
                                                 const DatabaseOptions& options, CompileError& error);

  /// One Haka regexp (re:compile): block and stream mode, empty matches
  /// allowed, id 0.
  static std::shared_ptr<const Database> compile_regexp(std::string_view pattern, uint32_t flags,
                                                        CompileError& error);

  const hs_database_t* block() const { return block_; }   // nullptr unless compiled for block mode
  const hs_database_t* stream() const { return stream_; } // nullptr unless compiled for stream mode
  /// Bytes of one stream's state (hs_stream_size); 0 without stream mode.
  std::size_t stream_size() const { return stream_size_; }
  std::size_t size() const { return info_.size(); }
  const PatternInfo& info(uint32_t index) const { return info_[index]; }
  const PatternInfo* infos() const { return info_.data(); }

 private:
  Database() = default;
  hs_database_t* block_ = nullptr;
  hs_database_t* stream_ = nullptr;
  std::size_t stream_size_ = 0;
  std::vector<PatternInfo> info_;
};

/// Hyperscan scratch space for one worker (hs_alloc_scratch), large enough
/// for every database given to reserve(). Not shareable between threads;
/// one scan at a time (a callback must not scan with the scratch that is
/// calling it: Hyperscan answers HS_SCRATCH_IN_USE).
class Scratch {
 public:
  Scratch() = default;
  ~Scratch();
  Scratch(Scratch&& o) noexcept : scratch_(o.scratch_) { o.scratch_ = nullptr; }
  Scratch& operator=(Scratch&& o) noexcept;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  /// Grows the scratch for both modes of `db`; false if Hyperscan refused
  /// (out of memory, unsupported platform).
  bool reserve(const Database& db);
  /// A copy for another worker (hs_clone_scratch); invalid on failure.
  Scratch clone() const;

  bool valid() const { return scratch_ != nullptr; }
  hs_scratch_t* get() const { return scratch_; }

 private:
  hs_scratch_t* scratch_ = nullptr;
};

/// Hyperscan's name for an error code ("HS_NOMEM", ...).
const char* hs_error_name(hs_error_t e);

} // namespace haka::match
