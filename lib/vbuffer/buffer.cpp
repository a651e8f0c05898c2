// Buffer, Iterator and Sub: reads, positions and edits of a chain.
#include <algorithm>
#include <cstring>

#include "vbuffer/vbuffer.hpp"

namespace haka::vbuffer {

using detail::link_before;
using detail::splice_before;
using detail::unlink;

namespace {

Chunk* new_sentinel(BufferPool& pool) {
  Chunk* s = pool.alloc_chunk();
  if (s == nullptr) return nullptr;
  s->kind = ChunkKind::sentinel;
  s->flags = chunk_flag::writable | chunk_flag::end | chunk_flag::eof;
  s->prev = s->next = s;
  return s;
}

/// A data chunk of `n` (<= max_owned_bytes) fresh owned bytes.
Chunk* owned_chunk(BufferPool& pool, uint32_t n) {
  Chunk* c = pool.alloc_chunk();
  if (c == nullptr) return nullptr;
  rte_mbuf* holder;
  uint8_t* p = pool.alloc_bytes(n, &holder);
  if (p == nullptr) {
    pool.free_chunk(c);
    return nullptr;
  }
  c->kind = ChunkKind::data;
  c->mbuf = holder;
  c->bytes = p;
  c->size = n;
  c->flags = chunk_flag::writable | chunk_flag::exclusive;
  return c;
}

/// Frees a detached list first..(null).
void free_list(BufferPool& pool, Chunk* first) {
  while (first != nullptr) {
    Chunk* next = first->next;
    pool.free_chunk(first);
    first = next;
  }
}

/// Links a detached list [first, last] before `pos`.
void attach_before(Chunk* pos, Chunk* first, Chunk* last) {
  first->prev = pos->prev;
  last->next = pos;
  pos->prev->next = first;
  pos->prev = last;
}

Error alloc_error(const BufferPool& pool, uint64_t chunk_fail_before) {
  return pool.counters().chunk_exhausted != chunk_fail_before ? Error::no_chunk : Error::no_mbuf;
}

} // namespace

// ---------------------------------------------------------------- detail

namespace detail {

Chunk* share(BufferPool& pool, const Chunk* src, uint32_t off, uint32_t len) {
  Chunk* c = pool.alloc_chunk();
  if (c == nullptr) return nullptr;
  c->kind = ChunkKind::data;
  c->mbuf = src->mbuf;
  c->bytes = src->bytes + off;
  c->size = len;
  c->flags = src->flags;
  rte_mbuf_refcnt_update(src->mbuf, 1);
  return c;
}

Error split_at(const Iterator& it, bool check_write, Chunk*& at) {
  if (Error e = it.check(); e != Error::ok) return e;
  Chunk* c = it.chunk();
  uint32_t off = it.offset();
  if (check_write) {
    if (!c->has(chunk_flag::writable)) return Error::read_only;
    c->flags |= chunk_flag::modified;
  }
  if (off == 0 || c->is_end()) {
    at = c;
    return Error::ok;
  }
  if (off == c->size) {
    at = c->next;
    return Error::ok;
  }
  Chunk* n = share(*it.pool(), c, off, c->size - off);
  if (n == nullptr) return Error::no_chunk;
  c->size = off;
  link_before(c->next, n);
  at = n;
  return Error::ok;
}

Error own(BufferPool& pool, Chunk* c) {
  if (c->has(chunk_flag::exclusive) || c->size == 0) return Error::ok;
  if (c->size > pool.max_owned_bytes()) return Error::too_large;
  rte_mbuf* holder;
  uint8_t* p = pool.alloc_bytes(c->size, &holder);
  if (p == nullptr) return Error::no_mbuf;
  std::memcpy(p, c->bytes, c->size);
  rte_pktmbuf_free_seg(c->mbuf);
  c->mbuf = holder;
  c->bytes = p;
  c->flags |= chunk_flag::exclusive;
  ++pool.counters().cow_copies;
  pool.counters().cow_bytes += c->size;
  return Error::ok;
}

} // namespace detail

// ---------------------------------------------------------------- Buffer

Error Buffer::create(BufferPool& pool, Buffer& out) {
  Chunk* s = new_sentinel(pool);
  if (s == nullptr) return Error::no_chunk;
  out = Buffer(&pool, s);
  return Error::ok;
}

Error Buffer::allocate(BufferPool& pool, std::size_t n, bool zero, Buffer& out) {
  Buffer b;
  if (Error e = create(pool, b); e != Error::ok) return e;
  while (n > 0) {
    uint64_t before = pool.counters().chunk_exhausted;
    auto piece = static_cast<uint32_t>(std::min<std::size_t>(n, pool.max_owned_bytes()));
    Chunk* c = owned_chunk(pool, piece);
    if (c == nullptr) return alloc_error(pool, before);
    if (zero) std::memset(c->bytes, 0, piece);
    link_before(b.end_, c);
    n -= piece;
  }
  out = std::move(b);
  return Error::ok;
}

Error Buffer::from(BufferPool& pool, std::span<const uint8_t> bytes, Buffer& out) {
  Buffer b;
  if (Error e = create(pool, b); e != Error::ok) return e;
  std::size_t done = 0;
  while (done < bytes.size()) {
    uint64_t before = pool.counters().chunk_exhausted;
    auto piece = static_cast<uint32_t>(std::min<std::size_t>(bytes.size() - done, pool.max_owned_bytes()));
    Chunk* c = owned_chunk(pool, piece);
    if (c == nullptr) return alloc_error(pool, before);
    std::memcpy(c->bytes, bytes.data() + done, piece);
    link_before(b.end_, c);
    done += piece;
  }
  out = std::move(b);
  return Error::ok;
}

Error Buffer::from_mbuf(BufferPool& pool, rte_mbuf* m, uint32_t off, uint32_t len, Buffer& out) {
  Buffer b;
  if (Error e = create(pool, b); e != Error::ok) return e;
  while (len > 0) {
    while (m != nullptr && off >= m->data_len) {
      off -= m->data_len;
      m = m->next;
    }
    if (m == nullptr) return Error::out_of_range;
    uint32_t piece = std::min<uint32_t>(len, m->data_len - off);
    Chunk* c = pool.alloc_chunk();
    if (c == nullptr) return Error::no_chunk;
    c->kind = ChunkKind::data;
    c->mbuf = m;
    c->bytes = rte_pktmbuf_mtod_offset(m, uint8_t*, off);
    c->size = piece;
    c->flags = chunk_flag::writable;
    rte_mbuf_refcnt_update(m, 1);
    link_before(b.end_, c);
    len -= piece;
    off += piece;
  }
  out = std::move(b);
  return Error::ok;
}

std::size_t Buffer::size() const {
  std::size_t n = 0;
  for (Chunk* c = end_->next; c != end_; c = c->next) n += c->size;
  return n;
}

Iterator Buffer::position(std::size_t off) const {
  Iterator it = begin();
  (void)it.advance(off);
  return it;
}

Sub Buffer::sub(std::size_t off, std::size_t len) const {
  Iterator b = position(off);
  if (len == all) return Sub::between(b, end());
  Iterator e = b;
  (void)e.advance(len);
  return Sub::between(b, e);
}

Error Buffer::append(Buffer& other) {
  if (!other.valid() || other.end_->next == other.end_) return Error::ok;
  splice_before(end_, other.end_->next, other.end_->prev);
  return Error::ok;
}

bool Buffer::is_modified() const {
  Chunk* c = end_;
  do {
    if (c->has(chunk_flag::modified)) return true;
    c = c->next;
  } while (c != end_);
  return false;
}

void Buffer::clear_modified() {
  Chunk* c = end_;
  do {
    c->flags &= static_cast<uint8_t>(~chunk_flag::modified);
    c = c->next;
  } while (c != end_);
}

std::size_t Buffer::copy_to(std::span<uint8_t> dst) const {
  std::size_t n = 0;
  for (Chunk* c = end_->next; c != end_ && n < dst.size(); c = c->next) {
    std::size_t k = std::min<std::size_t>(c->size, dst.size() - n);
    if (k != 0) std::memcpy(dst.data() + n, c->bytes, k);
    n += k;
  }
  return n;
}

void Buffer::clear() {
  if (end_ == nullptr) return;
  Chunk* c = end_->next;
  while (c != end_) {
    Chunk* next = c->next;
    pool_->free_chunk(c);
    c = next;
  }
  end_->next = end_->prev = end_;
}

void Buffer::release() {
  if (end_ == nullptr) return;
  clear();
  pool_->free_chunk(end_);
  end_ = nullptr;
}

// ---------------------------------------------------------------- Iterator

Error Iterator::advance(std::size_t n, std::size_t* done) {
  if (Error e = check(); e != Error::ok) return e;
  Chunk* c = chunk_;
  std::size_t off = offset_;
  std::size_t left = n;
  std::size_t end_off = 0;
  while (!c->is_end()) {
    std::size_t here = c->size - off;
    if (here >= left) {
      end_off = off + left;
      left = 0;
      break;
    }
    left -= here;
    off = 0;
    c = c->next;
  }
  place(c, static_cast<uint32_t>(end_off));
  meter_ += n - left;
  if (done != nullptr) *done = n - left;
  return Error::ok;
}

Error Iterator::available(std::size_t& n) const {
  if (Error e = check(); e != Error::ok) return e;
  n = 0;
  std::size_t off = offset_;
  for (Chunk* c = chunk_; !c->is_end(); c = c->next) {
    n += c->size - off;
    off = 0;
  }
  return Error::ok;
}

Error Iterator::check_available(std::size_t n, std::size_t& have) const {
  if (Error e = check(); e != Error::ok) return e;
  have = 0;
  std::size_t off = offset_;
  for (Chunk* c = chunk_; !c->is_end() && have < n; c = c->next) {
    have += c->size - off;
    off = 0;
  }
  have = std::min(have, n);
  return Error::ok;
}

Error Iterator::sub(std::size_t n, bool split, Sub& out) {
  if (Error e = check(); e != Error::ok) return e;
  Iterator begin = *this;
  std::size_t passed = 0;
  (void)advance(n, &passed);
  if (split) {
    Chunk* at;
    if (Error e = detail::split_at(*this, false, at); e != Error::ok) {
      *this = begin;
      return e;
    }
    place(at, 0);
  }
  out = Sub::from(begin, passed);
  return Error::ok;
}

Error Iterator::insert(Buffer& buf, Sub* inserted) {
  if (Error e = check(); e != Error::ok) return e;
  if (!buf.valid() || buf.end_->next == buf.end_) {
    if (inserted != nullptr) *inserted = Sub::between(*this, *this);
    return Error::ok;
  }
  for (Chunk* c = buf.end_->next;; c = c->next) {
    if (c == chunk_) return Error::circular_insert;
    if (c == buf.end_) break;
  }
  Chunk* at;
  if (Error e = detail::split_at(*this, true, at); e != Error::ok) return e;
  Chunk* first = buf.end_->next;
  splice_before(at, first, buf.end_->prev);
  place(at, 0);
  if (inserted != nullptr) *inserted = Sub::between(Iterator(pool_, first, 0), *this);
  return Error::ok;
}

Error Iterator::split() {
  Chunk* at;
  if (Error e = detail::split_at(*this, false, at); e != Error::ok) return e;
  place(at, 0);
  return Error::ok;
}

Error Iterator::mark(bool readonly) {
  if (Error e = check(); e != Error::ok) return e;
  Chunk* m = pool_->alloc_chunk();
  if (m == nullptr) return Error::no_chunk;
  Chunk* at;
  if (Error e = detail::split_at(*this, false, at); e != Error::ok) {
    pool_->free_chunk(m);
    return e;
  }
  m->kind = readonly ? ChunkKind::mark_ro : ChunkKind::mark_rw;
  m->flags = at->flags & chunk_flag::writable;
  link_before(at, m);
  place(m, 0);
  return Error::ok;
}

Error Iterator::unmark() {
  if (Error e = check(); e != Error::ok) return e;
  if (chunk_->kind != ChunkKind::mark_ro && chunk_->kind != ChunkKind::mark_rw) return Error::not_a_mark;
  Chunk* next = detail::remove_ctl(*pool_, chunk_);
  place(next, 0);
  return Error::ok;
}

Error Iterator::restore(Buffer* data, bool clone) {
  if (Error e = check(); e != Error::ok) return e;
  if (chunk_->kind != ChunkKind::select) return Error::not_a_select;
  if (data != nullptr && data->valid() && data->end_->next != data->end_) {
    if (clone) {
      Buffer copy;
      if (Error e = data->clone(copy, false); e != Error::ok) return e;
      for (Chunk* c = data->end_->next; c != data->end_; c = c->next) c->flags &= static_cast<uint8_t>(~chunk_flag::writable);
      splice_before(chunk_, copy.end_->next, copy.end_->prev);
    } else {
      splice_before(chunk_, data->end_->next, data->end_->prev);
    }
  }
  (void)detail::remove_ctl(*pool_, chunk_);
  clear();
  return Error::ok;
}

Error Iterator::move_to(const Iterator& other) {
  if (Error e = check(); e != Error::ok) return e;
  if (Error e = other.check(); e != Error::ok) return e;
  *this = other;
  return Error::ok;
}

Error Iterator::is_eof(bool& eof) const {
  if (Error e = check(); e != Error::ok) return e;
  eof = chunk_->is_end() && chunk_->has(chunk_flag::eof);
  return Error::ok;
}

Error Iterator::is_end(bool& end) const {
  if (Error e = check(); e != Error::ok) return e;
  end = chunk_->is_end();
  return Error::ok;
}

Error Iterator::get_byte(uint8_t& b) const {
  if (Error e = check(); e != Error::ok) return e;
  uint32_t off = offset_;
  for (Chunk* c = chunk_; !c->is_end(); c = c->next) {
    if (off < c->size) {
      b = c->bytes[off];
      return Error::ok;
    }
    off = 0;
  }
  return Error::out_of_range;
}

// ---------------------------------------------------------------- Sub

// Visits the range: f(chunk, offset, length) for every chunk it touches,
// control chunks (length 0) included. Structure must not change meanwhile.
template <class F> Error Sub::walk(F&& f) const {
  if (Error e = begin_.check(); e != Error::ok) return e;
  Chunk* c = begin_.chunk_;
  uint32_t off = begin_.offset_;
  if (use_length_) {
    std::size_t left = length_;
    while (left > 0 && !c->is_end()) {
      auto take = static_cast<uint32_t>(std::min<std::size_t>(c->size - off, left));
      f(c, off, take);
      left -= take;
      c = c->next;
      off = 0;
    }
    return Error::ok;
  }
  if (Error e = end_.check(); e != Error::ok) return e;
  Chunk* ec = end_.chunk_;
  uint32_t eoff = end_.offset_;
  for (;;) {
    if (c == ec) {
      if (off > eoff) return Error::out_of_range;
      f(c, off, eoff - off);
      return Error::ok;
    }
    if (c->is_end()) return Error::out_of_range;
    f(c, off, c->size - off);
    c = c->next;
    off = 0;
  }
}

Error Sub::check() const {
  if (Error e = begin_.check(); e != Error::ok) return e;
  return use_length_ ? Error::ok : end_.check();
}

Error Sub::size(std::size_t& n) const {
  std::size_t total = 0;
  Error e = walk([&](Chunk*, uint32_t, uint32_t len) { total += len; });
  n = total;
  return e;
}

Error Sub::position(std::size_t off, Iterator& out) const {
  if (Error e = check(); e != Error::ok) return e;
  if (off == all) {
    if (!use_length_) {
      out = end_;
      return Error::ok;
    }
    off = length_;
  }
  out = begin_;
  return out.advance(off);
}

Error Sub::sub(std::size_t off, std::size_t len, Sub& out) const {
  Iterator b;
  if (Error e = position(off, b); e != Error::ok) return e;
  if (len == all) {
    Iterator e;
    if (Error err = position(all, e); err != Error::ok) return err;
    out = between(b, e);
  } else {
    out = from(b, len);
  }
  return Error::ok;
}

Error Sub::read(std::span<uint8_t> dst, std::size_t& n) const {
  std::size_t done = 0;
  Error e = walk([&](Chunk* c, uint32_t off, uint32_t len) {
    std::size_t k = std::min<std::size_t>(len, dst.size() - done);
    if (k != 0) std::memcpy(dst.data() + done, c->bytes + off, k);
    done += k;
  });
  n = done;
  return e;
}

Error Sub::write(std::span<const uint8_t> src, std::size_t* n) {
  // Three passes so a refusal leaves the bytes untouched: writability, then
  // copy-on-write of the chunks concerned, then the bytes.
  std::size_t left = src.size();
  bool writable = true;
  if (Error e = walk([&](Chunk* c, uint32_t, uint32_t len) {
        if (left == 0 || len == 0) return;
        if (!c->has(chunk_flag::writable)) writable = false;
        left -= std::min<std::size_t>(len, left);
      });
      e != Error::ok)
    return e;
  if (!writable) return Error::read_only;
  left = src.size();
  Error cow = Error::ok;
  (void)walk([&](Chunk* c, uint32_t, uint32_t len) {
    if (left == 0 || len == 0 || cow != Error::ok) return;
    cow = detail::own(*begin_.pool_, c);
    left -= std::min<std::size_t>(len, left);
  });
  if (cow != Error::ok) return cow;
  std::size_t done = 0;
  (void)walk([&](Chunk* c, uint32_t off, uint32_t len) {
    std::size_t k = std::min<std::size_t>(len, src.size() - done);
    if (k == 0) return;
    std::memcpy(c->bytes + off, src.data() + done, k);
    c->flags |= chunk_flag::modified;
    done += k;
  });
  if (n != nullptr) *n = done;
  return Error::ok;
}

Error Sub::get_byte(std::size_t i, uint8_t& b) const {
  Sub one;
  if (Error e = sub(i, 1, one); e != Error::ok) return e;
  std::size_t n = 0;
  if (Error e = one.read({&b, 1}, n); e != Error::ok) return e;
  return n == 1 ? Error::ok : Error::out_of_range;
}

Error Sub::set_byte(std::size_t i, uint8_t b) {
  Sub one;
  if (Error e = sub(i, 1, one); e != Error::ok) return e;
  std::size_t n = 0;
  if (Error e = one.write({&b, 1}, &n); e != Error::ok) return e;
  return n == 1 ? Error::ok : Error::out_of_range;
}

Error Sub::as_number(bool big_endian, int64_t& v) const {
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e;
  if (n == 0 || n > 8) return Error::unsupported_size;
  uint8_t tmp[8];
  (void)read({tmp, n}, n);
  uint64_t r = 0;
  for (std::size_t i = 0; i < n; ++i) r |= uint64_t{tmp[big_endian ? i : n - 1 - i]} << (8 * (n - 1 - i));
  v = static_cast<int64_t>(r);
  return Error::ok;
}

namespace {
/// `v` fits in `bits` bits: unsigned below 2^bits, or signed from -2^(bits-1).
bool fits(int64_t v, std::size_t bits) {
  if (bits >= 64) return true;
  if (v >= 0) return static_cast<uint64_t>(v) < (uint64_t{1} << bits);
  return bits > 0 && v >= -(int64_t{1} << (bits - 1));
}
} // namespace

Error Sub::set_number(bool big_endian, int64_t v) {
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e;
  if (n == 0 || n > 8) return Error::unsupported_size;
  if (!fits(v, 8 * n)) return Error::value_does_not_fit;
  uint8_t tmp[8];
  auto u = static_cast<uint64_t>(v);
  for (std::size_t i = 0; i < n; ++i) tmp[big_endian ? n - 1 - i : i] = static_cast<uint8_t>(u >> (8 * i));
  return write({tmp, n});
}

namespace {
// Haka's bit order: big-endian numbers bit 0 as the most significant bit of a
// byte, little-endian as the least significant one.
uint8_t get_bits(uint8_t x, unsigned off, unsigned size, bool big_endian) {
  if (big_endian) off = 8 - off - size;
  return static_cast<uint8_t>((x >> off) & ((1u << size) - 1));
}
uint8_t put_bits(uint8_t x, unsigned off, unsigned size, uint64_t v, bool big_endian) {
  if (big_endian) off = 8 - off - size;
  unsigned mask = ((1u << size) - 1) << off;
  return static_cast<uint8_t>((x & ~mask) | ((static_cast<unsigned>(v) << off) & mask));
}
} // namespace

Error Sub::as_bits(std::size_t offset, std::size_t bits, bool big_endian, int64_t& v) const {
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e;
  if (bits > 64) return Error::unsupported_size;
  std::size_t first = offset >> 3, last = (offset + bits + 7) >> 3;
  if (first >= n) return Error::bit_offset;
  if (last > n) return Error::out_of_range;
  if (last > 8) return Error::unsupported_size;
  uint8_t tmp[8];
  std::size_t got;
  (void)read({tmp, last}, got);
  uint64_t r = 0;
  unsigned off = offset & 7, shift = 0;
  for (std::size_t i = first; i < last && bits > 0; ++i) {
    unsigned take = static_cast<unsigned>(std::min<std::size_t>(bits, 8 - off));
    uint64_t b = get_bits(tmp[i], off, take, big_endian);
    if (big_endian) {
      r = (r << take) | b;
    } else {
      r |= b << shift;
      shift += take;
    }
    off = 0;
    bits -= take;
  }
  v = static_cast<int64_t>(r);
  return Error::ok;
}

Error Sub::set_bits(std::size_t offset, std::size_t bits, bool big_endian, int64_t v) {
  if (bits > 64) return Error::unsupported_size;
  if (!fits(v, bits)) return Error::value_does_not_fit;
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e;
  std::size_t first = offset >> 3, last = (offset + bits + 7) >> 3;
  if (first >= n) return Error::bit_offset;
  if (last > n) return Error::out_of_range;
  if (last > 8) return Error::unsupported_size;
  uint8_t tmp[8];
  std::size_t got;
  (void)read({tmp, last}, got);
  auto u = static_cast<uint64_t>(v);
  unsigned off = offset & 7;
  for (std::size_t i = first; i < last && bits > 0; ++i) {
    unsigned take = static_cast<unsigned>(std::min<std::size_t>(bits, 8 - off));
    bits -= take;
    if (big_endian) {
      tmp[i] = put_bits(tmp[i], off, take, u >> bits, true);
    } else {
      tmp[i] = put_bits(tmp[i], off, take, u, false);
      u >>= take;
    }
    off = 0;
  }
  return write({tmp, last});
}

Error Sub::zero() {
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e;
  bool writable = true;
  (void)walk([&](Chunk* c, uint32_t, uint32_t len) {
    if (len != 0 && !c->has(chunk_flag::writable)) writable = false;
  });
  if (!writable) return Error::read_only;
  Error cow = Error::ok;
  (void)walk([&](Chunk* c, uint32_t, uint32_t len) {
    if (len != 0 && cow == Error::ok) cow = detail::own(*begin_.pool_, c);
  });
  if (cow != Error::ok) return cow;
  (void)walk([&](Chunk* c, uint32_t off, uint32_t len) {
    if (len == 0) return;
    std::memset(c->bytes + off, 0, len);
    c->flags |= chunk_flag::modified;
  });
  return Error::ok;
}

// Cuts the chain at both ends of the range and unlinks its data chunks into
// a detached list [first, last] (both null when the range had no data);
// control chunks stay in place, in order. `after` is the chunk that followed
// the range.
Error Sub::extract(bool mark_modified, Chunk*& first, Chunk*& last, Chunk*& after) {
  std::size_t n;
  if (Error e = size(n); e != Error::ok) return e; // validates, and that end is not before begin
  BufferPool& pool = *begin_.pool_;
  Chunk* endc = nullptr;
  // The end first: cutting there never moves the beginning.
  if (!use_length_)
    if (Error e = detail::split_at(end_, mark_modified, endc); e != Error::ok) return e;
  Chunk* b;
  if (Error e = detail::split_at(begin_, mark_modified, b); e != Error::ok) return e;
  if (use_length_) {
    std::size_t left = length_;
    for (Chunk* c = b;; c = c->next) {
      if (c->is_end()) {
        endc = c;
        break;
      }
      if (left > c->size) {
        left -= c->size;
        continue;
      }
      if (Error e = detail::split_at(Iterator(&pool, c, static_cast<uint32_t>(left)), mark_modified, endc);
          e != Error::ok)
        return e;
      break;
    }
  }
  first = last = nullptr;
  for (Chunk* c = b; c != endc;) {
    Chunk* next = c->next;
    if (c->kind == ChunkKind::data) {
      // What takes a removed chunk's place says so: a push whose bytes all
      // went is still seen as modified through its marker.
      if (mark_modified) next->flags |= chunk_flag::modified;
      unlink(c);
      c->next = nullptr;
      c->prev = last;
      if (last != nullptr) last->next = c;
      else first = c;
      last = c;
    }
    c = next;
  }
  after = endc;
  return Error::ok;
}

Error Sub::erase() {
  Chunk *first, *last, *after;
  if (Error e = extract(true, first, last, after); e != Error::ok) return e;
  free_list(*begin_.pool_, first);
  // Flag the chunk that followed: the region of a stream push that lost
  // bytes says so even when every chunk of it went.
  after->flags |= chunk_flag::modified;
  return Error::ok;
}

Error Sub::replace(Buffer& buf) {
  BufferPool& pool = *begin_.pool_;
  Chunk *first, *last, *after;
  if (Error e = extract(true, first, last, after); e != Error::ok) return e;
  free_list(pool, first);
  after->flags |= chunk_flag::modified;
  std::size_t added = 0;
  Chunk* nb = after;
  if (buf.valid() && buf.end_->next != buf.end_) {
    nb = buf.end_->next;
    added = buf.size();
    splice_before(after, nb, buf.end_->prev);
  }
  begin_ = Iterator(&pool, nb, 0, begin_.meter());
  if (use_length_) length_ = added;
  else end_ = Iterator(&pool, after, 0);
  return Error::ok;
}

Error Sub::set_string(std::span<const uint8_t> s) {
  if (Error e = check(); e != Error::ok) return e;
  Buffer b;
  if (Error e = Buffer::from(*begin_.pool_, s, b); e != Error::ok) return e;
  return replace(b);
}

Error Sub::is_flat(bool& flat) const {
  unsigned pieces = 0;
  Error e = walk([&](Chunk* c, uint32_t, uint32_t len) {
    if (c->kind == ChunkKind::data && len != 0) ++pieces;
  });
  flat = pieces <= 1;
  return e;
}

Error Sub::flatten(const uint8_t*& p, std::size_t& n) {
  // Pieces contiguous in one mbuf (a chunk cut by splits) need no copy.
  const uint8_t* start = nullptr;
  const uint8_t* next = nullptr;
  rte_mbuf* holder = nullptr;
  bool contiguous = true, has_ctl = false;
  std::size_t total = 0;
  if (Error e = walk([&](Chunk* c, uint32_t off, uint32_t len) {
        if (c->is_ctl()) {
          // A control chunk between or after the bytes (not the range's end
          // itself) would change places with the flat copy.
          if (total != 0 && (use_length_ || c != end_.chunk_)) has_ctl = true;
          return;
        }
        if (len == 0) return;
        if (start == nullptr) {
          start = c->bytes + off;
          holder = c->mbuf;
        } else if (c->bytes + off != next || c->mbuf != holder) {
          contiguous = false;
        }
        next = c->bytes + off + len;
        total += len;
      });
      e != Error::ok)
    return e;
  if (contiguous) {
    p = start;
    n = total;
    return Error::ok;
  }
  if (has_ctl) return Error::not_flat;
  BufferPool& pool = *begin_.pool_;
  if (total > pool.max_owned_bytes()) return Error::too_large;
  bool writable = true;
  (void)walk([&](Chunk* c, uint32_t, uint32_t len) {
    if (len != 0 && !c->has(chunk_flag::writable)) writable = false;
  });
  uint64_t before = pool.counters().chunk_exhausted;
  Chunk* flat = owned_chunk(pool, static_cast<uint32_t>(total));
  if (flat == nullptr) return alloc_error(pool, before);
  std::size_t done = 0;
  (void)walk([&](Chunk* c, uint32_t off, uint32_t len) {
    if (len != 0) std::memcpy(flat->bytes + done, c->bytes + off, len);
    done += len;
  });
  if (!writable) flat->flags &= static_cast<uint8_t>(~chunk_flag::writable);
  // A structural change only: the bytes are the same, nothing is flagged.
  Chunk *first, *last, *after;
  if (Error e = extract(false, first, last, after); e != Error::ok) {
    pool.free_chunk(flat);
    return e;
  }
  free_list(pool, first);
  link_before(after, flat);
  begin_ = Iterator(&pool, flat, 0, begin_.meter());
  if (use_length_) length_ = total;
  else end_ = Iterator(&pool, after, 0);
  p = flat->bytes;
  n = total;
  return Error::ok;
}

Error Sub::select(Buffer& out, Iterator& ref) {
  if (Error e = check(); e != Error::ok) return e;
  BufferPool& pool = *begin_.pool_;
  Buffer b;
  if (Error e = Buffer::create(pool, b); e != Error::ok) return e;
  Chunk* sel = pool.alloc_chunk();
  if (sel == nullptr) return Error::no_chunk;
  Chunk *first, *last, *after;
  if (Error e = extract(false, first, last, after); e != Error::ok) {
    pool.free_chunk(sel);
    return e;
  }
  if (first != nullptr) attach_before(b.end_, first, last);
  sel->kind = ChunkKind::select;
  sel->flags = after->flags & chunk_flag::writable;
  link_before(after, sel);
  ref = Iterator(&pool, sel, 0);
  out = std::move(b);
  return Error::ok;
}

Error Sub::clone(Buffer& out, bool copy) const {
  if (Error e = check(); e != Error::ok) return e;
  BufferPool& pool = *begin_.pool_;
  Buffer b;
  if (Error e = Buffer::create(pool, b); e != Error::ok) return e;
  Error err = Error::ok;
  Error e = walk([&](Chunk* c, uint32_t off, uint32_t len) {
    if (err != Error::ok || c->kind != ChunkKind::data || len == 0) return;
    if (copy) {
      for (uint32_t done = 0; done < len && err == Error::ok;) {
        uint32_t piece = std::min(len - done, pool.max_owned_bytes());
        uint64_t before = pool.counters().chunk_exhausted;
        Chunk* o = owned_chunk(pool, piece);
        if (o == nullptr) {
          err = alloc_error(pool, before);
          return;
        }
        std::memcpy(o->bytes, c->bytes + off + done, piece);
        link_before(b.end_, o);
        done += piece;
      }
    } else {
      Chunk* s = detail::share(pool, c, off, len);
      if (s == nullptr) {
        err = Error::no_chunk;
        return;
      }
      // Shared bytes: whichever side writes first copies them.
      c->flags &= static_cast<uint8_t>(~chunk_flag::exclusive);
      s->flags &= chunk_flag::writable;
      link_before(b.end_, s);
    }
  });
  if (e != Error::ok) return e;
  if (err != Error::ok) return err;
  out = std::move(b);
  return Error::ok;
}

} // namespace haka::vbuffer
