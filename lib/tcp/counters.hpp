// Per-worker counts of the tracker's outcomes, events and end reasons.
#pragma once

#include <array>
#include <cstdint>

#include "tcp/connection.hpp"

namespace haka::tcp {

/// What one worker's tracker did, as plain numbers: the worker adds every
/// StepResult (one writer, no atomics) and publishes a copy once per burst.
struct TcpCounters {
  std::array<uint64_t, outcome_count> outcomes{};   // by SegmentOutcome, every call
  std::array<uint64_t, end_reason_count> ended{};   // end_connection events, by EndReason
  uint64_t opened = 0;      // connections created (opened events)
  uint64_t established = 0; // handshakes completed
  uint64_t finished = 0;    // entries freed (finished events)
  uint64_t policy_applied[static_cast<std::size_t>(Policy::count_)] = {}; // segments sent to each policy
  uint64_t active = 0;      // opened - finished: connections tracked now
  uint64_t active_peak = 0; // highest `active` seen

  /// Counts one result of open/step/expire/drop. Inline: most results carry
  /// no policy and no event, and cost one increment.
  void add(const StepResult& r) {
    ++outcomes[static_cast<std::size_t>(r.outcome)];
    if (r.policy != Policy::none || r.events != 0) [[unlikely]]
      add_policy_and_events(r);
  }

  uint64_t outcome(SegmentOutcome o) const { return outcomes[static_cast<std::size_t>(o)]; }
  uint64_t ended_by(EndReason e) const { return ended[static_cast<std::size_t>(e)]; }

  /// Sums another worker's counters into this one (active_peak: the sum of
  /// peaks, an upper bound of the true simultaneous peak).
  TcpCounters& operator+=(const TcpCounters& o);

 private:
  void add_policy_and_events(const StepResult& r);
};

} // namespace haka::tcp
