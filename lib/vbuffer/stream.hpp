// One direction's byte stream (Haka's vbuffer_stream): packets' payloads are
// pushed at the end, read and edited in place, and popped from the front, one
// push at a time, as the bytes to emit for that packet.
#pragma once

#include <cstdint>

#include "vbuffer/vbuffer.hpp"

namespace haka::vbuffer {

/// What pop() hands back for one push: the bytes to emit (with every edit made
/// in that push's region) and the value given to push().
struct Popped {
  Buffer bytes;
  void* user = nullptr;
};

/// A stream of pushes. The chain's end sentinel is always the newest push
/// marker, so an iterator that stood at the end before a push stands before
/// the new bytes after it. The bytes of push k are the chunks between marker
/// k-1 and marker k.
class Stream {
public:
  Stream() = default;
  explicit Stream(BufferPool& pool) { (void)init(pool); }
  ~Stream() { clear(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Allocates the first end sentinel (no_chunk if the slab is empty). A
  /// read-only stream (pass-through: captured bytes cannot be changed) has
  /// every pushed chunk and marker non-writable: edits fail with read_only.
  Error init(BufferPool& pool, bool read_only = false);
  bool valid() const { return data_.valid(); }

  /// Appends `len` payload bytes of `m` from `off` (zero-copy, one reference
  /// per segment touched) with a new push marker carrying `user`. `current`
  /// (optional) gets an iterator at the first new byte, or at the marker when
  /// len is 0. Fails with stream_finished after finish().
  Error push(rte_mbuf* m, uint32_t off, uint32_t len, void* user, Iterator* current = nullptr);
  /// Same, with a prepared buffer (moved in; left empty).
  Error push(Buffer& buf, void* user, Iterator* current = nullptr);

  /// Takes the oldest push, all or nothing: nothing_to_pop, held_by_mark (a
  /// read/write mark before its marker) or held_by_select. With a read-only
  /// mark before its marker, the bytes from the mark on are handed out as
  /// shared clones and stay in the stream, read-only, until no mark precedes
  /// them.
  Error pop(Popped& out);

  /// No more pushes; iterators reaching the end then see eof.
  void finish() { data_.end_->flags |= chunk_flag::eof; }
  bool is_finished() const { return data_.end_->has(chunk_flag::eof); }
  /// Pushes not yet popped.
  uint32_t pending() const { return pending_; }
  /// Calls f(user) for every push not yet popped, oldest first (so that an
  /// owner can free what the users stand for before clear()).
  template <class F> void for_each_pending(F&& f) const {
    for (const Chunk* r = push_head_; r != nullptr; r = r->next_push) f(r->user);
  }
  /// The chain (for iterators and subs).
  Buffer& data() { return data_; }
  const Buffer& data() const { return data_; }
  /// Frees every chunk and record (the users' values are not touched); the
  /// stream can be init()'ed again.
  void clear();

private:
  Error close_push(Chunk* old_end, Chunk* head, Chunk* marker, Chunk* first, void* user, Iterator* current);
  void cleanup();

  Buffer data_;
  Chunk* push_head_ = nullptr; // oldest pending record
  Chunk* push_tail_ = nullptr;
  Chunk* read_head_ = nullptr; // popped records whose bytes stay for a read-only mark
  Chunk* read_tail_ = nullptr;
  uint32_t pending_ = 0;
  uint8_t writable_ = chunk_flag::writable; // 0 for a read-only stream
};

} // namespace haka::vbuffer
