#include "flow/page_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include <rte_malloc.h>

namespace haka::flow {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}

PageBuffer PageBuffer::allocate(std::size_t bytes, MemorySource source, int socket_id) {
  PageBuffer b;
  if (bytes == 0) return b;
  if (source == MemorySource::dpdk) {
    b.data_ = rte_zmalloc_socket("haka_flow", bytes, 64, socket_id);
    if (b.data_ != nullptr) b.size_ = bytes;
    return b;
  }
  // Large arrays get 2 MiB alignment so THP can back them (fewer TLB misses
  // on random lookups into a 10M-flow table).
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t unit = bytes >= kHugePage ? kHugePage : page;
  const std::size_t len = (bytes + unit - 1) / unit * unit;
  // Map one unit more and trim, so the block starts on a 2 MiB boundary.
  const std::size_t over = unit == kHugePage ? kHugePage : 0;
  void* raw = mmap(nullptr, len + over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return b;
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = over != 0 ? (base + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1) : base;
  if (start != base) munmap(raw, start - base);
  if (base + len + over != start + len) munmap(reinterpret_cast<void*>(start + len), base + len + over - (start + len));
  void* p = reinterpret_cast<void*>(start);
  if (len >= kHugePage) madvise(p, len, MADV_HUGEPAGE); // a hint: failure only costs speed
  // Pre-fault every page now, not on the packet path.
  auto* bytes_p = static_cast<volatile uint8_t*>(p);
  for (std::size_t off = 0; off < len; off += page) bytes_p[off] = 0;
  b.data_ = p;
  b.size_ = bytes;
  b.mapped_ = len;
  return b;
}

PageBuffer::~PageBuffer() {
  if (data_ == nullptr) return;
  if (mapped_ != 0)
    munmap(data_, mapped_);
  else
    rte_free(data_);
}

void PageBuffer::swap(PageBuffer& o) noexcept {
  std::swap(data_, o.data_);
  std::swap(size_, o.size_);
  std::swap(mapped_, o.mapped_);
}

} // namespace haka::flow
