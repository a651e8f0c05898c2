// Stream state slab and Hyperscan's stream allocator (see stream_slab.hpp).
#include "match/stream_slab.hpp"

#include <array>
#include <cassert>
#include <cstdlib>

#include <hs/hs_common.h>

namespace haka::match {

namespace {

thread_local StreamSlab* current_slab = nullptr;

// Every live slab, so that a state freed from a thread that is not its
// owner finds its way back. Written at slab construction and destruction
// (start-up and shutdown), read only on that rare foreign-free path.
constexpr std::size_t max_slabs = 1024;
std::array<std::atomic<StreamSlab*>, max_slabs> registry{};
std::atomic<std::size_t> registry_used{0}; // high-water mark of used entries

std::atomic<uint64_t> heap_count{0};

StreamSlab* registry_find(const void* p) {
  const std::size_t used = registry_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    StreamSlab* s = registry[i].load(std::memory_order_acquire);
    if (s != nullptr && s->owns(p)) return s;
  }
  return nullptr;
}

void* HS_CDECL slab_alloc(std::size_t size) {
  if (StreamSlab* s = current_slab) return s->take(size);
  heap_count.fetch_add(1, std::memory_order_relaxed);
  const std::size_t rounded = (size + StreamSlab::alignment - 1) / StreamSlab::alignment * StreamSlab::alignment;
  return std::aligned_alloc(StreamSlab::alignment, rounded);
}

void HS_CDECL slab_free(void* p) {
  if (p == nullptr) return;
  if (StreamSlab* s = current_slab; s != nullptr && s->owns(p)) {
    s->give(p);
    return;
  }
  if (StreamSlab* owner = registry_find(p)) {
    owner->give_remote(p);
    return;
  }
  std::free(p); // from the heap: before install() or outside any slab
}

} // namespace

bool StreamSlab::install() {
  static const bool installed = hs_set_stream_allocator(slab_alloc, slab_free) == HS_SUCCESS;
  return installed;
}

uint64_t StreamSlab::heap_allocations() { return heap_count.load(std::memory_order_relaxed); }

StreamSlab::StreamSlab(std::size_t slot_size, std::size_t slots) {
  if (!install() || slots == 0 || slot_size == 0) return;
  slot_size_ = (slot_size + alignment - 1) / alignment * alignment;
  // Register first: a slab nobody can find would send foreign frees to free().
  for (std::size_t i = 0; i < max_slabs; ++i) {
    StreamSlab* expected = nullptr;
    if (registry[i].load(std::memory_order_relaxed) == nullptr &&
        registry[i].compare_exchange_strong(expected, this, std::memory_order_acq_rel)) {
      registry_index_ = static_cast<int>(i);
      std::size_t used = registry_used.load(std::memory_order_relaxed);
      while (used < i + 1 && !registry_used.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
      }
      break;
    }
  }
  if (registry_index_ < 0) return;
  base_ = static_cast<std::byte*>(std::aligned_alloc(alignment, slot_size_ * slots));
  if (base_ == nullptr) return;
  capacity_ = slots;
  // Building the free list writes into every slot, which also faults every
  // page in now rather than on the packet path.
  for (std::size_t i = slots; i-- > 0;) {
    auto* f = reinterpret_cast<FreeSlot*>(base_ + i * slot_size_);
    f->next = free_;
    free_ = f;
  }
  free_count_ = slots;
}

StreamSlab::~StreamSlab() {
  if (registry_index_ >= 0) registry[static_cast<std::size_t>(registry_index_)].store(nullptr, std::memory_order_release);
  assert(base_ == nullptr || available() == capacity_); // every stream closed before its slab goes
  std::free(base_);
}

std::size_t StreamSlab::available() {
  take_remote();
  return free_count_;
}

void StreamSlab::take_remote() {
  if (remote_.load(std::memory_order_relaxed) == nullptr) return;
  FreeSlot* list = remote_.exchange(nullptr, std::memory_order_acquire);
  while (list != nullptr) {
    FreeSlot* next = list->next;
    list->next = free_;
    free_ = list;
    ++free_count_;
    list = next;
  }
}

void* StreamSlab::take(std::size_t size) {
  if (size > slot_size_) [[unlikely]]
    return nullptr;
  if (free_ == nullptr) [[unlikely]] {
    take_remote();
    if (free_ == nullptr) return nullptr;
  }
  FreeSlot* f = free_;
  free_ = f->next;
  --free_count_;
  return f;
}

void StreamSlab::give(void* slot) {
  assert(owns(slot));
  auto* f = static_cast<FreeSlot*>(slot);
  f->next = free_;
  free_ = f;
  ++free_count_;
}

void StreamSlab::give_remote(void* slot) {
  auto* f = static_cast<FreeSlot*>(slot);
  FreeSlot* head = remote_.load(std::memory_order_relaxed);
  do {
    f->next = head;
  } while (!remote_.compare_exchange_weak(head, f, std::memory_order_release, std::memory_order_relaxed));
}

StreamSlab::Use::Use(StreamSlab& slab) : previous_(current_slab) { current_slab = &slab; }

StreamSlab::Use::~Use() { current_slab = previous_; }

} // namespace haka::match
