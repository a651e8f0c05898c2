#include <gtest/gtest.h>

#include <array>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include <rte_malloc.h>

#include "flow/flow_table.hpp"

namespace haka::flow {
namespace {

// The i-th distinct IPv4 flow (as sent by its initiator).
PacketKey<FlowKey4> key4(uint32_t i, bool reply = false) {
  const std::array<uint8_t, 4> a{10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                                 static_cast<uint8_t>(i)};
  const std::array<uint8_t, 4> b{192, 168, static_cast<uint8_t>(i >> 24), 1};
  const auto sport = static_cast<uint16_t>(1024 + (i % 50000));
  return reply ? FlowKey4::make(b, a, 80, sport, 6) : FlowKey4::make(a, b, sport, 80, 6);
}

PacketKey<FlowKey6> key6(uint32_t i, bool reply = false) {
  std::array<uint8_t, 16> a{}, b{};
  a[0] = 0x20, a[1] = 0x01;
  std::memcpy(&a[12], &i, 4);
  b[0] = 0xfe, b[1] = 0x80, b[15] = 1;
  return reply ? FlowKey6::make(b, a, 443, 7, 6) : FlowKey6::make(a, b, 7, 443, 6);
}

FlowTable4 make4(uint32_t capacity, uint32_t first_slot = 0) {
  FlowTableConfig cfg;
  cfg.capacity = capacity;
  cfg.first_slot = first_slot;
  cfg.seed = 12345;
  auto t = FlowTable4::create_seeded(cfg);
  EXPECT_TRUE(t.has_value());
  return std::move(*t);
}

TEST(FlowTable, RejectsBadConfig) {
  FlowTableConfig cfg;
  cfg.capacity = 0;
  EXPECT_FALSE(FlowTable4::create_seeded(cfg).has_value());
  cfg.capacity = 10;
  cfg.first_slot = UINT32_MAX - 5;
  EXPECT_FALSE(FlowTable4::create_seeded(cfg).has_value());
}

TEST(FlowTable, InsertLookupEraseAndDirection) {
  auto t = make4(100);
  const auto syn = key4(1);
  const auto synack = key4(1, true);
  ASSERT_TRUE(same_flow(syn.key, synack.key));

  EXPECT_EQ(t.lookup(syn.key), kNoSlot);
  const auto r = t.insert(syn);
  ASSERT_EQ(r.outcome, FlowOutcome::inserted);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.live(r.slot));

  EXPECT_EQ(t.lookup(synack.key), r.slot);
  EXPECT_EQ(t.direction(r.slot, syn.swapped), Dir::up);
  EXPECT_EQ(t.direction(r.slot, synack.swapped), Dir::down);
  EXPECT_TRUE(same_flow(t.key(r.slot), syn.key));

  // Inserting again (e.g. a retransmitted SYN in the same burst) finds it.
  const auto again = t.insert(synack);
  EXPECT_EQ(again.outcome, FlowOutcome::insert_existed);
  EXPECT_EQ(again.slot, r.slot);
  // The initiator is still the first sender.
  EXPECT_EQ(t.direction(r.slot, syn.swapped), Dir::up);

  EXPECT_TRUE(t.erase(r.slot));
  EXPECT_FALSE(t.live(r.slot));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup(syn.key), kNoSlot);
  EXPECT_FALSE(t.erase(r.slot));
  EXPECT_FALSE(t.erase(12345)); // out of range

  const auto& c = t.counters();
  EXPECT_EQ(c.get(FlowOutcome::inserted), 1u);
  EXPECT_EQ(c.get(FlowOutcome::insert_existed), 1u);
  EXPECT_EQ(c.get(FlowOutcome::erased), 1u);
  EXPECT_EQ(c.get(FlowOutcome::erase_not_live), 2u);
  EXPECT_EQ(c.get(FlowOutcome::lookup_hit), 1u);
  EXPECT_EQ(c.get(FlowOutcome::lookup_miss), 2u);
}

TEST(FlowTable, ReplyInitiatedFlowKeepsItsOwnOrientation) {
  auto t = make4(10);
  // The first packet seen comes from the side that sorts second.
  const auto first = key4(7, true);
  const auto r = t.insert(first);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(t.direction(r.slot, first.swapped), Dir::up);
  EXPECT_EQ(t.direction(r.slot, key4(7).swapped), Dir::down);
}

TEST(FlowTable, SlotsStartAtFirstSlotAndAreReused) {
  auto t = make4(4, 1000);
  std::set<uint32_t> slots;
  for (uint32_t i = 0; i < 4; ++i) {
    const auto r = t.insert(key4(i));
    ASSERT_TRUE(r.ok());
    EXPECT_GE(r.slot, 1000u);
    EXPECT_LT(r.slot, 1004u);
    slots.insert(r.slot);
  }
  EXPECT_EQ(slots.size(), 4u);
  const uint32_t s2 = t.lookup(key4(2).key);
  ASSERT_TRUE(t.erase(s2));
  const auto r = t.insert(key4(99));
  EXPECT_EQ(r.slot, s2); // the freed slot
  EXPECT_EQ(t.lookup(key4(2).key), kNoSlot);
  EXPECT_EQ(t.lookup(key4(99).key), s2);
}

TEST(FlowTable, FullTableRefusesNewFlowsAndKeepsOldOnes) {
  constexpr uint32_t cap = 1000;
  auto t = make4(cap);
  std::vector<uint32_t> slots(cap);
  for (uint32_t i = 0; i < cap; ++i) {
    const auto r = t.insert(key4(i));
    ASSERT_EQ(r.outcome, FlowOutcome::inserted) << i;
    slots[i] = r.slot;
  }
  EXPECT_EQ(t.size(), cap);
  for (uint32_t i = cap; i < cap + 50; ++i) {
    const auto r = t.insert(key4(i));
    EXPECT_EQ(r.outcome, FlowOutcome::refused_table_full);
    EXPECT_FALSE(r.ok());
  }
  // Existing flows are still found, also through insert.
  EXPECT_EQ(t.insert(key4(5)).outcome, FlowOutcome::insert_existed);
  EXPECT_EQ(t.counters().get(FlowOutcome::refused_table_full), 50u);
  for (uint32_t i = 0; i < cap; ++i) ASSERT_EQ(t.lookup(key4(i).key), slots[i]);
  // Freeing one slot lets exactly one new flow in.
  ASSERT_TRUE(t.erase(slots[10]));
  EXPECT_EQ(t.insert(key4(cap + 1)).outcome, FlowOutcome::inserted);
  EXPECT_EQ(t.insert(key4(cap + 2)).outcome, FlowOutcome::refused_table_full);
}

TEST(FlowTable, FillsToCapacityAtWorstCaseLoad) {
  // 0.97 * 8 * 2^14 slots in 2^14 buckets: the highest load the sizing allows,
  // which needs cuckoo displacement to reach.
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    FlowTableConfig cfg;
    cfg.capacity = 127139; // floor(0.97 * 8 * 16384)
    cfg.seed = seed;
    auto t = FlowTable4::create_seeded(cfg);
    ASSERT_TRUE(t);
    ASSERT_EQ(t->bucket_count(), 16384u);
    for (uint32_t i = 0; i < cfg.capacity; ++i)
      ASSERT_EQ(t->insert(key4(i)).outcome, FlowOutcome::inserted) << "seed " << seed << " i " << i;
    EXPECT_GT(t->counters().displaced.load(), 0u);
    for (uint32_t i = 0; i < cfg.capacity; ++i) ASSERT_NE(t->lookup(key4(i).key), kNoSlot);
    EXPECT_EQ(t->insert(key4(cfg.capacity)).outcome, FlowOutcome::refused_table_full);
  }
}

TEST(FlowTable, BulkLookupMixesHitsAndMisses) {
  auto t = make4(5000);
  std::vector<uint32_t> slot_of(4000);
  for (uint32_t i = 0; i < 4000; i += 2) slot_of[i] = t.insert(key4(i)).slot; // even ones tracked
  std::mt19937 rng(1);
  for (std::size_t n : {1u, 7u, 32u, 64u}) {
    for (int round = 0; round < 50; ++round) {
      std::array<FlowKey4, kMaxBulk> keys;
      std::array<uint32_t, kMaxBulk> ids, hashes, slots;
      for (std::size_t i = 0; i < n; ++i) {
        ids[i] = rng() % 4000;
        keys[i] = key4(ids[i], rng() & 1).key; // either direction
        hashes[i] = t.hash(keys[i]);
      }
      const bool with_hashes = round & 1;
      const uint64_t hit = t.lookup_bulk(std::span(keys.data(), n),
                                         with_hashes ? std::span<const uint32_t>(hashes.data(), n)
                                                     : std::span<const uint32_t>(),
                                         std::span(slots.data(), n));
      for (std::size_t i = 0; i < n; ++i) {
        const bool tracked = ids[i] % 2 == 0;
        EXPECT_EQ(((hit >> i) & 1) != 0, tracked);
        EXPECT_EQ(slots[i], tracked ? slot_of[ids[i]] : kNoSlot);
      }
      if (n < 64) {
        EXPECT_EQ(hit >> n, 0u);
      }
    }
  }
  EXPECT_EQ(t.counters().get(FlowOutcome::lookup_hit) + t.counters().get(FlowOutcome::lookup_miss),
            50u * (1 + 7 + 32 + 64));
}

TEST(FlowTable, MatchesAReferenceMapUnderRandomOperations) {
  constexpr uint32_t cap = 3000;
  auto t = make4(cap);
  std::unordered_map<uint32_t, uint32_t> ref; // flow id -> slot
  std::mt19937 rng(99);
  for (int op = 0; op < 200000; ++op) {
    const uint32_t id = rng() % 6000;
    const auto pk = key4(id, rng() & 1);
    switch (rng() % 3) {
    case 0: {
      const auto r = t.insert(pk);
      if (auto it = ref.find(id); it != ref.end()) {
        ASSERT_EQ(r.outcome, FlowOutcome::insert_existed);
        ASSERT_EQ(r.slot, it->second);
      } else if (ref.size() == cap) {
        ASSERT_EQ(r.outcome, FlowOutcome::refused_table_full);
      } else {
        ASSERT_EQ(r.outcome, FlowOutcome::inserted);
        ref[id] = r.slot;
      }
      break;
    }
    case 1: {
      auto it = ref.find(id);
      ASSERT_EQ(t.lookup(pk.key), it == ref.end() ? kNoSlot : it->second);
      break;
    }
    default:
      if (auto it = ref.find(id); it != ref.end()) {
        ASSERT_TRUE(t.erase(it->second));
        ref.erase(it);
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  // Iteration visits each tracked flow exactly once.
  std::set<uint32_t> seen;
  t.for_each([&](uint32_t s) { EXPECT_TRUE(seen.insert(s).second); });
  std::set<uint32_t> want;
  for (auto& [id, s] : ref) want.insert(s);
  EXPECT_EQ(seen, want);
  // Shutdown: erase everything while iterating.
  t.for_each([&](uint32_t s) { EXPECT_TRUE(t.erase(s)); });
  EXPECT_EQ(t.size(), 0u);
  uint32_t left = 0;
  t.for_each([&](uint32_t) { ++left; });
  EXPECT_EQ(left, 0u);
}

// Hostile key sets: every key hashes alike (an attacker who knows the hash).
struct ConstantHash {
  ConstantHash() = default;
  explicit ConstantHash(uint64_t) {}
  uint32_t operator()(const FlowKey4&) const { return 0x5a5a5a5a; }
};
// Only 4 distinct hashes.
struct FourValueHash {
  FourValueHash() = default;
  explicit FourValueHash(uint64_t) {}
  uint32_t operator()(const FlowKey4& k) const { return 0x1000u + (k.addr_a[3] & 3); }
};

TEST(FlowTable, TotalCollisionsAreRefusedAndCountedNeverCorrupting) {
  FlowTableConfig cfg;
  cfg.capacity = 1000;
  auto t = FlowTable<FlowKey4, ConstantHash>::create(cfg);
  ASSERT_TRUE(t);
  // All keys share the same two buckets: 16 entries, then refusal.
  std::vector<uint32_t> slots;
  for (uint32_t i = 0; i < 100; ++i) {
    const auto pk = key4(i);
    const auto r = t->insert(pk.key, t->hash(pk.key), pk.swapped);
    if (i < 16) {
      ASSERT_EQ(r.outcome, FlowOutcome::inserted) << i;
      slots.push_back(r.slot);
    } else {
      ASSERT_EQ(r.outcome, FlowOutcome::refused_bucket_full) << i;
    }
  }
  EXPECT_EQ(t->size(), 16u);
  EXPECT_EQ(t->counters().get(FlowOutcome::refused_bucket_full), 84u);
  for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(t->lookup(key4(i).key), slots[i]);
  for (uint32_t i = 16; i < 100; ++i) EXPECT_EQ(t->lookup(key4(i).key), kNoSlot);
  // Refusals did not leak slots: erase all and the table fills again.
  for (uint32_t s : slots) ASSERT_TRUE(t->erase(s));
  EXPECT_EQ(t->size(), 0u);
  for (uint32_t i = 100; i < 116; ++i) EXPECT_TRUE(t->insert(key4(i).key, 0x5a5a5a5a, false).ok());
}

TEST(FlowTable, LowEntropyHashFillsOnlyItsBucketsAndOthersStillWork) {
  FlowTableConfig cfg;
  cfg.capacity = 2000;
  auto t = FlowTable<FlowKey4, FourValueHash>::create(cfg);
  ASSERT_TRUE(t);
  uint32_t ok = 0, refused = 0;
  std::vector<std::pair<uint32_t, uint32_t>> tracked;
  for (uint32_t i = 0; i < 1000; ++i) {
    const auto pk = key4(i);
    const auto r = t->insert(pk.key, t->hash(pk.key), pk.swapped);
    if (r.ok()) {
      ++ok;
      tracked.emplace_back(i, r.slot);
    } else {
      ASSERT_EQ(r.outcome, FlowOutcome::refused_bucket_full);
      ++refused;
    }
  }
  // 4 hashes -> at most 8 distinct buckets -> at most 64 flows.
  EXPECT_LE(ok, 64u);
  EXPECT_GE(ok, 16u);
  EXPECT_EQ(ok + refused, 1000u);
  for (auto [i, s] : tracked) EXPECT_EQ(t->lookup(key4(i).key), s);
  std::array<FlowKey4, 32> keys;
  std::array<uint32_t, 32> slots;
  for (uint32_t i = 0; i < 32; ++i) keys[i] = key4(tracked[i % tracked.size()].first).key;
  const uint64_t hits = t->lookup_bulk(keys, {}, slots);
  EXPECT_EQ(hits, 0xffffffffull);
}

TEST(FlowTable, Ipv6TableWorks) {
  FlowTableConfig cfg;
  cfg.capacity = 20000;
  cfg.first_slot = 50000;
  cfg.seed = 5;
  auto t = FlowTable6::create_seeded(cfg);
  ASSERT_TRUE(t);
  for (uint32_t i = 0; i < 20000; ++i) ASSERT_TRUE(t->insert(key6(i)).ok());
  EXPECT_EQ(t->insert(key6(20000)).outcome, FlowOutcome::refused_table_full);
  std::array<FlowKey6, 32> keys;
  std::array<uint32_t, 32> slots;
  for (uint32_t i = 0; i < 32; ++i) keys[i] = key6(i * 600 + (i & 1) * 30000, true).key; // odd ones: misses
  const uint64_t hits = t->lookup_bulk(keys, {}, slots);
  EXPECT_EQ(hits, 0x55555555ull);
  EXPECT_EQ(t->direction(slots[0], key6(0, true).swapped), Dir::down);
  EXPECT_EQ(t->direction(slots[0], key6(0).swapped), Dir::up);
  EXPECT_GE(slots[0], 50000u);
}

TEST(FlowTable, MemoryPerFlowIsSmall) {
  auto t = make4(1 << 20);
  const double per_flow = static_cast<double>(t.memory_bytes()) / t.capacity();
  // 16-byte key + 8-byte bucket entries at load 0.485..0.97.
  EXPECT_LE(per_flow, 16 + 17.0);
  FlowTableConfig cfg;
  cfg.capacity = 1 << 20;
  auto t6 = FlowTable6::create_seeded(cfg);
  ASSERT_TRUE(t6);
  EXPECT_LE(static_cast<double>(t6->memory_bytes()) / t6->capacity(), 40 + 17.0);
}

TEST(FlowTable, DpdkMemoryWorks) {
  FlowTableConfig cfg;
  cfg.capacity = 1000;
  cfg.memory = MemorySource::dpdk;
  cfg.socket_id = SOCKET_ID_ANY;
  auto t = FlowTable4::create_seeded(cfg);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->insert(key4(3)).ok());
  EXPECT_NE(t->lookup(key4(3, true).key), kNoSlot);
}

TEST(FlowTable, OutcomeNamesComeFromTheTable) {
  EXPECT_STREQ(flow_outcome_name(FlowOutcome::refused_table_full), "flow_refused_table_full");
  EXPECT_STREQ(flow_outcome_name(FlowOutcome::lookup_hit), "flow_lookup_hit");
  EXPECT_STREQ(flow_outcome_name(FlowOutcome::count_), "unknown");
}

} // namespace
} // namespace haka::flow
