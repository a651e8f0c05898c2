// Stream: pushes at the end, pops of the oldest push (Haka's vbuffer_stream).
#include "vbuffer/stream.hpp"

namespace haka::vbuffer {

using detail::link_before;
using detail::splice_before;
using detail::unlink;

Error Stream::init(BufferPool& pool, bool read_only) {
  clear();
  if (Error e = Buffer::create(pool, data_); e != Error::ok) return e;
  writable_ = read_only ? 0 : chunk_flag::writable;
  // The first end is a left-over push marker (no record): removed by the
  // first pop that passes it, like every end that was overtaken by a push.
  data_.end_->kind = ChunkKind::push;
  data_.end_->flags = static_cast<uint8_t>(writable_ | chunk_flag::end);
  return Error::ok;
}

Error Stream::push(rte_mbuf* m, uint32_t off, uint32_t len, void* user, Iterator* current) {
  Chunk* old_end = data_.end_;
  if (old_end->has(chunk_flag::eof)) return Error::stream_finished;
  BufferPool& pool = *data_.pool_;
  Chunk* marker = pool.alloc_chunk();
  if (marker == nullptr) [[unlikely]] return Error::no_chunk;
  Chunk* head = old_end->next; // linking before the head = after the old end (circular list)
  Chunk* first = nullptr;
  while (len > 0) {
    while (m != nullptr && off >= m->data_len) {
      off -= m->data_len;
      m = m->next;
    }
    Chunk* c = m != nullptr ? pool.alloc_chunk() : nullptr;
    if (c == nullptr) [[unlikely]] {
      // Undo: free what was linked so far.
      for (Chunk* x = first; x != nullptr && x != head;) {
        Chunk* next = x->next;
        unlink(x);
        pool.free_chunk(x);
        x = next;
      }
      pool.free_chunk(marker);
      return m == nullptr ? Error::out_of_range : Error::no_chunk;
    }
    uint32_t piece = len < m->data_len - off ? len : m->data_len - off;
    c->kind = ChunkKind::data;
    c->mbuf = m;
    c->bytes = rte_pktmbuf_mtod_offset(m, uint8_t*, off);
    c->size = piece;
    c->flags = writable_;
    rte_mbuf_refcnt_update(m, 1);
    link_before(head, c);
    if (first == nullptr) first = c;
    len -= piece;
    off += piece;
  }
  return close_push(old_end, head, marker, first, user, current);
}

Error Stream::push(Buffer& buf, void* user, Iterator* current) {
  Chunk* old_end = data_.end_;
  if (old_end->has(chunk_flag::eof)) return Error::stream_finished;
  BufferPool& pool = *data_.pool_;
  Chunk* marker = pool.alloc_chunk();
  if (marker == nullptr) return Error::no_chunk;
  Chunk* head = old_end->next;
  Chunk* first = nullptr;
  if (buf.valid() && buf.end_->next != buf.end_) {
    first = buf.end_->next;
    if (writable_ == 0)
      for (Chunk* c = first; c != buf.end_; c = c->next) c->flags &= static_cast<uint8_t>(~chunk_flag::writable);
    splice_before(head, first, buf.end_->prev);
  }
  return close_push(old_end, head, marker, first, user, current);
}

// Ends a push: the new marker becomes the stream's end and the newest pending
// record; the old end stays in front of the new bytes (Haka's layout).
Error Stream::close_push(Chunk* old_end, Chunk* head, Chunk* marker, Chunk* first, void* user, Iterator* current) {
  marker->kind = ChunkKind::push;
  marker->flags = static_cast<uint8_t>((old_end->flags & chunk_flag::writable) | chunk_flag::end | chunk_flag::record);
  marker->user = user;
  link_before(head, marker);
  old_end->flags &= static_cast<uint8_t>(~(chunk_flag::end | chunk_flag::eof));
  data_.end_ = marker;
  if (push_tail_ != nullptr) push_tail_->next_push = marker;
  else push_head_ = marker;
  push_tail_ = marker;
  ++pending_;
  if (current != nullptr) *current = Iterator(data_.pool_, first != nullptr ? first : marker, 0);
  return Error::ok;
}

// Frees the kept (read-only) region from the front until the first mark:
// once no mark precedes them, kept bytes have no reader left.
void Stream::cleanup() {
  BufferPool& pool = *data_.pool_;
  Chunk* c = data_.end_->next;
  while (read_head_ != nullptr && c != data_.end_) {
    if (c->kind == ChunkKind::mark_ro || c->kind == ChunkKind::mark_rw || c->kind == ChunkKind::select) return;
    Chunk* next = c->next;
    if (c == read_head_) {
      read_head_ = c->next_push;
      if (read_head_ == nullptr) read_tail_ = nullptr;
    }
    unlink(c);
    pool.free_chunk(c);
    c = next;
  }
}

Error Stream::pop(Popped& out) {
  if (push_head_ == nullptr) return Error::nothing_to_pop;
  BufferPool& pool = *data_.pool_;
  if (read_head_ != nullptr) cleanup();
  Chunk* rec = push_head_;
  Chunk* begin = read_tail_ != nullptr ? read_tail_->next : data_.end_->next;
  bool keep = read_tail_ != nullptr;
  Chunk* keep_from = keep ? begin : nullptr;
  // The old end overtaken by a push (no record, no bytes) leaves the chain
  // here; its node becomes the popped bytes' sentinel rather than going back
  // to the pool while another is taken from it (in order, every pop has one).
  Chunk* spare = nullptr;
  auto fail = [&](Error e) {
    if (spare != nullptr) pool.free_chunk(spare);
    return e;
  };
  for (Chunk* c = begin; c != rec;) {
    if (c == data_.end_) [[unlikely]] return fail(Error::held_by_select); // record not in the chain
    switch (c->kind) {
    case ChunkKind::push:
      if (!c->has(chunk_flag::record) && spare == nullptr) {
        Chunk* next = c->next;
        next->flags |= c->flags & chunk_flag::modified;
        unlink(c);
        if (c == begin) begin = next;
        if (c == keep_from) keep_from = next;
        spare = c;
        c = next;
        continue;
      }
      break;
    case ChunkKind::select: return fail(Error::held_by_select);
    case ChunkKind::mark_rw: return fail(Error::held_by_mark);
    case ChunkKind::mark_ro:
      if (!keep) {
        keep = true;
        keep_from = c;
      }
      break;
    default: break;
    }
    c = c->next;
  }

  Chunk* s = spare;
  if (s != nullptr) {
    // As if freed and taken again: iterators that stood on the old end are
    // invalid, as they were when it was freed.
    const uint32_t gen = s->gen + 1;
    *s = Chunk{};
    s->gen = gen;
  } else {
    s = pool.alloc_chunk();
    if (s == nullptr) [[unlikely]] return Error::no_chunk;
  }
  s->kind = ChunkKind::sentinel;
  s->flags = static_cast<uint8_t>((rec->flags & (chunk_flag::writable | chunk_flag::modified)) | chunk_flag::end |
                                  chunk_flag::eof);
  s->prev = s->next = s;
  Buffer bytes(&pool, s);

  if (keep) {
    // Shared clones of what follows the read-only mark first (the only step
    // that can fail), then the bytes before it move out.
    for (Chunk* c = keep_from; c != rec; c = c->next) {
      if (c->kind != ChunkKind::data || c->size == 0) continue;
      Chunk* clone = detail::share(pool, c, 0, c->size);
      if (clone == nullptr) [[unlikely]] return Error::no_chunk; // `bytes` frees the clones made
      clone->flags &= static_cast<uint8_t>(~chunk_flag::exclusive);
      link_before(s, clone);
    }
    for (Chunk* c = keep_from; c != rec; c = c->next)
      if (c->kind == ChunkKind::data)
        c->flags &= static_cast<uint8_t>(~(chunk_flag::writable | chunk_flag::exclusive));
    if (begin != keep_from) splice_before(s->next, begin, keep_from->prev);
    push_head_ = rec->next_push;
    if (push_head_ == nullptr) push_tail_ = nullptr;
    rec->next_push = nullptr;
    if (read_tail_ != nullptr) read_tail_->next_push = rec;
    else read_head_ = rec;
    read_tail_ = rec;
  } else {
    if (begin != rec) splice_before(s, begin, rec->prev);
    push_head_ = rec->next_push;
    if (push_head_ == nullptr) push_tail_ = nullptr;
    if (rec != data_.end_) {
      // Its modified flag went to the popped bytes, not to the next push.
      unlink(rec);
      out.user = rec->user;
      pool.free_chunk(rec);
      out.bytes = std::move(bytes);
      --pending_;
      return Error::ok;
    }
    // The newest marker stays as the end, now a left-over without record.
    rec->flags &= static_cast<uint8_t>(~(chunk_flag::record | chunk_flag::modified));
  }
  out.user = rec->user;
  rec->user = nullptr;
  rec->next_push = nullptr;
  out.bytes = std::move(bytes);
  --pending_;
  return Error::ok;
}

void Stream::clear() {
  data_.release();
  push_head_ = push_tail_ = read_head_ = read_tail_ = nullptr;
  pending_ = 0;
}

} // namespace haka::vbuffer
