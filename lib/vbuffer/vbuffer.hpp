// Byte chains over mbuf payloads (Haka's vbuffer, vbuffer_iterator, vbuffer_sub).
//
// A Buffer is a circular list of 64-byte chunk nodes closed by an end sentinel.
// A data chunk is a window on bytes held by an mbuf: the packet's own payload
// (zero-copy, one mbuf reference per chunk) or owned bytes carved from the
// pool's byte arena (inserted data, copy-on-write copies). Control chunks have
// no bytes: push markers, marks and select placeholders (stream.hpp).
//
// Memory: chunk nodes come from a fixed slab in the per-worker BufferPool, and
// owned bytes from mbufs of the pool's mempool (an arena: many small inserts
// share one mbuf, each chunk holding a reference). Nothing is malloc'ed after
// construction.
//
// Copy-on-write: a data chunk is written in place only if its bytes are its
// own (flag `exclusive`: arena bytes no other chunk shares). The first write
// into any other chunk (packet bytes, clones) copies that chunk's bytes into
// the arena and repoints the same node: the node keeps its identity, so
// iterators on it stay valid, and the packet's mbuf is never written.
//
// Lifetime: an Iterator stores (chunk, generation). Freeing a node bumps its
// generation, and the node's memory stays in the slab for the life of the
// pool, so using an iterator whose chunk was freed is detected
// (Error::invalid_iterator) without touching freed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "flow/page_buffer.hpp"

namespace haka::vbuffer {

/// Outcome of a vbuffer operation (errors.def).
enum class Error : uint8_t {
#define X(id, text) id,
#include "vbuffer/errors.def"
#undef X
  count_
};
inline constexpr std::size_t error_count = static_cast<std::size_t>(Error::count_);

/// The message of an error code (Haka's wording where it had one).
const char* message(Error e);

/// "As many bytes as there are" for lengths and advances.
inline constexpr std::size_t all = static_cast<std::size_t>(-1);

/// What a chunk node is.
enum class ChunkKind : uint8_t {
  data,     // bytes of an mbuf
  sentinel, // end of a plain buffer
  push,     // stream push marker (a push record, or a left-over end)
  mark_ro,  // read-only mark
  mark_rw,  // read/write mark
  select,   // placeholder left by Sub::select
};

/// Bits of Chunk::flags.
namespace chunk_flag {
inline constexpr uint8_t writable = 1 << 0;  // writes allowed (cleared on data kept for a read-only mark)
inline constexpr uint8_t modified = 1 << 1;  // bytes or neighbourhood changed by an edit
inline constexpr uint8_t end = 1 << 2;       // the list's end sentinel
inline constexpr uint8_t eof = 1 << 3;       // end sentinel of a finished stream (or of a plain buffer)
inline constexpr uint8_t exclusive = 1 << 4; // bytes owned by this chunk alone: writable in place
inline constexpr uint8_t record = 1 << 5;    // push marker with a pending/kept push record
} // namespace chunk_flag

/// One node of a chain: a window on mbuf bytes, or a zero-size control node.
struct alignas(64) Chunk {
  Chunk* prev;
  Chunk* next;
  rte_mbuf* mbuf;    // data: the mbuf segment holding the bytes (this chunk holds one reference)
  uint8_t* bytes;    // data: first byte
  Chunk* next_push;  // push record: next record of its stream's FIFO
  void* user;        // push record: the caller's per-push value (e.g. the packet)
  uint32_t size;     // data bytes (0 for control chunks)
  uint32_t gen;      // bumped at every free: iterators compare it
  ChunkKind kind;
  uint8_t flags;

  bool is_ctl() const { return kind != ChunkKind::data; }
  bool is_end() const { return (flags & chunk_flag::end) != 0; }
  bool has(uint8_t f) const { return (flags & f) != 0; }
};
static_assert(sizeof(Chunk) == 64, "a chunk node is one cache line");

/// Counters of a BufferPool (allocation failures are the only outcomes).
struct PoolCounters {
  uint64_t chunk_exhausted = 0; // a chunk node was needed and the slab was empty
  uint64_t mbuf_exhausted = 0;  // owned bytes were needed and the mempool was empty
  uint64_t cow_copies = 0;      // chunks copied on their first write
  uint64_t cow_bytes = 0;
};

/// Per-worker memory of the vbuffers: a slab of chunk nodes and an arena of
/// owned bytes carved from mbufs of one mempool. Not thread-safe (one worker).
class BufferPool {
public:
  /// `bytes` provides the mbufs for owned bytes; `chunk_count` nodes are
  /// allocated now, once, on pre-faulted pages (huge pages where the kernel
  /// gives them): a connection's first nodes cost no page fault on the packet
  /// path. chunk_capacity() is 0 if that memory could not be had.
  BufferPool(rte_mempool* bytes, uint32_t chunk_count);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// A node with every field reset, or nullptr (counted) when the slab is empty.
  Chunk* alloc_chunk() {
    Chunk* c = free_;
    if (c != nullptr) [[likely]] {
      free_ = c->next;
    } else if (fresh_ < capacity_) {
      // Never handed out yet (the slab is zeroed: generation 0).
      c = &slab_[fresh_++];
      c->gen = 0;
    } else {
      ++counters_.chunk_exhausted;
      return nullptr;
    }
    ++in_use_;
    uint32_t gen = c->gen;
    *c = Chunk{};
    c->gen = gen;
    return c;
  }
  /// Returns a node: drops its mbuf reference, invalidates iterators on it.
  void free_chunk(Chunk* c) {
    if (c->mbuf != nullptr && c->kind == ChunkKind::data) rte_pktmbuf_free_seg(c->mbuf);
    c->mbuf = nullptr;
    c->bytes = nullptr;
    c->prev = nullptr;
    ++c->gen;
    c->next = free_;
    free_ = c;
    --in_use_;
  }

  /// `n` (1..max_owned_bytes()) contiguous owned bytes and the mbuf holding
  /// them, with one reference taken for the caller; nullptr when the mempool is
  /// empty (counted).
  uint8_t* alloc_bytes(uint32_t n, rte_mbuf** holder);
  /// Largest owned allocation: one mbuf's buffer.
  uint32_t max_owned_bytes() const { return max_owned_; }
  /// Drops the arena's reference on its current mbuf (the next allocation
  /// takes a fresh one). Called by the destructor; tests call it to check
  /// that every mbuf went back to the mempool.
  void release_arena();

  uint32_t chunks_in_use() const { return in_use_; }
  uint32_t chunk_capacity() const { return capacity_; }
  PoolCounters& counters() { return counters_; }
  const PoolCounters& counters() const { return counters_; }
  rte_mempool* mempool() const { return mempool_; }

private:
  flow::PageBuffer slab_mem_; // the nodes' memory (pre-faulted, zeroed)
  Chunk* slab_ = nullptr;
  Chunk* free_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t fresh_ = 0; // slab_[fresh_..] never handed out
  uint32_t in_use_ = 0;
  rte_mempool* mempool_;
  rte_mbuf* arena_ = nullptr; // current arena mbuf (the arena holds one reference)
  uint32_t arena_used_ = 0;
  uint32_t max_owned_ = 0;
  PoolCounters counters_;
};

class Buffer;
class Sub;

/// A position in a chain: (chunk, offset), offset <= chunk size. Advancing by
/// exactly the bytes left in a chunk stops at (chunk, size), not at the next
/// chunk. Plain value; using it after its chunk was freed gives
/// Error::invalid_iterator.
class Iterator {
public:
  Iterator() = default;
  Iterator(BufferPool* pool, Chunk* chunk, uint32_t offset, uint64_t meter = 0)
      : pool_(pool), chunk_(chunk), gen_(chunk->gen), offset_(offset), meter_(meter) {}

  bool is_set() const { return chunk_ != nullptr; }
  /// ok, empty_iterator, or invalid_iterator (chunk freed, or offset beyond
  /// its chunk after a split).
  Error check() const {
    if (chunk_ == nullptr) return Error::empty_iterator;
    if (chunk_->gen != gen_ || offset_ > chunk_->size) return Error::invalid_iterator;
    return Error::ok;
  }

  /// Moves forward by up to `n` bytes (all: to the end); `done` gets the
  /// bytes actually passed (the meter grows by as much).
  Error advance(std::size_t n, std::size_t* done = nullptr);
  /// Data bytes from here to the end of the chain.
  Error available(std::size_t& n) const;
  /// `have` = min(n, available): callers test have == n.
  Error check_available(std::size_t n, std::size_t& have) const;
  /// A (begin, length) sub of the next `n` bytes (all: to the end); the
  /// iterator moves past them. With `split`, the chunk is cut there and the
  /// iterator put at the start of the next piece, so it survives erasing the
  /// sub.
  Error sub(std::size_t n, bool split, Sub& out);
  /// Inserts `buf`'s chunks here (fails with read_only if the chunk here is
  /// not writable, flags it modified); the iterator moves after them and
  /// `inserted` (optional) covers them. `buf` is left empty.
  Error insert(Buffer& buf, Sub* inserted = nullptr);
  /// Cuts the chunk here; the iterator moves to the start of the second piece.
  Error split();
  /// Inserts a mark here and puts the iterator on it.
  Error mark(bool readonly);
  /// Removes the mark the iterator stands on; it moves to the next chunk.
  Error unmark();
  /// Puts the data of `data` (moved, or with `clone` shared and the originals
  /// made read-only) where the select placeholder under the iterator is, and
  /// removes the placeholder; the iterator is cleared.
  Error restore(Buffer* data, bool clone);
  /// Moves to `other`'s position (and meter).
  Error move_to(const Iterator& other);
  /// True on the end sentinel of a finished stream / of a plain buffer.
  Error is_eof(bool& eof) const;
  /// True on the end sentinel.
  Error is_end(bool& end) const;
  /// The byte here (skipping control chunks and chunk ends), not moving.
  Error get_byte(uint8_t& b) const;

  uint64_t meter() const { return meter_; }
  void set_meter(uint64_t m) { meter_ = m; }
  Chunk* chunk() const { return chunk_; }
  uint32_t offset() const { return offset_; }
  BufferPool* pool() const { return pool_; }
  void clear() { chunk_ = nullptr; }
  /// Same chunk and offset (both must be valid to mean anything).
  bool same_position(const Iterator& o) const { return chunk_ == o.chunk_ && offset_ == o.offset_; }

private:
  friend class Buffer;
  friend class Sub;
  friend class Stream;
  void place(Chunk* c, uint32_t off) {
    chunk_ = c;
    gen_ = c->gen;
    offset_ = off;
  }

  BufferPool* pool_ = nullptr;
  Chunk* chunk_ = nullptr;
  uint32_t gen_ = 0;
  uint32_t offset_ = 0;
  uint64_t meter_ = 0;
};

/// A range of a chain: (begin, end), whose end follows later inserts, or
/// (begin, length), whose size does not.
class Sub {
public:
  Sub() = default;
  static Sub between(const Iterator& begin, const Iterator& end) {
    Sub s;
    s.begin_ = begin;
    s.end_ = end;
    s.use_length_ = false;
    return s;
  }
  static Sub from(const Iterator& begin, std::size_t length) {
    Sub s;
    s.begin_ = begin;
    s.length_ = length;
    s.use_length_ = true;
    return s;
  }

  Error check() const;
  Error size(std::size_t& n) const;
  /// Iterator at `off` bytes in (all: the sub's end).
  Error position(std::size_t off, Iterator& out) const;
  /// A sub of this sub: (begin, end) when len is all, else (begin, length).
  Error sub(std::size_t off, std::size_t len, Sub& out) const;
  /// Copies up to dst.size() bytes from the start; `n` gets how many.
  Error read(std::span<uint8_t> dst, std::size_t& n) const;
  /// Overwrites the first min(size, src.size()) bytes in place
  /// (setfixedstring); `n` gets how many. Checks every chunk first: all or
  /// nothing.
  Error write(std::span<const uint8_t> src, std::size_t* n = nullptr);
  Error get_byte(std::size_t i, uint8_t& b) const;
  Error set_byte(std::size_t i, uint8_t b);
  /// The whole sub (1..8 bytes) as an unsigned number.
  Error as_number(bool big_endian, int64_t& v) const;
  /// Writes `v` over the whole sub (1..8 bytes); fails if it does not fit.
  Error set_number(bool big_endian, int64_t v);
  /// `bits` bits from bit `offset` (Haka's bit order); at most 8 bytes touched.
  Error as_bits(std::size_t offset, std::size_t bits, bool big_endian, int64_t& v) const;
  Error set_bits(std::size_t offset, std::size_t bits, bool big_endian, int64_t v);
  /// Sets every byte to 0 in place.
  Error zero();
  /// Removes the data bytes; control chunks in the range stay, in order.
  Error erase();
  /// Erase, then `buf`'s chunks where the range was; the sub then covers them.
  Error replace(Buffer& buf);
  /// replace() with a new buffer holding `s` (setstring: the size may change).
  Error set_string(std::span<const uint8_t> s);
  /// One chunk holds all the bytes.
  Error is_flat(bool& flat) const;
  /// A contiguous view of the bytes, copying them into one owned chunk if
  /// needed (at most max_owned_bytes(); a range with control chunks inside
  /// cannot be flattened).
  Error flatten(const uint8_t*& p, std::size_t& n);
  /// Moves the data bytes out into `out` and leaves a select placeholder in
  /// their place (`ref` on it) that holds stream pops until restored. Control
  /// chunks stay in the chain (push markers are never moved out).
  Error select(Buffer& out, Iterator& ref);
  /// A new buffer with the bytes: shared (copy-on-write) or copied.
  Error clone(Buffer& out, bool copy) const;

  const Iterator& begin() const { return begin_; }
  const Iterator& end_iterator() const { return end_; }
  bool uses_length() const { return use_length_; }
  std::size_t length() const { return length_; }

private:
  friend class Iterator;
  template <class F> Error walk(F&& f) const;
  Error extract(bool mark_modified, Chunk*& first, Chunk*& last, Chunk*& after);

  Iterator begin_;
  Iterator end_;
  std::size_t length_ = 0;
  bool use_length_ = false;
};

/// A chain of chunks with its end sentinel; owns its nodes (move-only).
class Buffer {
public:
  Buffer() = default;
  ~Buffer() { release(); }
  Buffer(Buffer&& o) noexcept : pool_(o.pool_), end_(o.end_) { o.end_ = nullptr; }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = o.pool_;
      end_ = o.end_;
      o.end_ = nullptr;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  /// An empty buffer (its sentinel is writable, eof).
  static Error create(BufferPool& pool, Buffer& out);
  /// `n` owned bytes (zeroed if asked).
  static Error allocate(BufferPool& pool, std::size_t n, bool zero, Buffer& out);
  /// A copy of `bytes` in owned memory.
  static Error from(BufferPool& pool, std::span<const uint8_t> bytes, Buffer& out);
  /// Zero-copy: `len` bytes of `m` (a chain) from `off`, one chunk per
  /// segment touched, each holding a reference on its segment.
  static Error from_mbuf(BufferPool& pool, rte_mbuf* m, uint32_t off, uint32_t len, Buffer& out);

  bool valid() const { return end_ != nullptr; }
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  Iterator begin() const { return Iterator(pool_, end_->next, 0); }
  Iterator end() const { return Iterator(pool_, end_, 0); }
  /// Iterator `off` bytes in.
  Iterator position(std::size_t off) const;
  /// (begin, end) sub from `off`, `len` bytes or all.
  Sub sub(std::size_t off = 0, std::size_t len = all) const;
  /// Moves `other`'s chunks to the end of this buffer.
  Error append(Buffer& other);
  /// Shared (copy-on-write) or copied clone of the whole buffer.
  Error clone(Buffer& out, bool copy) const { return sub().clone(out, copy); }
  /// Some chunk (or the sentinel) is flagged modified.
  bool is_modified() const;
  void clear_modified();
  /// Copies up to dst.size() bytes; returns how many.
  std::size_t copy_to(std::span<uint8_t> dst) const;
  /// Calls f(const uint8_t* bytes, uint32_t len, rte_mbuf* holder) for every
  /// non-empty data chunk, in order: what the output side turns into a payload.
  template <class F> void for_each_segment(F&& f) const {
    for (Chunk* c = end_->next; c != end_; c = c->next)
      if (c->kind == ChunkKind::data && c->size != 0) f(static_cast<const uint8_t*>(c->bytes), c->size, c->mbuf);
  }
  /// Frees every chunk but the sentinel.
  void clear();
  /// Frees everything, sentinel included (the buffer becomes !valid()).
  void release();

  BufferPool* pool() const { return pool_; }
  Chunk* sentinel() const { return end_; }

private:
  friend class Iterator;
  friend class Sub;
  friend class Stream;
  Buffer(BufferPool* pool, Chunk* end) : pool_(pool), end_(end) {}

  BufferPool* pool_ = nullptr;
  Chunk* end_ = nullptr;
};

// List primitives shared by the layer's sources (circular, sentinel-closed).
namespace detail {
inline void link_before(Chunk* pos, Chunk* c) {
  c->prev = pos->prev;
  c->next = pos;
  pos->prev->next = c;
  pos->prev = c;
}
inline void unlink(Chunk* c) {
  c->prev->next = c->next;
  c->next->prev = c->prev;
}
/// Moves [first, last] (linked, in order) before `pos`.
inline void splice_before(Chunk* pos, Chunk* first, Chunk* last) {
  first->prev->next = last->next;
  last->next->prev = first->prev;
  first->prev = pos->prev;
  last->next = pos;
  pos->prev->next = first;
  pos->prev = last;
}
/// Removes a control chunk, passing its modified flag to the next one; returns the next.
inline Chunk* remove_ctl(BufferPool& pool, Chunk* c) {
  Chunk* next = c->next;
  next->flags |= c->flags & chunk_flag::modified;
  unlink(c);
  pool.free_chunk(c);
  return next;
}
/// A data chunk sharing `src`'s mbuf (one more reference): bytes [off, off+len).
Chunk* share(BufferPool& pool, const Chunk* src, uint32_t off, uint32_t len);
/// Splits at an iterator's position; returns the chunk the data after it
/// starts at (possibly the sentinel). With check_write, fails on a
/// non-writable chunk and flags it modified.
Error split_at(const Iterator& it, bool check_write, Chunk*& at);
/// Makes a data chunk's bytes its own (copy-on-write); may cut a chunk larger
/// than one owned allocation (then `c` covers the first piece).
Error own(BufferPool& pool, Chunk* c);
} // namespace detail

} // namespace haka::vbuffer
