#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "flow/timer_wheel.hpp"

namespace haka::flow {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1000 * kMs;

TimerWheel make(uint32_t capacity, unsigned tick_shift = 20, uint64_t start_ns = 0) {
  TimerWheelConfig cfg;
  cfg.capacity = capacity;
  cfg.tick_shift = tick_shift;
  cfg.start_ns = start_ns;
  auto w = TimerWheel::create(cfg);
  EXPECT_TRUE(w.has_value());
  return std::move(*w);
}

std::vector<uint32_t> fire(TimerWheel& w, uint64_t now) {
  std::vector<uint32_t> out;
  w.advance(now, [&](uint32_t s) { out.push_back(s); });
  return out;
}

TEST(TimerWheel, RejectsBadConfig) {
  TimerWheelConfig cfg;
  EXPECT_FALSE(TimerWheel::create(cfg).has_value());
  cfg.capacity = 10;
  cfg.tick_shift = 31;
  EXPECT_FALSE(TimerWheel::create(cfg).has_value());
}

TEST(TimerWheel, FiresInDeadlineOrderNeverEarly) {
  auto w = make(16, 0); // 1 ns ticks: exact arithmetic
  const uint64_t deadlines[] = {500, 5, 70000, 1025, 3, 2'000'000, 1024, 1'048'576};
  for (uint32_t i = 0; i < std::size(deadlines); ++i) w.schedule(i, deadlines[i]);
  EXPECT_EQ(w.size(), 8u);
  std::vector<uint32_t> order;
  for (uint64_t t = 0; t <= 2'000'000; t += 1 + t / 3) {
    for (uint32_t s : fire(w, t)) {
      EXPECT_LE(deadlines[s], t) << "slot " << s << " fired early";
      order.push_back(s);
    }
  }
  for (uint32_t s : fire(w, 2'000'000)) order.push_back(s);
  EXPECT_EQ(order, (std::vector<uint32_t>{4, 1, 0, 6, 3, 2, 7, 5}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, FiresWithinOneTickOfDeadline) {
  auto w = make(4); // 2^20 ns ticks
  w.schedule(0, 30 * kSec + 123);
  EXPECT_TRUE(fire(w, 30 * kSec).empty());
  const uint64_t tick = w.tick_ns();
  EXPECT_EQ(w.deadline_ns(0) % tick, 0u);
  EXPECT_GE(w.deadline_ns(0), 30 * kSec + 123);
  EXPECT_LT(w.deadline_ns(0), 30 * kSec + 123 + tick);
  EXPECT_TRUE(fire(w, w.deadline_ns(0) - 1).empty());
  EXPECT_EQ(fire(w, w.deadline_ns(0)), std::vector<uint32_t>{0});
  EXPECT_FALSE(w.scheduled(0));
}

TEST(TimerWheel, RescheduleLaterAndEarlier) {
  auto w = make(4, 0);
  w.schedule(0, 100);
  w.schedule(1, 200);
  w.schedule(0, 300'000); // later: lazily kept in place
  EXPECT_EQ(w.deadline_ns(0), 300'000u);
  EXPECT_EQ(fire(w, 250), std::vector<uint32_t>{1});
  EXPECT_TRUE(fire(w, 299'999).empty());
  w.schedule(0, 400'000'000); // later again, beyond level 1
  EXPECT_TRUE(fire(w, 300'000).empty());
  w.schedule(0, 350'000); // earlier: relinked
  EXPECT_TRUE(fire(w, 349'999).empty());
  EXPECT_EQ(fire(w, 350'000), std::vector<uint32_t>{0});
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CancelDisarms) {
  auto w = make(8, 0);
  for (uint32_t i = 0; i < 8; ++i) w.schedule(i, 1000 * (i + 1));
  w.cancel(3);
  w.cancel(3); // twice is fine
  w.cancel(7);
  EXPECT_FALSE(w.scheduled(3));
  EXPECT_EQ(w.size(), 6u);
  const auto out = fire(w, 1'000'000);
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 1, 2, 4, 5, 6}));
  // Cancelled lists leave stale occupancy bits behind; nothing fires from them.
  EXPECT_TRUE(fire(w, 10'000'000).empty());
}

TEST(TimerWheel, PastDeadlineFiresOnNextAdvance) {
  auto w = make(2, 20, 100 * kSec);
  w.schedule(0, 5 * kSec); // already past
  EXPECT_EQ(fire(w, 100 * kSec), std::vector<uint32_t>{0});
  // Time going backwards is ignored.
  w.schedule(1, 101 * kSec);
  EXPECT_TRUE(fire(w, 50 * kSec).empty());
  EXPECT_EQ(w.now_ns() >> 20, (100 * kSec) >> 20);
  EXPECT_EQ(fire(w, 102 * kSec), std::vector<uint32_t>{1});
}

TEST(TimerWheel, HourLongGapInAPcapIsCheap) {
  // Packet time: epoch-sized values, then a one-hour jump.
  const uint64_t t0 = 1'700'000'000 * kSec;
  auto w = make(100000, 20, t0);
  for (uint32_t i = 0; i < 100000; ++i) w.schedule(i, t0 + (i % 600 + 1) * kSec); // 1..600 s
  w.schedule(99999, t0 + 2 * 3600 * kSec); // one survives the gap
  // Scheduling and a few small steps first, like live traffic.
  EXPECT_TRUE(fire(w, t0 + kSec / 2).empty());
  const auto out = fire(w, t0 + 3600 * kSec);
  EXPECT_EQ(out.size(), 99999u);
  // Deadline order across the whole jump.
  for (std::size_t i = 1; i < out.size(); ++i)
    ASSERT_LE(out[i - 1] % 600, out[i] % 600) << i;
  EXPECT_TRUE(w.scheduled(99999));
  EXPECT_TRUE(fire(w, w.deadline_ns(99999) - 1).empty());
  EXPECT_EQ(fire(w, w.deadline_ns(99999)), std::vector<uint32_t>{99999});
}

TEST(TimerWheel, JumpOfYearsWithEveryLevelOccupied) {
  auto w = make(6, 0);
  w.schedule(0, 10);              // level 0
  w.schedule(1, 5'000);           // level 1
  w.schedule(2, 5'000'000);       // level 2
  w.schedule(3, 900'000'000);     // far level 2
  w.schedule(4, ~uint64_t{0});    // clamped to the maximum
  EXPECT_EQ(w.deadline_ns(4), w.max_timeout_ns());
  const auto out = fire(w, uint64_t{40} << 40); // far beyond everything, 2^31 ticks away
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  // The wheel keeps working after the jump.
  const uint64_t now = w.now_ns();
  w.schedule(5, now + 3000);
  EXPECT_TRUE(fire(w, now + 2999).empty());
  EXPECT_EQ(fire(w, now + 3000), std::vector<uint32_t>{5});
}

TEST(TimerWheel, TimeoutsBeyondEachLevelSpan) {
  // Default 1.05 ms tick: level 0 spans ~1.07 s, level 1 ~18 min, the whole wheel ~13 days.
  auto w = make(4);
  EXPECT_GT(w.max_timeout_ns(), 12 * 24 * 3600 * kSec);
  w.schedule(0, 5 * kSec);           // beyond level 0
  w.schedule(1, 2 * 3600 * kSec);    // beyond level 1 (TCP established)
  w.schedule(2, 5 * 24 * 3600 * kSec); // 5 days (Linux conntrack established)
  // Step through time in uneven strides, like a pcap with bursts and gaps.
  std::vector<std::pair<uint32_t, uint64_t>> fired;
  uint64_t t = 0;
  std::mt19937_64 rng(3);
  while (t < 6 * 24 * 3600 * kSec) {
    t += rng() % (600 * kSec);
    for (uint32_t s : fire(w, t)) fired.emplace_back(s, t);
  }
  ASSERT_EQ(fired.size(), 3u);
  const uint64_t want[] = {5 * kSec, 2 * 3600 * kSec, 5 * 24 * 3600 * kSec};
  for (auto [s, at] : fired) EXPECT_GE(at, want[s]);
  EXPECT_EQ(fired[0].first, 0u);
  EXPECT_EQ(fired[1].first, 1u);
  EXPECT_EQ(fired[2].first, 2u);
}

TEST(TimerWheel, BatchesResumeWhereTheyStopped) {
  auto w = make(1000, 0);
  for (uint32_t i = 0; i < 1000; ++i) w.schedule(i, 77); // all on one tick
  std::vector<uint32_t> all;
  uint32_t buf[300];
  std::size_t n;
  int calls = 0;
  while ((n = w.advance(100, std::span<uint32_t>(buf))) > 0) {
    all.insert(all.end(), buf, buf + n);
    ++calls;
    if (n < std::size(buf)) break;
  }
  EXPECT_EQ(calls, 4);
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 1000u);
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(all[i], i);
}

TEST(TimerWheel, CallbackMayRearm) {
  auto w = make(2, 0);
  w.schedule(0, 10);
  int fired = 0;
  w.advance(10, [&](uint32_t s) {
    ++fired;
    w.schedule(s, 1000); // next state's timeout
  });
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(w.scheduled(0));
  EXPECT_EQ(fire(w, 1000), std::vector<uint32_t>{0});
}

// Random schedule/reschedule/cancel/advance against a simple reference.
TEST(TimerWheel, MatchesAReferenceUnderRandomOperations) {
  constexpr uint32_t n = 500;
  auto w = make(n, 4); // 16 ns ticks
  const uint64_t tick = w.tick_ns();
  std::vector<uint64_t> ref(n, 0); // deadline tick, 0 = not armed
  std::mt19937_64 rng(7);
  uint64_t now = 0;
  for (int op = 0; op < 300000; ++op) {
    const uint32_t s = static_cast<uint32_t>(rng() % n);
    const unsigned kind = rng() % 10;
    if (kind < 5) {
      // Deadlines spread over every level, sometimes in the past.
      const uint64_t spans[] = {100, 20'000, 20'000'000, 2'000'000'000};
      const uint64_t d = now + spans[rng() % 4] * (rng() % 1000) / 1000 - (rng() % 8 == 0 && now >= 50 ? 50 : 0);
      w.schedule(s, d);
      const uint64_t e = std::max((d + tick - 1) / tick, now / tick);
      ref[s] = e + 1; // +1 so tick 0 is representable
    } else if (kind < 7) {
      w.cancel(s);
      ref[s] = 0;
    } else {
      const uint64_t steps[] = {tick, 50 * tick, 40'000 * tick, 30'000'000 * tick};
      now += rng() % steps[rng() % 4];
      std::vector<uint32_t> got = fire(w, now);
      // Fired in deadline order.
      for (std::size_t i = 1; i < got.size(); ++i) ASSERT_LE(ref[got[i - 1]], ref[got[i]]) << "op " << op;
      std::vector<uint32_t> want;
      for (uint32_t i = 0; i < n; ++i)
        if (ref[i] != 0 && ref[i] - 1 <= now / tick) want.push_back(i), ref[i] = 0;
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "op " << op;
    }
    ASSERT_EQ(w.scheduled(s), ref[s] != 0);
  }
  uint32_t armed = 0;
  for (uint32_t i = 0; i < n; ++i) armed += ref[i] != 0;
  EXPECT_EQ(w.size(), armed);
}

} // namespace
} // namespace haka::flow
