// Sequence-number translation for one direction of a connection whose payload
// rules lengthened or shortened: original space (what the sender sent) <->
// output space (what the receiver got).
//
// Model. Packets leave in increasing original sequence order. A packet that
// covered original bytes [s, s + L) and left carrying M != L bytes is a
// breakpoint {s, L, out_start, M}; between breakpoints the offset (output -
// original) is constant. Unmodified packets store nothing.
//
// Memory. The map itself is 24 bytes (pool pointer, 64-bit total offset, block
// index, ring head and count) and lives per direction of every connection. Its
// breakpoints live in a fixed-capacity block (default 64 x 16 bytes) borrowed
// from a per-worker SeqOffsetPool at the direction's first modification, and
// given back once every breakpoint has been acknowledged (trim()) or when the
// map dies. The pool allocates everything at construction; nothing allocates
// on the packet path.
//
// Caps. record() returns false (and the pool counts why) when the pool has no
// free block, when the map already holds `capacity` unacknowledged
// breakpoints, or when a modified packet starts before the end of the previous
// modified one. The translation is then no longer exact for later packets:
// the caller must count it and drop the connection.
//
// Wrap. Every position is a tcp::Seq and every comparison is modulo 2^32, so
// the translation is exact across 2^32 (HAKA_SEMANTICS.md §7 item 6, E20).
// Comparisons need the live breakpoints to span less than 2^31 bytes: the
// caller trims on every acknowledgement from the peer, which keeps them
// within one window.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tcp/seq.hpp"

namespace haka::tcp {

/// Every outcome of SeqOffsetMap::record() and its pool (seq_offset_outcomes.def).
enum class SeqOffsetOutcome : uint8_t {
#define X(id, name, text) id,
#include "tcp/seq_offset_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t seq_offset_outcome_count = static_cast<std::size_t>(SeqOffsetOutcome::count_);

/// The JSON/log name of an outcome ("seq_offset_map_full", ...).
const char* seq_offset_outcome_name(SeqOffsetOutcome o);
/// What an outcome means, one sentence.
const char* seq_offset_outcome_meaning(SeqOffsetOutcome o);

/// One modified packet: original range [orig_start, orig_start + orig_len)
/// left as output range [out_start, out_start + out_len).
struct SeqBreakpoint {
  Seq orig_start;
  uint32_t orig_len = 0;
  Seq out_start;
  uint32_t out_len = 0;
};
static_assert(sizeof(SeqBreakpoint) == 16);

/// Per-worker counts of record() and pool outcomes (one writer, plain numbers).
struct SeqOffsetCounters {
  std::array<uint64_t, seq_offset_outcome_count> by_outcome{};
  uint64_t get(SeqOffsetOutcome o) const { return by_outcome[static_cast<std::size_t>(o)]; }
  void add(SeqOffsetOutcome o) { ++by_outcome[static_cast<std::size_t>(o)]; }
};

/// A per-worker store of fixed-capacity breakpoint blocks that SeqOffsetMaps
/// borrow; all memory is allocated by the constructor.
class SeqOffsetPool {
public:
  static constexpr uint16_t kDefaultCapacity = 64;

  /// `blocks` blocks of `capacity` (>= 1) breakpoints each. valid() is false
  /// when the allocation failed or the arguments are 0.
  explicit SeqOffsetPool(uint32_t blocks, uint16_t capacity = kDefaultCapacity);
  SeqOffsetPool(const SeqOffsetPool&) = delete;
  SeqOffsetPool& operator=(const SeqOffsetPool&) = delete;

  bool valid() const { return bps_ != nullptr; }
  /// Breakpoints per block (per map).
  uint16_t capacity() const { return capacity_; }
  uint32_t blocks() const { return blocks_; }
  uint32_t free_blocks() const { return nfree_; }
  /// Bytes allocated (breakpoints and the free list).
  std::size_t memory_bytes() const {
    return std::size_t{blocks_} * capacity_ * sizeof(SeqBreakpoint) + std::size_t{blocks_} * sizeof(uint32_t);
  }
  const SeqOffsetCounters& counters() const { return counters_; }

private:
  friend class SeqOffsetMap;
  static constexpr uint32_t kNoBlock = UINT32_MAX;

  uint32_t acquire();
  void release(uint32_t b);
  SeqBreakpoint* block(uint32_t b) const { return bps_.get() + std::size_t{b} * capacity_; }

  std::unique_ptr<SeqBreakpoint[]> bps_;
  std::unique_ptr<uint32_t[]> free_; // stack of free block indices
  uint32_t blocks_ = 0;
  uint32_t nfree_ = 0;
  uint16_t capacity_ = 0;
  SeqOffsetCounters counters_;
};

/// One direction's translation between original and output sequence numbers
/// (see the file comment). Move-only; gives its block back when it dies.
class SeqOffsetMap {
public:
  /// A map with no pool: any modification is refused (record() returns false).
  SeqOffsetMap() = default;
  explicit SeqOffsetMap(SeqOffsetPool& pool) : pool_(&pool) {}
  ~SeqOffsetMap() { reset(); }
  SeqOffsetMap(const SeqOffsetMap&) = delete;
  SeqOffsetMap& operator=(const SeqOffsetMap&) = delete;
  SeqOffsetMap(SeqOffsetMap&& o) noexcept { take(o); }
  SeqOffsetMap& operator=(SeqOffsetMap&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }

  /// A packet that covered original bytes [orig_start, orig_start + orig_len)
  /// left carrying out_len bytes. Call in increasing sequence order as packets
  /// leave, after translating the packet's own seq with to_output() (for a
  /// pure insertion, orig_len 0, to_output(orig_start) afterwards lands after
  /// the inserted bytes, as later packets need). Unmodified packets
  /// (orig_len == out_len) cost one compare. False, counted by the pool: no
  /// free block, map full, or a modified packet starting before the end of
  /// the previous modified one: the caller counts it and drops the connection.
  bool record(Seq orig_start, uint32_t orig_len, uint32_t out_len) {
    if (orig_len == out_len) [[likely]]
      return true;
    return record_modified(orig_start, orig_len, out_len);
  }

  /// The output seq of original position `orig` (later packets' seq, FIN,
  /// RST). Inside a modified packet's original range: its output start plus
  /// min(distance, out_len). Positions before the oldest breakpoint kept by
  /// trim() are shifted by the offset at that breakpoint (exact for anything
  /// not yet acknowledged).
  Seq to_output(Seq orig) const {
    if (block_ == SeqOffsetPool::kNoBlock) [[likely]]
      return orig + static_cast<uint32_t>(total_);
    return to_output_slow(orig);
  }

  /// The original seq of output position `out` (the peer's ACK numbers and
  /// SACK edges). The output end of a modified packet maps to its original
  /// end; a position at its output start or strictly inside maps to its
  /// original start (never acknowledges original bytes the receiver did not
  /// get all of); elsewhere shifted by the offset there (beyond everything:
  /// the total offset).
  Seq to_original(Seq out) const {
    if (block_ == SeqOffsetPool::kNoBlock) [[likely]]
      return out - static_cast<uint32_t>(total_);
    return to_original_slow(out);
  }

  /// Forgets the breakpoints whose output range ends at or before `acked_out`
  /// (the peer acknowledged them wholly); the block goes back to the pool when
  /// none is left. The total offset is kept.
  void trim(Seq acked_out) {
    if (block_ != SeqOffsetPool::kNoBlock) trim_slow(acked_out);
  }

  /// Output bytes minus original bytes, over every recorded packet.
  int64_t total_offset() const { return total_; }
  /// True when translation is the identity (nothing modified, or every
  /// modification acknowledged and the offsets cancel out): the caller skips it.
  bool empty() const { return total_ == 0 && block_ == SeqOffsetPool::kNoBlock; }
  /// Breakpoints held (not yet trimmed).
  uint32_t breakpoints() const { return count_; }
  /// Back to no modification; the block returns to the pool.
  void reset();

private:
  bool record_modified(Seq orig_start, uint32_t orig_len, uint32_t out_len);
  Seq to_output_slow(Seq orig) const;
  Seq to_original_slow(Seq out) const;
  void trim_slow(Seq acked_out);
  const SeqBreakpoint& at(uint32_t k) const;
  void take(SeqOffsetMap& o) {
    pool_ = o.pool_;
    total_ = o.total_;
    block_ = o.block_;
    head_ = o.head_;
    count_ = o.count_;
    o.total_ = 0;
    o.block_ = SeqOffsetPool::kNoBlock;
    o.head_ = o.count_ = 0;
  }

  SeqOffsetPool* pool_ = nullptr;
  int64_t total_ = 0;                          // output minus original, every record
  uint32_t block_ = SeqOffsetPool::kNoBlock;   // borrowed block, or none
  uint16_t head_ = 0;                          // ring index of the oldest breakpoint
  uint16_t count_ = 0;                         // breakpoints held (> 0 whenever block_ is set)
};
static_assert(sizeof(SeqOffsetMap) == 24, "lives per direction of every connection");

} // namespace haka::tcp
