#include "flow/timer_wheel.hpp"

#include <bit>
#include <cassert>

namespace haka::flow {

std::optional<TimerWheel> TimerWheel::create(const TimerWheelConfig& cfg) {
  if (cfg.capacity == 0 || cfg.tick_shift > 30 ||
      uint64_t{cfg.capacity} + kLevels * kListsPerLevel >= kNone)
    return std::nullopt;
  TimerWheel w;
  const uint64_t nodes = uint64_t{cfg.capacity} + kLevels * kListsPerLevel;
  w.mem_ = PageBuffer::allocate(nodes * sizeof(Node), cfg.memory, cfg.socket_id);
  if (!w.mem_) return std::nullopt;
  w.nodes_ = static_cast<Node*>(w.mem_.data());
  w.capacity_ = cfg.capacity;
  w.shift_ = cfg.tick_shift;
  w.now_ = cfg.start_ns >> cfg.tick_shift;
  for (uint32_t i = 0; i < cfg.capacity; ++i) w.nodes_[i] = {kNone, kNone, 0};
  for (uint32_t h = cfg.capacity; h < nodes; ++h) w.nodes_[h] = {h, h, 0};
  return std::optional<TimerWheel>(std::move(w));
}

void TimerWheel::link(uint32_t n, unsigned level, uint32_t list) {
  const uint32_t h = head(level, list);
  const uint32_t tail = nodes_[h].prev;
  nodes_[n].next = h;
  nodes_[n].prev = tail;
  nodes_[tail].next = n;
  nodes_[h].prev = n;
  bitmap_[level][list / 64] |= uint64_t{1} << (list % 64);
}

void TimerWheel::unlink(uint32_t n) {
  Node& x = nodes_[n];
  nodes_[x.prev].next = x.next;
  nodes_[x.next].prev = x.prev;
  x.next = kNone;
}

uint64_t TimerWheel::full_tick(uint32_t n) const {
  // Deadlines of armed timers lie in [now_, now_ + kMaxDelta] (< 2^31 ticks
  // away), so the low 32 bits name the tick without ambiguity.
  const auto delta = static_cast<int32_t>(nodes_[n].tick - static_cast<uint32_t>(now_));
  return delta <= 0 ? now_ : now_ + static_cast<uint64_t>(delta);
}

void TimerWheel::place(uint32_t n) {
  const uint64_t e = full_tick(n);
  // The lowest level whose enclosing block (the next level's list) is the
  // one `now_` is in; the top level is a ring and takes the rest.
  if ((e >> kLevelBits) == (now_ >> kLevelBits)) {
    link(n, 0, static_cast<uint32_t>(e) & kMask);
  } else if ((e >> (2 * kLevelBits)) == (now_ >> (2 * kLevelBits))) {
    link(n, 1, static_cast<uint32_t>(e >> kLevelBits) & kMask);
  } else {
    link(n, 2, static_cast<uint32_t>(e >> (2 * kLevelBits)) & kMask);
  }
}

void TimerWheel::schedule(uint32_t slot, uint64_t deadline_ns) {
  assert(slot < capacity_);
  const uint64_t tick_mask = (uint64_t{1} << shift_) - 1;
  uint64_t e = (deadline_ns >> shift_) + ((deadline_ns & tick_mask) != 0 ? 1 : 0);
  if (e < now_) e = now_;
  if (e - now_ > kMaxDelta) e = now_ + kMaxDelta;
  Node& x = nodes_[slot];
  if (x.next != kNone) {
    // Later than before: the timer stays where it is and is moved when that
    // position comes due (its list is always due no later than its deadline).
    if (e >= full_tick(slot)) {
      x.tick = static_cast<uint32_t>(e);
      return;
    }
    unlink(slot);
    --armed_;
  }
  x.tick = static_cast<uint32_t>(e);
  place(slot);
  ++armed_;
}

void TimerWheel::cancel(uint32_t slot) {
  assert(slot < capacity_);
  if (nodes_[slot].next == kNone) return;
  unlink(slot);
  --armed_;
}

uint64_t TimerWheel::deadline_ns(uint32_t slot) const { return full_tick(slot) << shift_; }

int TimerWheel::find_list(unsigned level, uint32_t from, uint32_t to) {
  // Scans the occupancy bitmap; a set bit whose list turned out empty (a
  // cancelled timer) is cleared on the way.
  while (from <= to) {
    const uint32_t w = from / 64;
    uint64_t bits = bitmap_[level][w] & (~uint64_t{0} << (from % 64));
    if (to / 64 == w && to % 64 != 63) bits &= (uint64_t{1} << (to % 64 + 1)) - 1;
    while (bits != 0) {
      const uint32_t list = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
      if (!list_empty(head(level, list))) return static_cast<int>(list);
      bitmap_[level][w] &= ~(uint64_t{1} << (list % 64));
      bits &= bits - 1;
    }
    from = (w + 1) * 64;
  }
  return -1;
}

bool TimerWheel::next_event(uint64_t target, uint64_t& t) {
  // The earliest tick in (now_, target] where a list is due: a level-0 list
  // of the current block, else the start of a level-1 list of the current
  // level-1 block, else the start of a level-2 list (ring order).
  for (unsigned level = 0; level < kLevels; ++level) {
    const unsigned sh = level * kLevelBits;
    const uint64_t cur = now_ >> sh;
    const auto idx = static_cast<uint32_t>(cur) & kMask;
    uint64_t dist = 0;
    if (level + 1 < kLevels) {
      if (idx == kMask) continue;
      const int j = find_list(level, idx + 1, kMask);
      if (j < 0) continue;
      dist = static_cast<uint32_t>(j) - idx;
    } else {
      int j = idx == kMask ? -1 : find_list(level, idx + 1, kMask);
      if (j < 0 && idx != 0) j = find_list(level, 0, idx - 1);
      if (j < 0) return false;
      dist = (static_cast<uint32_t>(j) - idx) & kMask;
    }
    t = (cur + dist) << sh;
    return t <= target;
  }
  return false;
}

void TimerWheel::cascade(uint64_t t) {
  // At a block boundary the higher level's list for the new block moves
  // down, top level first so its timers can land in the level-1 list taken
  // next.
  for (unsigned level = kLevels - 1; level >= 1; --level) {
    const unsigned sh = level * kLevelBits;
    if ((t & ((uint64_t{1} << sh) - 1)) != 0) continue;
    const uint32_t h = head(level, static_cast<uint32_t>(t >> sh) & kMask);
    while (!list_empty(h)) {
      const uint32_t n = nodes_[h].next;
      unlink(n);
      place(n);
    }
  }
}

std::size_t TimerWheel::advance(uint64_t now_ns, std::span<uint32_t> expired) {
  const uint64_t target = now_ns >> shift_;
  std::size_t count = 0;
  for (;;) {
    // Drain the list of the current tick (all due, or pushed later and re-placed).
    const uint32_t h = head(0, static_cast<uint32_t>(now_) & kMask);
    while (!list_empty(h)) {
      const uint32_t n = nodes_[h].next;
      if (full_tick(n) > now_) {
        unlink(n);
        place(n);
        continue;
      }
      if (count == expired.size()) return count;
      unlink(n);
      --armed_;
      expired[count++] = n;
    }
    if (now_ >= target) return count;
    uint64_t t;
    if (!next_event(target, t)) {
      now_ = target;
      return count;
    }
    now_ = t;
    cascade(t);
  }
}

} // namespace haka::flow
