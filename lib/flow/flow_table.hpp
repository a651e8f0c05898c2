// Per-worker flow table: a direction-free key -> slot index map with bulk lookup.
//
// Layout (why it is small and fast near full):
//  * Slots: the table hands out slot indices in [first_slot, first_slot +
//    capacity). Per-connection state (lib/tcp) lives in the caller's own array
//    indexed by slot, so the table knows nothing of TCP and its entries never
//    move. Keys are stored once, in `keys_[slot]` (rte_hash stores a key
//    index in the bucket and the key in a separate store, plus a 16-bit
//    signature; ours keeps the full 32-bit hash as the signature and no
//    copy of the key elsewhere).
//  * Buckets: 64-byte, one cache line: 8 x {32-bit hash, 32-bit slot}.
//    Bucketized cuckoo hashing with two candidate buckets per key: a lookup
//    reads at most two bucket lines plus the key line of a signature match,
//    whatever the load. The alternative bucket is derived from the stored
//    hash alone, so displacing an entry never reads its key.
//  * Insert tries the primary bucket, then the alternative, then a
//    breadth-first displacement search bounded to kMaxSearch buckets. If that
//    fails (keys aimed at the same buckets), the insert is refused and
//    counted (refused_bucket_full); nothing already stored moves or is lost.
//  * At capacity the insert is refused and counted (refused_table_full).
//    Nothing is ever evicted: evicting is the caller's policy (via erase).
//  * Per-flow memory: sizeof(Key) + bucket entries (8 bytes each, buckets =
//    next power of two >= capacity / (8 * 0.97)), so 16 + 8.25..16.5 bytes
//    for IPv4 and 40 + 8.25..16.5 for IPv6. memory_bytes() tells exactly.
//
// Single-threaded by design (one table per worker): no locks, no atomics
// except the relaxed counters another thread may read.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "flow/flow_key.hpp"
#include "flow/page_buffer.hpp"

namespace haka::flow {

/// The slot value meaning "no flow".
inline constexpr uint32_t kNoSlot = UINT32_MAX;
/// Most keys one lookup_bulk call takes (a burst).
inline constexpr std::size_t kMaxBulk = 64;

/// Every outcome of a flow-table operation (see flow_outcomes.def).
enum class FlowOutcome : uint8_t {
#define X(id, name, text) id,
#include "flow/flow_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t flow_outcome_count = static_cast<std::size_t>(FlowOutcome::count_);

/// The JSON/log name of an outcome.
const char* flow_outcome_name(FlowOutcome o);

/// The flow table's counters: written by the owning worker only, readable
/// from any thread (relaxed atomics compile to plain moves on x86).
struct FlowCounters {
  std::array<std::atomic<uint64_t>, flow_outcome_count> by_outcome{};
  std::atomic<uint64_t> displaced{0}; // entries moved by cuckoo displacement

  void add(FlowOutcome o, uint64_t n = 1) {
    auto& c = by_outcome[static_cast<std::size_t>(o)];
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get(FlowOutcome o) const {
    return by_outcome[static_cast<std::size_t>(o)].load(std::memory_order_relaxed);
  }
};

/// How to build a flow table (start-up only).
struct FlowTableConfig {
  uint32_t capacity = 0;   // most flows tracked at once (>= 1)
  uint32_t first_slot = 0; // slot numbers start here (lets an IPv4 and an IPv6 table share one slot space)
  uint64_t seed = 0;       // hash seed; pick a random one per table (see random_seed())
  MemorySource memory = MemorySource::ordinary;
  int socket_id = -1; // NUMA socket for MemorySource::dpdk (SOCKET_ID_ANY = -1)
};

/// A fresh random seed for SeededHash (std::random_device; start-up only).
uint64_t random_seed();

/// What insert did: an outcome (inserted, insert_existed, refused_*) and the
/// flow's slot (kNoSlot when refused).
struct InsertResult {
  FlowOutcome outcome;
  uint32_t slot;
  bool ok() const { return slot != kNoSlot; }
};

/// A fixed-capacity map from flow keys to slot indices, one per worker.
template <class Key, class Hasher = SeededHash<Key>>
class FlowTable {
 public:
  /// Most buckets the displacement search visits before refusing an insert.
  static constexpr uint32_t kMaxSearch = 128;
  static constexpr uint32_t kBucketEntries = 8;
  /// Highest bucket load at capacity. Measured: with random hashes the
  /// bounded displacement search first fails at 98.9-99.5% load (2^10 and
  /// 2^17 buckets, 20 seeds each; 97.7% with only 16 buckets).
  static constexpr uint32_t kMaxLoadPercent = 97;

  /// Builds an empty table; nullopt when capacity is 0 or too large, or memory is short.
  static std::optional<FlowTable> create(const FlowTableConfig& cfg, Hasher hasher = Hasher{});
  /// Builds with SeededHash(cfg.seed).
  static std::optional<FlowTable> create_seeded(const FlowTableConfig& cfg) {
    return create(cfg, Hasher(cfg.seed));
  }

  FlowTable(FlowTable&&) noexcept = default;
  FlowTable& operator=(FlowTable&&) noexcept = default;

  /// The table's hash of a key. A hash passed to lookup/insert must be this.
  uint32_t hash(const Key& k) const { return hasher_(k); }

  /// Looks up keys.size() <= kMaxBulk keys in stages (hash, prefetch both
  /// buckets of every key, compare signatures and prefetch key lines, compare
  /// keys). `hashes` is empty (computed here) or holds hash(keys[i]).
  /// Writes slots[i] (kNoSlot on a miss); returns the bitmask of hits.
  uint64_t lookup_bulk(std::span<const Key> keys, std::span<const uint32_t> hashes,
                       std::span<uint32_t> slots);

  /// Looks up one key; its slot or kNoSlot.
  uint32_t lookup(const Key& k, uint32_t h);
  uint32_t lookup(const Key& k) { return lookup(k, hash(k)); }

  /// Finds or adds a flow. A new flow remembers `initiator_swapped` (the
  /// PacketKey::swapped of its first packet) to tell directions apart later.
  InsertResult insert(const Key& k, uint32_t h, bool initiator_swapped);
  InsertResult insert(const PacketKey<Key>& pk) { return insert(pk.key, hash(pk.key), pk.swapped); }

  /// Removes the flow in `slot` and frees the slot; false (counted) if the slot holds none.
  bool erase(uint32_t slot);

  /// Direction of a packet of the flow in `slot`, given its PacketKey::swapped.
  Dir direction(uint32_t slot, bool packet_swapped) const {
    const bool init = (key_at(slot).table_bits & kInitiatorSwapped) != 0;
    return init == packet_swapped ? Dir::up : Dir::down;
  }
  /// The key stored in a live slot.
  const Key& key(uint32_t slot) const { return key_at(slot); }
  /// True when `slot` holds a flow.
  bool live(uint32_t slot) const {
    return slot - first_slot_ < capacity_ && (key_at(slot).table_bits & kLive) != 0;
  }

  /// Calls f(slot) for every tracked flow (shutdown, statistics). f may erase
  /// the slot it is given (entries never move during the walk); it must not insert.
  template <class F>
  void for_each(F&& f) const {
    for (uint32_t b = 0; b <= mask_; ++b) {
      const Bucket& bk = buckets_[b];
      for (uint32_t i = 0; i < kBucketEntries; ++i)
        if (bk.sig[i] != 0) f(bk.slot[i]);
    }
  }

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t first_slot() const { return first_slot_; }
  uint32_t bucket_count() const { return mask_ + 1; }
  /// Bytes this table holds (buckets + keys), for the per-flow overhead.
  std::size_t memory_bytes() const { return bucket_mem_.size() + key_mem_.size(); }
  const FlowCounters& counters() const { return *counters_; }

 private:
  struct alignas(64) Bucket {
    uint32_t sig[kBucketEntries];  // full 32-bit hash, 0 = empty entry
    uint32_t slot[kBucketEntries]; // slot number of the entry
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

  static constexpr uint8_t kLive = 1;
  static constexpr uint8_t kInitiatorSwapped = 2;

  FlowTable() = default;

  Key& key_at(uint32_t slot) { return keys_[slot - first_slot_]; }
  const Key& key_at(uint32_t slot) const { return keys_[slot - first_slot_]; }

  uint32_t primary(uint32_t h) const { return h & mask_; }
  // The other bucket of an entry in bucket b with hash h (an involution on b).
  uint32_t other(uint32_t b, uint32_t h) const {
    uint32_t t = h * 0x9e3779b1u;
    t ^= t >> 15;
    return b ^ ((t | 1) & mask_);
  }

  // Bitmask of the entries of `b` whose signature is h.
  static uint32_t match(const Bucket& b, uint32_t h) {
#if defined(__AVX2__)
    const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.sig));
    const __m256i eq = _mm256_cmpeq_epi32(s, _mm256_set1_epi32(static_cast<int>(h)));
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(eq)));
#elif defined(__SSE2__)
    const __m128i hv = _mm_set1_epi32(static_cast<int>(h));
    const __m128i lo = _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(b.sig)), hv);
    const __m128i hi = _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(b.sig + 4)), hv);
    return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(lo))) |
           (static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(hi))) << 4);
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < kBucketEntries; ++i) m |= uint32_t{b.sig[i] == h} << i;
    return m;
#endif
  }

  // Slot of `k` among the entries `m` of bucket b, or kNoSlot.
  uint32_t find_in(const Bucket& b, uint32_t m, const Key& k) const {
    while (m != 0) {
      const uint32_t i = static_cast<uint32_t>(std::countr_zero(m));
      m &= m - 1;
      if (same_flow(key_at(b.slot[i]), k)) return b.slot[i];
    }
    return kNoSlot;
  }

  static void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }
  void prefetch_key(uint32_t slot) const {
    const auto* p = reinterpret_cast<const char*>(&key_at(slot));
    prefetch(p);
    if constexpr (sizeof(Key) > 16) prefetch(p + sizeof(Key) - 1); // a 40-byte key may straddle lines
  }

  // Makes room in bucket b1 or b2 by moving entries along a displacement path;
  // returns the bucket and entry index freed, or false.
  bool make_room(uint32_t b1, uint32_t b2, uint32_t& out_bucket, uint32_t& out_entry);

  Hasher hasher_{};
  PageBuffer bucket_mem_;
  PageBuffer key_mem_;
  Bucket* buckets_ = nullptr;
  Key* keys_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t capacity_ = 0;
  uint32_t first_slot_ = 0;
  uint32_t size_ = 0;
  uint32_t free_head_ = kNoSlot; // free slots are chained through their key's first 4 bytes
  // Counters live apart so their address is stable if the table moves.
  std::unique_ptr<FlowCounters> counters_;
};

/// The IPv4 and IPv6 tables a worker uses.
using FlowTable4 = FlowTable<FlowKey4>;
using FlowTable6 = FlowTable<FlowKey6>;

// ---------------------------------------------------------------------------
// Implementation (a template: instantiated for the default hasher in
// flow_table.cpp, and for test hashers by the tests).

template <class Key, class Hasher>
std::optional<FlowTable<Key, Hasher>> FlowTable<Key, Hasher>::create(const FlowTableConfig& cfg,
                                                                     Hasher hasher) {
  if (cfg.capacity == 0 || cfg.capacity > (1u << 30) ||
      uint64_t{cfg.first_slot} + cfg.capacity > uint64_t{kNoSlot})
    return std::nullopt;
  // Enough buckets to stay <= kMaxLoadPercent full at capacity; a power of two, >= 2.
  const uint64_t need = (uint64_t{cfg.capacity} * 100 + kMaxLoadPercent * kBucketEntries - 1) /
                        (kMaxLoadPercent * kBucketEntries);
  const uint64_t nb = std::bit_ceil(need < 2 ? uint64_t{2} : need);
  FlowTable t;
  t.hasher_ = hasher;
  t.bucket_mem_ = PageBuffer::allocate(nb * sizeof(Bucket), cfg.memory, cfg.socket_id);
  t.key_mem_ = PageBuffer::allocate(uint64_t{cfg.capacity} * sizeof(Key), cfg.memory, cfg.socket_id);
  t.counters_ = std::make_unique<FlowCounters>();
  if (!t.bucket_mem_ || !t.key_mem_) return std::nullopt;
  t.buckets_ = static_cast<Bucket*>(t.bucket_mem_.data());
  t.keys_ = static_cast<Key*>(t.key_mem_.data());
  t.mask_ = static_cast<uint32_t>(nb - 1);
  t.capacity_ = cfg.capacity;
  t.first_slot_ = cfg.first_slot;
  // Chain every slot into the free list, lowest first.
  for (uint32_t i = 0; i < cfg.capacity; ++i) {
    const uint32_t next = i + 1 < cfg.capacity ? cfg.first_slot + i + 1 : kNoSlot;
    std::memcpy(&t.keys_[i], &next, sizeof next);
  }
  t.free_head_ = cfg.first_slot;
  return std::optional<FlowTable>(std::move(t));
}

template <class Key, class Hasher>
uint64_t FlowTable<Key, Hasher>::lookup_bulk(std::span<const Key> keys, std::span<const uint32_t> hashes,
                                             std::span<uint32_t> slots) {
  const std::size_t n = keys.size();
  assert(n <= kMaxBulk && slots.size() >= n && (hashes.empty() || hashes.size() >= n));
  uint32_t h[kMaxBulk];
  uint32_t b1[kMaxBulk];
  uint32_t b2[kMaxBulk];
  uint32_t m[kMaxBulk]; // signature matches: bits 0-7 bucket 1, bits 8-15 bucket 2

  // Stage 1: hash and prefetch both candidate buckets of every key.
  for (std::size_t i = 0; i < n; ++i) {
    h[i] = hashes.empty() ? hasher_(keys[i]) : hashes[i];
    assert(h[i] == hasher_(keys[i]));
    b1[i] = primary(h[i]);
    b2[i] = other(b1[i], h[i]);
    prefetch(&buckets_[b1[i]]);
    prefetch(&buckets_[b2[i]]);
  }
  // Stage 2: compare signatures; prefetch the key line of the first match.
  for (std::size_t i = 0; i < n; ++i) {
    const Bucket& x = buckets_[b1[i]];
    const Bucket& y = buckets_[b2[i]];
    const uint32_t mx = match(x, h[i]);
    const uint32_t my = match(y, h[i]);
    m[i] = mx | (my << 8);
    if (mx != 0)
      prefetch_key(x.slot[std::countr_zero(mx)]);
    else if (my != 0)
      prefetch_key(y.slot[std::countr_zero(my)]);
  }
  // Stage 3: compare keys.
  uint64_t hits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    uint32_t s = kNoSlot;
    if (m[i] != 0) [[likely]] {
      s = find_in(buckets_[b1[i]], m[i] & 0xff, keys[i]);
      if (s == kNoSlot) s = find_in(buckets_[b2[i]], m[i] >> 8, keys[i]);
    }
    slots[i] = s;
    hits |= uint64_t{s != kNoSlot} << i;
  }
  const auto nhit = static_cast<uint64_t>(std::popcount(hits));
  counters_->add(FlowOutcome::lookup_hit, nhit);
  counters_->add(FlowOutcome::lookup_miss, n - nhit);
  return hits;
}

template <class Key, class Hasher>
uint32_t FlowTable<Key, Hasher>::lookup(const Key& k, uint32_t h) {
  assert(h == hasher_(k));
  const uint32_t p = primary(h);
  const Bucket& x = buckets_[p];
  uint32_t s = find_in(x, match(x, h), k);
  if (s == kNoSlot) {
    const Bucket& y = buckets_[other(p, h)];
    s = find_in(y, match(y, h), k);
  }
  counters_->add(s != kNoSlot ? FlowOutcome::lookup_hit : FlowOutcome::lookup_miss);
  return s;
}

template <class Key, class Hasher>
InsertResult FlowTable<Key, Hasher>::insert(const Key& k, uint32_t h, bool initiator_swapped) {
  assert(h == hasher_(k) && h != 0);
  const uint32_t p1 = primary(h);
  const uint32_t p2 = other(p1, h);
  Bucket& x = buckets_[p1];
  Bucket& y = buckets_[p2];
  uint32_t s = find_in(x, match(x, h), k);
  if (s == kNoSlot) s = find_in(y, match(y, h), k);
  if (s != kNoSlot) {
    counters_->add(FlowOutcome::insert_existed);
    return {FlowOutcome::insert_existed, s};
  }
  if (size_ == capacity_) {
    counters_->add(FlowOutcome::refused_table_full);
    return {FlowOutcome::refused_table_full, kNoSlot};
  }
  uint32_t bucket, entry;
  if (const uint32_t e1 = match(x, 0); e1 != 0) {
    bucket = p1;
    entry = static_cast<uint32_t>(std::countr_zero(e1));
  } else if (const uint32_t e2 = match(y, 0); e2 != 0) {
    bucket = p2;
    entry = static_cast<uint32_t>(std::countr_zero(e2));
  } else if (!make_room(p1, p2, bucket, entry)) {
    counters_->add(FlowOutcome::refused_bucket_full);
    return {FlowOutcome::refused_bucket_full, kNoSlot};
  }
  s = free_head_;
  Key& stored = key_at(s);
  std::memcpy(&free_head_, &stored, sizeof free_head_);
  stored = k;
  stored.table_bits = static_cast<uint8_t>(kLive | (initiator_swapped ? kInitiatorSwapped : 0));
  buckets_[bucket].slot[entry] = s;
  buckets_[bucket].sig[entry] = h;
  ++size_;
  counters_->add(FlowOutcome::inserted);
  return {FlowOutcome::inserted, s};
}

template <class Key, class Hasher>
bool FlowTable<Key, Hasher>::make_room(uint32_t b1, uint32_t b2, uint32_t& out_bucket,
                                       uint32_t& out_entry) {
  // Breadth-first search over "move entry e of bucket b to its other bucket":
  // shortest displacement paths first, at most kMaxSearch buckets.
  struct Node {
    uint32_t bucket;
    int32_t parent; // index in q, -1 for the two roots
    uint32_t entry; // entry of the parent bucket moved into this bucket
  };
  Node q[kMaxSearch];
  uint32_t qn = 0;
  q[qn++] = {b1, -1, 0};
  if (b2 != b1) q[qn++] = {b2, -1, 0};
  for (uint32_t qi = 0; qi < qn; ++qi) {
    const Bucket& bk = buckets_[q[qi].bucket];
    for (uint32_t e = 0; e < kBucketEntries; ++e) {
      const uint32_t dest = other(q[qi].bucket, bk.sig[e]);
      const uint32_t free_mask = match(buckets_[dest], 0);
      if (free_mask == 0) {
        if (qn < kMaxSearch) q[qn++] = {dest, static_cast<int32_t>(qi), e};
        continue;
      }
      // A path found: qi.e -> dest; then each ancestor's entry moves into the
      // place its child vacated. Refuse paths that reuse a (bucket, entry)
      // pair, where an earlier move would change what a later one moves.
      uint32_t pb[kMaxSearch], pe[kMaxSearch], len = 0;
      pb[len] = q[qi].bucket;
      pe[len++] = e;
      for (int32_t c = static_cast<int32_t>(qi); q[c].parent >= 0; c = q[c].parent) {
        pb[len] = q[q[c].parent].bucket;
        pe[len++] = q[c].entry;
      }
      bool distinct = true;
      for (uint32_t i = 0; i < len && distinct; ++i)
        for (uint32_t j = i + 1; j < len; ++j)
          if (pb[i] == pb[j] && pe[i] == pe[j]) {
            distinct = false;
            break;
          }
      if (!distinct) continue;
      uint32_t to_b = dest;
      uint32_t to_e = static_cast<uint32_t>(std::countr_zero(free_mask));
      for (uint32_t i = 0; i < len; ++i) {
        Bucket& from = buckets_[pb[i]];
        Bucket& to = buckets_[to_b];
        assert(other(pb[i], from.sig[pe[i]]) == to_b && to.sig[to_e] == 0);
        to.sig[to_e] = from.sig[pe[i]];
        to.slot[to_e] = from.slot[pe[i]];
        from.sig[pe[i]] = 0;
        to_b = pb[i];
        to_e = pe[i];
      }
      counters_->displaced.store(counters_->displaced.load(std::memory_order_relaxed) + len,
                                 std::memory_order_relaxed);
      out_bucket = to_b;
      out_entry = to_e;
      return true;
    }
  }
  return false;
}

template <class Key, class Hasher>
bool FlowTable<Key, Hasher>::erase(uint32_t slot) {
  if (!live(slot)) {
    counters_->add(FlowOutcome::erase_not_live);
    return false;
  }
  Key& k = key_at(slot);
  const uint32_t h = hasher_(k);
  const uint32_t p1 = primary(h);
  for (const uint32_t b : {p1, other(p1, h)}) {
    Bucket& bk = buckets_[b];
    for (uint32_t m = match(bk, h); m != 0; m &= m - 1) {
      const auto i = static_cast<uint32_t>(std::countr_zero(m));
      if (bk.slot[i] != slot) continue;
      bk.sig[i] = 0;
      std::memset(&k, 0, sizeof k);
      std::memcpy(&k, &free_head_, sizeof free_head_);
      free_head_ = slot;
      --size_;
      counters_->add(FlowOutcome::erased);
      return true;
    }
  }
  // A live slot is always in one of its two buckets; reaching here means the
  // table was corrupted (e.g. a caller wrote through key()).
  assert(false && "live flow missing from its buckets");
  counters_->add(FlowOutcome::erase_not_live);
  return false;
}

extern template class FlowTable<FlowKey4>;
extern template class FlowTable<FlowKey6>;

} // namespace haka::flow
