// Fixed slab of Hyperscan stream states, so that opening a stream on the
// packet path never calls malloc.
//
// Hyperscan allocates stream state through one process-wide allocator
// (hs_set_stream_allocator, a plain function without context). We install
// ours once; it serves the slab that the calling thread has made current
// (StreamSlab::Use, set by the match layer around hs_open_stream and
// hs_close_stream only). Threads: a slab belongs to one worker thread (its
// Scanner's); its free list is that thread's alone, no lock, so a Scanner
// is used by one thread at a time (the main thread may tear flows down
// through it once the worker has stopped). A state freed while another
// slab is current (a flow closed through another worker's Scanner, on any
// thread) is found by address in a registry of slabs and goes on its own
// slab's lock-free "remote" list (an atomic push), which the owner takes
// back whole (one atomic exchange) when its own list runs dry. Memory not
// from any slab (a stream opened directly with Hyperscan's API, outside the
// match layer) comes from and goes back to the C heap.
//
// Sizing: one slot per stream open at once (two per tracked connection
// for the engine's scan, plus the Lua sinks alive at once). A slab must
// outlive every stream opened from it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace haka::match {

/// Equal-size, cache-line-aligned slots for stream states, allocated and
/// pre-faulted once at construction.
class StreamSlab {
 public:
  static constexpr std::size_t alignment = 64;

  /// `slot_size`: the largest stream state it will hold (Database::stream_size
  /// of every database scanned with it), rounded up to the alignment.
  StreamSlab(std::size_t slot_size, std::size_t slots);
  ~StreamSlab();
  StreamSlab(const StreamSlab&) = delete;
  StreamSlab& operator=(const StreamSlab&) = delete;

  /// False if the memory could not be allocated or registered.
  bool ok() const { return base_ != nullptr; }
  std::size_t slot_size() const { return slot_size_; }
  std::size_t capacity() const { return capacity_; }
  /// Free slots, remote frees included (owner thread only).
  std::size_t available();

  /// A slot for `size` bytes; nullptr when the slab is empty or `size` does
  /// not fit a slot. Owner thread only.
  void* take(std::size_t size);
  /// Gives back a slot of this slab taken earlier, from the owner thread.
  void give(void* slot);
  /// Gives back a slot from any other thread (lock-free push).
  void give_remote(void* slot);
  bool owns(const void* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const auto b = reinterpret_cast<uintptr_t>(base_);
    return a >= b && a < b + slot_size_ * capacity_;
  }

  /// Makes this slab the calling thread's current one for the scope of the
  /// object (restores the previous one after).
  class Use {
   public:
    explicit Use(StreamSlab& slab);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    StreamSlab* previous_;
  };

  /// Installs the slab allocator as Hyperscan's stream allocator (once per
  /// process; every StreamSlab constructor calls it). False if Hyperscan
  /// refused.
  static bool install();

  /// States the installed allocator served from the C heap because no slab
  /// was current (process-wide, relaxed).
  static uint64_t heap_allocations();

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  void take_remote();

  std::byte* base_ = nullptr;
  std::size_t slot_size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t free_count_ = 0;
  FreeSlot* free_ = nullptr;
  int registry_index_ = -1;
  alignas(64) std::atomic<FreeSlot*> remote_{nullptr};
};

} // namespace haka::match
