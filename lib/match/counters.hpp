// Per-worker counts of the match layer (counters.def).
#pragma once

#include <cstddef>
#include <cstdint>

namespace haka::match {

/// What one worker's scans did, as plain numbers (one writer, no atomics);
/// the engine publishes a copy and sums workers for --summary-json.
struct MatchCounters {
#define X(id, name, text) uint64_t id = 0;
#include "match/counters.def"
#undef X

  /// Calls fn(json_name, value) for every counter, in counters.def order.
  template <class F>
  void for_each(F&& fn) const {
#define X(id, name, text) fn(name, id);
#include "match/counters.def"
#undef X
  }

  /// Sums another worker's counters (streams_open_peak: the sum of peaks,
  /// an upper bound of the true simultaneous peak).
  MatchCounters& operator+=(const MatchCounters& o);

  void stream_opened() {
    ++streams_opened;
    if (++streams_open > streams_open_peak) streams_open_peak = streams_open;
  }
  void stream_closed() {
    ++streams_closed;
    --streams_open;
  }
};

/// Number of counters in counters.def.
inline constexpr std::size_t match_counter_count = 0
#define X(id, name, text) +1
#include "match/counters.def"
#undef X
    ;

} // namespace haka::match
