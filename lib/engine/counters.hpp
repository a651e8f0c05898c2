// Per-worker packet accounting.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace haka::engine {

/// Why a packet was dropped; each reason is counted separately.
enum class DropReason : uint8_t {
#define X(id, name, text) id,
#include "engine/drop_reasons.def"
#undef X
  count_
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(DropReason::count_);

/// The JSON/log name of a drop reason.
const char* drop_reason_name(DropReason r);

/// A counter written by one thread and read by any: relaxed load + store compile
/// to plain moves on x86 (no locked instruction), yet reading it from the main
/// lcore is not a data race.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(uint64_t v) { v_.store(v, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// A plain copy of a worker's counters, for sums and reports.
struct CounterSnapshot {
  uint64_t rx_packets = 0, rx_bytes = 0;
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t injected = 0;
  uint64_t held = 0;
  uint64_t connections = 0; // tracked now (a gauge: summed over workers)
  std::array<uint64_t, drop_reason_count> dropped_by{};

  uint64_t dropped() const;
  CounterSnapshot& operator+=(const CounterSnapshot& o);
  /// The ownership invariant: every packet that entered left, was dropped, or is held.
  bool balanced() const { return rx_packets + injected == tx_packets + dropped() + held; }
};

/// A worker's counters, on their own cache lines so the main lcore reading
/// them never shares a line the worker writes with anything else.
struct alignas(64) WorkerCounters {
  Counter rx_packets, rx_bytes;
  Counter tx_packets, tx_bytes;
  Counter injected;
  Counter held;
  Counter connections;
  std::array<Counter, drop_reason_count> dropped_by;

  void drop(DropReason r, uint64_t n = 1) { dropped_by[static_cast<std::size_t>(r)].add(n); }
  CounterSnapshot snapshot() const;
};

/// A named set of counters a layer publishes ("connections", "tcp", ...);
/// reports sum groups of the same name over workers.
struct CounterGroup {
  std::string name;
  std::vector<std::pair<std::string, uint64_t>> values;
};

/// Adds `g` into `into`, matching groups and values by name.
void merge_groups(std::vector<CounterGroup>& into, const std::vector<CounterGroup>& g);

} // namespace haka::engine
