// Scanning: the per-worker Scanner (scratch, stream slab, counters), the
// per-flow-direction StreamScanner (Hyperscan stream state, opened lazily),
// and one-shot block scans.
//
// Matches are reported as absolute offsets: in a stream, from the stream's
// base (the offset of its first scanned byte, 0 unless set_base() said
// otherwise) and across every chunk scanned so far; in a block scan, from the
// start of the block. `end` is one past the last byte; `begin` is the
// leftmost start (see PatternInfo::exact_begin for patterns without it).
#pragma once

#include <array>
#include <cassert>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include <hs/hs.h>

#include "match/counters.hpp"
#include "match/database.hpp"
#include "match/stream_slab.hpp"

namespace haka::match {

/// One match, as given to callbacks.
struct Match {
  uint32_t id = 0;    // the pattern's id (Pattern::id)
  uint32_t index = 0; // the pattern's index in its database
  uint64_t begin = 0; // absolute offset of the first byte
  uint64_t end = 0;   // absolute offset one past the last byte
  bool exact_begin = false;
};

/// What a callback wants after a match. A callback may also return void
/// (always more).
enum class Next : uint8_t { more, stop };

/// Outcome of a scan call (scan_status.def).
enum class ScanStatus : uint8_t {
#define X(id, text) id,
#include "match/scan_status.def"
#undef X
};

/// The message of a scan outcome.
const char* message(ScanStatus s);

/// One worker's matching context: its Hyperscan scratch, its slab of stream
/// states and its counters. Create it on any thread; use it from the worker.
class Scanner {
 public:
  /// `slot_size`: the largest Database::stream_size() it will scan with;
  /// `max_streams`: how many stream states may be open at once.
  Scanner(std::size_t slot_size, std::size_t max_streams) : slab_(slot_size, max_streams) {}

  /// Readies the scratch for `db` and checks that its stream states fit the
  /// slab's slots; false otherwise (load time, not the packet path).
  bool reserve(const Database& db) {
    return scratch_.reserve(db) && (db.stream() == nullptr || db.stream_size() <= slab_.slot_size());
  }
  bool ok() const { return slab_.ok(); }

  Scratch& scratch() { return scratch_; }
  StreamSlab& slab() { return slab_; }
  MatchCounters& counters() { return counters_; }
  const MatchCounters& counters() const { return counters_; }

 private:
  Scratch scratch_;
  StreamSlab slab_;
  MatchCounters counters_;
};

namespace detail {

template <class F>
struct Frame {
  F* fn;
  const PatternInfo* info;
  uint64_t base;
  MatchCounters* counters;
};

template <class F>
int on_match(unsigned index, unsigned long long from, unsigned long long to, unsigned /*flags*/, void* context) {
  auto* frame = static_cast<Frame<F>*>(context);
  const PatternInfo& p = frame->info[index];
  ++frame->counters->matches;
  // Past the SOM horizon (a match longer than 2^32 bytes) Hyperscan has no begin.
  const bool exact = p.exact_begin && from != HS_OFFSET_PAST_HORIZON;
  const Match m{p.id, index, frame->base + (exact ? from : 0), frame->base + to, exact};
  if constexpr (std::is_void_v<std::invoke_result_t<F&, const Match&>>) {
    (*frame->fn)(m);
    return 0;
  } else {
    return (*frame->fn)(m) == Next::stop ? 1 : 0;
  }
}

// Hyperscan takes 32-bit lengths.
inline constexpr std::size_t max_piece = std::size_t{1} << 30;

} // namespace detail

/// Scans one whole buffer in block mode; `on_match(const Match&)` for every
/// match, in order of end offset. `db` must have block mode.
template <class F>
ScanStatus scan_block(const Database& db, Scanner& scanner, std::span<const uint8_t> data, F&& on_match) {
  using Fn = std::remove_reference_t<F>;
  detail::Frame<Fn> frame{&on_match, db.infos(), 0, &scanner.counters()};
  ++scanner.counters().block_scans;
  if (data.size() > UINT_MAX) [[unlikely]] {
    ++scanner.counters().scan_errors; // a block has one length; no packet is this big
    return ScanStatus::error;
  }
  scanner.counters().bytes_scanned += data.size();
  const hs_error_t e = hs_scan(db.block(), reinterpret_cast<const char*>(data.data()),
                               static_cast<unsigned>(data.size()), 0, scanner.scratch().get(),
                               detail::on_match<Fn>, &frame);
  if (e == HS_SUCCESS) return ScanStatus::ok;
  if (e == HS_SCAN_TERMINATED) return ScanStatus::stopped;
  ++scanner.counters().scan_errors;
  return ScanStatus::error;
}

/// Hyperscan stream state for one direction of one flow (or one sink): 16
/// bytes, opened on the first scan, closed with the flow. The owner must
/// call close() or discard() before destroying it (it holds a slab slot and
/// cannot reach the slab by itself).
class StreamScanner {
 public:
  enum class State : uint8_t { idle, open, stopped, failed, finished };

  StreamScanner() = default;
  ~StreamScanner() { assert(!is_open()); }
  StreamScanner(StreamScanner&& o) noexcept : stream_(o.stream_), base_(o.base_) { o.stream_ = nullptr; }
  StreamScanner& operator=(StreamScanner&& o) noexcept {
    assert(!is_open());
    stream_ = o.stream_;
    base_ = o.base_;
    o.stream_ = nullptr;
    return *this;
  }
  StreamScanner(const StreamScanner&) = delete;
  StreamScanner& operator=(const StreamScanner&) = delete;

  /// The absolute offset of the first byte that will be scanned (before the
  /// first scan; default 0).
  void set_base(uint64_t base) { base_ = base; }
  uint64_t base() const { return base_; }

  State state() const {
    const auto v = reinterpret_cast<uintptr_t>(stream_);
    if (v == 0) return State::idle;
    if (v == stopped_tag) return State::stopped;
    if (v == failed_tag) return State::failed;
    if (v == finished_tag) return State::finished;
    return State::open;
  }
  bool is_open() const { return reinterpret_cast<uintptr_t>(stream_) > last_tag; }

  /// Scans the next bytes of the stream (chunks in stream order, each byte
  /// once). Opens the state on the first call; when the slab is empty the
  /// stream is marked failed (counted in alloc_failures, its bytes in
  /// bytes_unscanned) and every later call returns no_memory.
  template <class F>
  ScanStatus scan(const Database& db, Scanner& scanner, std::span<const uint8_t> chunk, F&& on_match) {
    MatchCounters& c = scanner.counters();
    if (!is_open()) [[unlikely]] {
      const ScanStatus s = open_or_status(db, scanner);
      if (s != ScanStatus::ok) {
        if (s == ScanStatus::no_memory) c.bytes_unscanned += chunk.size();
        return s;
      }
    }
    using Fn = std::remove_reference_t<F>;
    detail::Frame<Fn> frame{&on_match, db.infos(), base_, &c};
    c.bytes_scanned += chunk.size();
    while (true) {
      const std::size_t n = chunk.size() < detail::max_piece ? chunk.size() : detail::max_piece;
      const hs_error_t e = hs_scan_stream(stream_, reinterpret_cast<const char*>(chunk.data()),
                                          static_cast<unsigned>(n), 0, scanner.scratch().get(),
                                          detail::on_match<Fn>, &frame);
      if (e != HS_SUCCESS) [[unlikely]]
        return after_error(e, scanner);
      chunk = chunk.subspan(n);
      if (chunk.empty()) return ScanStatus::ok;
    }
  }

  /// End of stream: reports the matches that needed it ("foo$"), then frees
  /// the state. Idle, stopped or failed streams just become finished.
  template <class F>
  ScanStatus close(const Database& db, Scanner& scanner, F&& on_match) {
    if (!is_open()) {
      const State s = state();
      stream_ = tag(finished_tag);
      return s == State::failed ? ScanStatus::no_memory : ScanStatus::ok;
    }
    using Fn = std::remove_reference_t<F>;
    detail::Frame<Fn> frame{&on_match, db.infos(), base_, &scanner.counters()};
    StreamSlab::Use use(scanner.slab());
    const hs_error_t e = hs_close_stream(stream_, scanner.scratch().get(), detail::on_match<Fn>, &frame);
    stream_ = tag(finished_tag);
    scanner.counters().stream_closed();
    if (e == HS_SUCCESS || e == HS_SCAN_TERMINATED) return ScanStatus::ok;
    ++scanner.counters().scan_errors;
    return ScanStatus::error;
  }

  /// Frees the state without end-of-stream matches (connection dropped or
  /// reset, or nothing is interested any more).
  void discard(Scanner& scanner);

 private:
  static constexpr uintptr_t stopped_tag = 1, failed_tag = 2, finished_tag = 3, last_tag = 3;
  static hs_stream_t* tag(uintptr_t t) { return reinterpret_cast<hs_stream_t*>(t); }

  ScanStatus open_or_status(const Database& db, Scanner& scanner);
  ScanStatus after_error(hs_error_t e, Scanner& scanner);

  hs_stream_t* stream_ = nullptr; // or a state tag
  uint64_t base_ = 0;
};
static_assert(sizeof(StreamScanner) == 16);

/// Matches gathered during one scan call, to act on once Hyperscan has
/// returned: a callback that runs rules inside Hyperscan could not scan with
/// the same scratch nor close the stream being scanned. A full batch drops
/// further matches of that call and counts them in `dropped`.
template <std::size_t N>
struct MatchBatch {
  std::array<Match, N> items{};
  std::size_t count = 0;
  uint64_t dropped = 0;

  Next operator()(const Match& m) {
    if (count < N) [[likely]]
      items[count++] = m;
    else
      ++dropped;
    return Next::more;
  }
  std::span<const Match> matches() const { return {items.data(), count}; }
  void clear() { count = 0; }
};

} // namespace haka::match
