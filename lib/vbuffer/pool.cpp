#include "vbuffer/vbuffer.hpp"

namespace haka::vbuffer {

namespace {
constexpr const char* error_messages[] = {
#define X(id, text) text,
#include "vbuffer/errors.def"
#undef X
};
static_assert(std::size(error_messages) == error_count);
} // namespace

const char* message(Error e) {
  auto i = static_cast<std::size_t>(e);
  return i < error_count ? error_messages[i] : "unknown vbuffer error";
}

BufferPool::BufferPool(rte_mempool* bytes, uint32_t chunk_count)
    : slab_mem_(flow::PageBuffer::allocate(std::size_t{chunk_count} * sizeof(Chunk), flow::MemorySource::ordinary,
                                           SOCKET_ID_ANY)),
      mempool_(bytes), max_owned_(rte_pktmbuf_data_room_size(bytes)) {
  // Page-aligned, zeroed and pre-faulted: at a million connections the
  // nodes' first touch was a page fault on the packet path for every few
  // connections. alloc_chunk() still hands out fresh nodes in order.
  if (slab_mem_) {
    slab_ = static_cast<Chunk*>(slab_mem_.data());
    capacity_ = chunk_count;
  }
}

BufferPool::~BufferPool() { release_arena(); }

void BufferPool::release_arena() {
  if (arena_ != nullptr) rte_pktmbuf_free_seg(arena_);
  arena_ = nullptr;
  arena_used_ = 0;
}

uint8_t* BufferPool::alloc_bytes(uint32_t n, rte_mbuf** holder) {
  if (arena_ == nullptr || arena_used_ + n > arena_->buf_len) {
    rte_mbuf* m = rte_pktmbuf_alloc(mempool_);
    if (m == nullptr) [[unlikely]] {
      ++counters_.mbuf_exhausted;
      return nullptr;
    }
    release_arena();
    arena_ = m;
  }
  // The whole buffer (headroom included) is ours: these mbufs are never sent.
  uint8_t* p = static_cast<uint8_t*>(arena_->buf_addr) + arena_used_;
  arena_used_ += n;
  rte_mbuf_refcnt_update(arena_, 1);
  *holder = arena_;
  return p;
}

} // namespace haka::vbuffer
