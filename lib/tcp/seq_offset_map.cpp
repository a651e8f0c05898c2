#include "tcp/seq_offset_map.hpp"

#include <algorithm>
#include <new>

namespace haka::tcp {

namespace {

constexpr const char* outcome_names[] = {
#define X(id, name, text) name,
#include "tcp/seq_offset_outcomes.def"
#undef X
};
constexpr const char* outcome_texts[] = {
#define X(id, name, text) text,
#include "tcp/seq_offset_outcomes.def"
#undef X
};
static_assert(std::size(outcome_names) == seq_offset_outcome_count);

/// Output minus original after a breakpoint (mod 2^32): the offset of every
/// position from its original end up to the next breakpoint.
inline uint32_t offset_after(const SeqBreakpoint& b) {
  return (b.out_start.raw + b.out_len) - (b.orig_start.raw + b.orig_len);
}
/// Output minus original before a breakpoint (mod 2^32).
inline uint32_t offset_before(const SeqBreakpoint& b) { return b.out_start.raw - b.orig_start.raw; }

} // namespace

const char* seq_offset_outcome_name(SeqOffsetOutcome o) { return outcome_names[static_cast<std::size_t>(o)]; }
const char* seq_offset_outcome_meaning(SeqOffsetOutcome o) { return outcome_texts[static_cast<std::size_t>(o)]; }

SeqOffsetPool::SeqOffsetPool(uint32_t blocks, uint16_t capacity) {
  if (blocks == 0 || capacity == 0) return;
  bps_.reset(new (std::nothrow) SeqBreakpoint[std::size_t{blocks} * capacity]);
  free_.reset(new (std::nothrow) uint32_t[blocks]);
  if (bps_ == nullptr || free_ == nullptr) {
    bps_.reset();
    free_.reset();
    return;
  }
  blocks_ = blocks;
  capacity_ = capacity;
  // Lowest index on top: blocks are handed out in address order.
  for (uint32_t i = 0; i < blocks; ++i) free_[i] = blocks - 1 - i;
  nfree_ = blocks;
}

uint32_t SeqOffsetPool::acquire() {
  if (nfree_ == 0) {
    counters_.add(SeqOffsetOutcome::pool_empty);
    return kNoBlock;
  }
  counters_.add(SeqOffsetOutcome::block_acquired);
  return free_[--nfree_];
}

void SeqOffsetPool::release(uint32_t b) {
  counters_.add(SeqOffsetOutcome::block_released);
  free_[nfree_++] = b;
}

const SeqBreakpoint& SeqOffsetMap::at(uint32_t k) const {
  uint32_t i = head_ + k;
  if (i >= pool_->capacity_) i -= pool_->capacity_;
  return pool_->block(block_)[i];
}

void SeqOffsetMap::reset() {
  if (block_ != SeqOffsetPool::kNoBlock) pool_->release(block_);
  block_ = SeqOffsetPool::kNoBlock;
  head_ = count_ = 0;
  total_ = 0;
}

bool SeqOffsetMap::record_modified(Seq orig_start, uint32_t orig_len, uint32_t out_len) {
  if (pool_ == nullptr) return false;
  if (block_ == SeqOffsetPool::kNoBlock) {
    block_ = pool_->acquire();
    if (block_ == SeqOffsetPool::kNoBlock) return false;
    head_ = count_ = 0;
  } else {
    const SeqBreakpoint& last = at(count_ - 1u);
    if (orig_start < last.orig_start + last.orig_len) {
      pool_->counters_.add(SeqOffsetOutcome::out_of_order);
      return false;
    }
    if (count_ == pool_->capacity_) {
      pool_->counters_.add(SeqOffsetOutcome::map_full);
      return false;
    }
  }
  uint32_t i = head_ + count_;
  if (i >= pool_->capacity_) i -= pool_->capacity_;
  // Between breakpoints the offset is constant: the total so far (mod 2^32).
  pool_->block(block_)[i] = SeqBreakpoint{orig_start, orig_len, orig_start + static_cast<uint32_t>(total_), out_len};
  ++count_;
  total_ += static_cast<int64_t>(out_len) - static_cast<int64_t>(orig_len);
  pool_->counters_.add(SeqOffsetOutcome::recorded);
  return true;
}

Seq SeqOffsetMap::to_output_slow(Seq orig) const {
  const SeqBreakpoint& last = at(count_ - 1u);
  if (orig >= last.orig_start + last.orig_len) return orig + offset_after(last);
  // The newest breakpoint starting at or before `orig` (the last of equal
  // starts: zero-length insertions come before the packet that follows them).
  uint32_t lo = 0, hi = count_; // answer in [lo, hi): first index whose start is after orig
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (at(mid).orig_start <= orig)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return orig + offset_before(at(0));
  const SeqBreakpoint& b = at(lo - 1u);
  const uint32_t dist = orig.raw - b.orig_start.raw;
  if (dist < b.orig_len) return b.out_start + std::min(dist, b.out_len);
  return orig + offset_after(b);
}

Seq SeqOffsetMap::to_original_slow(Seq out) const {
  const SeqBreakpoint& last = at(count_ - 1u);
  if (out >= last.out_start + last.out_len) return out - offset_after(last);
  uint32_t lo = 0, hi = count_;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (at(mid).out_start <= out)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return out - offset_before(at(0));
  const SeqBreakpoint& b = at(lo - 1u);
  const uint32_t dist = out.raw - b.out_start.raw;
  // At the start or inside: the receiver does not have all of this packet's
  // bytes, so only what precedes the packet is acknowledged.
  if (dist < b.out_len) return b.orig_start;
  return out - offset_after(b);
}

void SeqOffsetMap::trim_slow(Seq acked_out) {
  while (count_ != 0) {
    const SeqBreakpoint& b = at(0);
    if (!(b.out_start + b.out_len <= acked_out)) break;
    if (++head_ == pool_->capacity_) head_ = 0;
    --count_;
  }
  if (count_ == 0) {
    // total_ keeps the offset: nothing else is needed to translate from now on.
    pool_->release(block_);
    block_ = SeqOffsetPool::kNoBlock;
    head_ = 0;
  }
}

} // namespace haka::tcp
