// Owned, zeroed, page-backed memory for the flow layer's big arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace haka::flow {

/// Where a flow structure's memory comes from (chosen once, at start-up).
enum class MemorySource : uint8_t {
  ordinary, // anonymous mmap, transparent huge pages requested, pre-faulted
  dpdk,     // rte_zmalloc_socket on the given NUMA socket (hugepages when EAL has them)
};

/// A zeroed block of memory, 64-byte aligned, allocated at start-up and freed
/// when the buffer dies. All pages are touched at allocation so the packet
/// path never takes a page fault on them.
class PageBuffer {
 public:
  PageBuffer() = default;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  PageBuffer(PageBuffer&& o) noexcept { swap(o); }
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    PageBuffer tmp(static_cast<PageBuffer&&>(o));
    swap(tmp);
    return *this;
  }
  ~PageBuffer();

  /// Allocates `bytes` bytes; an empty buffer (data() == nullptr) on failure.
  static PageBuffer allocate(std::size_t bytes, MemorySource source, int socket_id);

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void swap(PageBuffer& o) noexcept;

  void* data_ = nullptr;
  std::size_t size_ = 0;   // bytes asked for
  std::size_t mapped_ = 0; // bytes mapped (ordinary source), 0 for dpdk
};

} // namespace haka::flow
