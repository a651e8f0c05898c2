// Per-worker idle timers on slot indices: a hierarchical timer wheel.
//
// Time is an abstract uint64 in nanoseconds (packet time offline, TSC-derived
// time live), counted in ticks of 2^tick_shift ns (default 2^20 ns, about
// 1.05 ms). Three levels of 1024 lists: level 0 holds timers due in the
// current 1024-tick block, one list per tick; level 1 one list per 1024
// ticks of the current 2^20-tick block; level 2 one list per 2^20 ticks, as a
// ring. When time reaches a level-1/2 list, its timers move down (cascade).
//
//  * schedule/cancel are O(1) and never allocate: each slot has one 12-byte
//    node (next, prev, deadline tick) in an array made at start-up.
//  * Pushing a deadline later (the common case: a packet refreshes an idle
//    timeout) only writes the slot's own node; the timer is moved when its
//    old position comes due. Pulling it earlier relinks it.
//  * A deadline is rounded up to a tick; the timer fires at the first
//    advance() whose time reaches that tick: never early, at most one tick late. Timers due at the same tick fire in an
//    unspecified but deterministic order; timers due at different ticks fire
//    in deadline order.
//  * advance() skips empty stretches with per-level occupancy bitmaps, so a
//    long jump in time (a pcap with an hour's gap, or years) costs work
//    proportional to the timers and occupied lists it passes, not to the gap.
//  * Deadlines further than max_timeout_ns() (1023 * 2^20 ticks, about 13 days
//    at the default tick) are clamped to it; advance() never fires early
//    otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "flow/page_buffer.hpp"

namespace haka::flow {

/// How to build a timer wheel (start-up only).
struct TimerWheelConfig {
  uint32_t capacity = 0;   // timers are numbered 0 .. capacity-1 (one per flow slot)
  unsigned tick_shift = 20; // tick = 2^tick_shift ns, 0..30
  uint64_t start_ns = 0;   // the wheel's initial time
  MemorySource memory = MemorySource::ordinary;
  int socket_id = -1;
};

/// Idle timers for flow slots: schedule, cancel, and advance time to collect
/// the expired slots in batches.
class TimerWheel {
 public:
  static constexpr unsigned kLevelBits = 10;
  static constexpr unsigned kLevels = 3;
  static constexpr uint32_t kListsPerLevel = 1u << kLevelBits;
  /// Furthest deadline, in ticks from now.
  static constexpr uint64_t kMaxDelta = uint64_t{kListsPerLevel - 1} << (kLevelBits * (kLevels - 1));

  /// Builds an empty wheel; nullopt for a bad config or short memory.
  static std::optional<TimerWheel> create(const TimerWheelConfig& cfg);

  TimerWheel(TimerWheel&&) noexcept = default;
  TimerWheel& operator=(TimerWheel&&) noexcept = default;

  /// Arms or re-arms `slot` to fire at `deadline_ns` (in the past: at the next
  /// advance). O(1); a later deadline than the current one is a single store.
  void schedule(uint32_t slot, uint64_t deadline_ns);
  /// Disarms `slot` (no-op when not armed). O(1).
  void cancel(uint32_t slot);
  /// True when `slot` is armed.
  bool scheduled(uint32_t slot) const { return nodes_[slot].next != kNone; }
  /// The armed deadline of `slot`, rounded up to a tick.
  uint64_t deadline_ns(uint32_t slot) const;

  /// Moves time to `now_ns` (never backwards: an earlier time is ignored) and
  /// writes expired slots, now disarmed, to `expired`. Returns how many; when
  /// that is expired.size(), more may be due: call again with the same time.
  std::size_t advance(uint64_t now_ns, std::span<uint32_t> expired);

  /// advance() calling on_expire(slot) for each expired slot, until none is
  /// due. on_expire may schedule or cancel any slot (a deadline it sets at or
  /// before now may fire in this same call: do not re-arm into the past forever).
  template <class F>
  std::size_t advance(uint64_t now_ns, F&& on_expire) {
    uint32_t buf[64];
    std::size_t total = 0;
    for (;;) {
      const std::size_t n = advance(now_ns, std::span<uint32_t>(buf));
      for (std::size_t i = 0; i < n; ++i) on_expire(buf[i]);
      total += n;
      if (n < std::size(buf)) return total;
    }
  }

  uint64_t now_ns() const { return now_ << shift_; }
  uint64_t tick_ns() const { return uint64_t{1} << shift_; }
  uint64_t max_timeout_ns() const { return kMaxDelta << shift_; }
  uint32_t capacity() const { return capacity_; }
  /// Number of armed timers.
  uint32_t size() const { return armed_; }
  /// Bytes this wheel holds.
  std::size_t memory_bytes() const { return mem_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kMask = kListsPerLevel - 1;
  static constexpr uint32_t kBitmapWords = kListsPerLevel / 64;

  // One per slot, then one sentinel per list (the list heads, circular).
  struct Node {
    uint32_t next; // kNone when not armed
    uint32_t prev;
    uint32_t tick; // deadline tick, low 32 bits (all deadlines are within kMaxDelta of now)
  };
  static_assert(sizeof(Node) == 12);

  TimerWheel() = default;

  uint32_t head(unsigned level, uint32_t list) const { return capacity_ + level * kListsPerLevel + list; }
  bool list_empty(uint32_t h) const { return nodes_[h].next == h; }
  void link(uint32_t n, unsigned level, uint32_t list);
  void unlink(uint32_t n);
  uint64_t full_tick(uint32_t n) const; // the node's deadline as a full tick (>= now_ - 0)
  void place(uint32_t n);               // link n by its deadline relative to now_
  void cascade(uint64_t t);
  bool next_event(uint64_t target, uint64_t& t);
  int find_list(unsigned level, uint32_t from, uint32_t to); // first non-empty in [from, to], -1 if none

  PageBuffer mem_;
  Node* nodes_ = nullptr;
  uint64_t bitmap_[kLevels][kBitmapWords] = {}; // bit set: list may be non-empty (cleared lazily)
  uint64_t now_ = 0;                            // ticks; timers due at or before now_ have fired or are in list (0, now_ & kMask)
  uint32_t capacity_ = 0;
  uint32_t armed_ = 0;
  unsigned shift_ = 20;
};

} // namespace haka::flow
