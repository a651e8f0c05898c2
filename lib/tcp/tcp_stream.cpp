#include "tcp/tcp_stream.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace haka::tcp {

namespace {

using vbuffer::Buffer;
using vbuffer::Chunk;
using vbuffer::Error;

struct OutcomeRow {
  const char* name;
  StreamVerdict verdict;
  const char* text;
};
constexpr OutcomeRow kRows[] = {
#define X(id, name, verdict, text) {name, StreamVerdict::verdict, text},
#include "tcp/stream_outcomes.def"
#undef X
};
static_assert(std::size(kRows) == stream_outcome_count);

constexpr const char* kPolicyNames[] = {"first", "last", "bsd", "linux", "windows"};
static_assert(std::size(kPolicyNames) == static_cast<std::size_t>(OverlapPolicy::count_));

// Do `len` bytes of two mbuf chains agree (a at aoff, b at boff)?
bool same_bytes(const rte_mbuf* a, uint32_t aoff, const rte_mbuf* b, uint32_t boff, uint32_t len) {
  uint8_t ba[256], bb[256];
  while (len > 0) {
    uint32_t n = std::min<uint32_t>(len, sizeof ba);
    auto pa = static_cast<const uint8_t*>(rte_pktmbuf_read(a, aoff, n, ba));
    auto pb = static_cast<const uint8_t*>(rte_pktmbuf_read(b, boff, n, bb));
    if (pa == nullptr || pb == nullptr || std::memcmp(pa, pb, n) != 0) return false;
    aoff += n;
    boff += n;
    len -= n;
  }
  return true;
}

// Do `len` bytes of an mbuf chain at `off` agree with the data bytes of the
// chunks from `first` up to `end` (exclusive), starting `skip` bytes in?
bool same_as_chunks(const rte_mbuf* m, uint32_t off, const Chunk* first, const Chunk* end, uint32_t skip,
                    uint32_t len) {
  uint8_t tmp[256];
  for (const Chunk* c = first; c != end && len > 0; c = c->next) {
    if (c->kind != vbuffer::ChunkKind::data) continue;
    if (skip >= c->size) {
      skip -= c->size;
      continue;
    }
    uint32_t avail = c->size - skip;
    const uint8_t* q = c->bytes + skip;
    skip = 0;
    while (avail > 0 && len > 0) {
      uint32_t n = std::min<uint32_t>({avail, len, static_cast<uint32_t>(sizeof tmp)});
      auto p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, n, tmp));
      if (p == nullptr || std::memcmp(p, q, n) != 0) return false;
      off += n;
      q += n;
      avail -= n;
      len -= n;
    }
  }
  return len == 0;
}

// Do `len` bytes of an mbuf chain at `off` agree with a buffer's bytes from `skip`?
bool same_as_buffer(const rte_mbuf* m, uint32_t off, const Buffer& b, uint32_t skip, uint32_t len) {
  return same_as_chunks(m, off, b.sentinel()->next, b.sentinel(), skip, len);
}

} // namespace

const char* overlap_policy_name(OverlapPolicy p) {
  auto i = static_cast<std::size_t>(p);
  return i < std::size(kPolicyNames) ? kPolicyNames[i] : "?";
}

bool parse_overlap_policy(std::string_view s, OverlapPolicy& out) {
  for (std::size_t i = 0; i < std::size(kPolicyNames); ++i)
    if (s == kPolicyNames[i]) {
      out = static_cast<OverlapPolicy>(i);
      return true;
    }
  return false;
}

StreamVerdict stream_verdict(StreamOutcome o) {
  auto i = static_cast<std::size_t>(o);
  return i < stream_outcome_count ? kRows[i].verdict : StreamVerdict::drop;
}
const char* stream_outcome_name(StreamOutcome o) {
  auto i = static_cast<std::size_t>(o);
  return i < stream_outcome_count ? kRows[i].name : "?";
}
const char* stream_outcome_meaning(StreamOutcome o) {
  auto i = static_cast<std::size_t>(o);
  return i < stream_outcome_count ? kRows[i].text : "?";
}

// ---------------------------------------------------------------- StreamPool

StreamPool::StreamPool(vbuffer::BufferPool& buffers, const StreamConfig& cfg) : buffers_(&buffers), cfg_(cfg) {
  const uint32_t n = std::max<uint32_t>(cfg.held_packets, 1);
  held_ = std::make_unique<HeldPacket[]>(n);
  for (uint32_t i = n; i-- > 0;) {
    held_[i].next_free = free_held_;
    free_held_ = &held_[i];
  }
  // Every queued piece belongs to a held packet, and one packet has at most
  // a few pieces: twice the packets is ample, and the per-flow cap bounds it.
  const uint32_t np = 2 * n;
  pieces_ = std::make_unique<Piece[]>(np);
  for (uint32_t i = np; i-- > 0;) {
    pieces_[i].next = free_pieces_;
    free_pieces_ = &pieces_[i];
  }
}

StreamPool::~StreamPool() = default;

HeldPacket* StreamPool::alloc_held() {
  HeldPacket* h = free_held_;
  if (h == nullptr) [[unlikely]]
    return nullptr;
  free_held_ = h->next_free;
  *h = HeldPacket{};
  if (++counters_.held_now > counters_.held_peak) counters_.held_peak = counters_.held_now;
  return h;
}

void StreamPool::free_held(HeldPacket* h) {
  h->m = nullptr;
  h->next_free = free_held_;
  free_held_ = h;
  --counters_.held_now;
}

StreamPool::Piece* StreamPool::alloc_piece() {
  Piece* p = free_pieces_;
  if (p == nullptr) [[unlikely]]
    return nullptr;
  free_pieces_ = p->next;
  *p = Piece{};
  return p;
}

void StreamPool::free_piece(Piece* p) {
  p->owner = nullptr;
  p->next = free_pieces_;
  free_pieces_ = p;
}

void StreamPool::add_dropped(rte_mbuf* m) {
  // One receive() replaces at most the per-flow queue (max_queued_segments,
  // a 16-bit setting bounded below the array at configuration time).
  dropped_[n_dropped_ < dropped_.size() ? n_dropped_++ : dropped_.size() - 1] = m;
}

// ----------------------------------------------------------------- TcpStream

Error TcpStream::init(StreamPool& pool, Seq start, bool lazy) {
  stream_.clear();
  pool_ = &pool;
  finished_ = 0;
  if (!lazy)
    if (Error e = stream_.init(pool.buffers(), pool.config().read_only); e != Error::ok) return e;
  next_ = released_ = kept_seq_ = start;
  kept_head_ = kept_tail_ = nullptr;
  kept_bytes_ = kept_chunks_ = queued_bytes_ = held_bytes_ = 0;
  queued_pieces_ = 0;
  queue_ = nullptr;
  started_ = 1;
  return Error::ok;
}

// The vbuffer stream of a lazily started direction, made at its first push.
bool TcpStream::open_stream() {
  if (stream_.valid()) [[likely]]
    return true;
  if (stream_.init(pool_->buffers(), pool_->config().read_only) != Error::ok) return false;
  if (finished_) stream_.finish();
  return true;
}

void TcpStream::receive(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len, Seq receiver_acked,
                        bool modified, Seq out_begin, Seq out_end, Arrival& a) {
  StreamCounters& k = pool.counters();
  const StreamConfig& cfg = pool.config();
  auto done = [&](StreamOutcome o) {
    a.outcome = o;
    k.add(o);
  };
  const Seq end = seq + len;
  bool trimmed = false;
  if (end <= next_) // every byte was shown to the rules already (a FIN does not change that)
    return done(check_old(pool, m, seq, off, len, receiver_acked, modified, out_begin, out_end, a.normalised));
  if (finished_) return done(StreamOutcome::finished);
  if (!open_stream()) [[unlikely]]
    return done(StreamOutcome::worker_full);
  if (seq < next_) {
    // New bytes after old ones: the old part loses to what was inspected
    // (compared for the counters only), the rest goes on as new data.
    const uint32_t cut = static_cast<uint32_t>(next_ - seq);
    ++(released_ <= seq && same_bytes_in_stream(m, off, seq, cut) ? k.overlap_same : k.overlap_old_won);
    seq = next_;
    off += cut;
    len -= cut;
    trimmed = true;
  }

  if (seq == next_ && queue_ == nullptr) [[likely]] {
    if (held_bytes_ + len > cfg.max_held_bytes) return done(StreamOutcome::held_bytes_full);
    HeldPacket* h = pool.alloc_held();
    if (h == nullptr) return done(StreamOutcome::worker_full);
    h->m = m;
    h->first = h->seq = seq;
    h->own_len = h->len = len;
    h->payload_off = off;
    h->pushed = 1;
    if (stream_.push(m, off, len, h, &a.first_new) != Error::ok) [[unlikely]] {
      pool.free_held(h);
      return done(StreamOutcome::worker_full);
    }
    next_ += len;
    held_bytes_ += len;
    a.new_bytes = len;
    return done(trimmed ? StreamOutcome::trimmed_old : StreamOutcome::in_order);
  }

  if (seq == next_ && held_bytes_ + len > cfg.max_held_bytes) return done(StreamOutcome::held_bytes_full);
  bool took = false;
  StreamOutcome q = queue_segment(pool, m, seq, off, len, &took);
  if (!took) return done(q);
  if (queue_ != nullptr && queue_->seq == next_) {
    if (!deliver(pool, &a.first_new, &a.new_bytes)) k.add(StreamOutcome::worker_full);
    return done(trimmed ? StreamOutcome::trimmed_old : StreamOutcome::delivered_with_queue);
  }
  return done(trimmed ? StreamOutcome::trimmed_old : StreamOutcome::queued);
}

// Are the bytes [seq, seq+n) of the stream still held (not released) equal to m's?
bool TcpStream::same_bytes_in_stream(const rte_mbuf* m, uint32_t off, Seq seq, uint32_t n) const {
  // Bytes still in the stream are the chain from the first data chunk; the
  // first held byte is released_. Marks and markers have no bytes.
  if (!stream_.valid()) return false; // (lazy and never pushed: nothing is held)
  const uint32_t skip = static_cast<uint32_t>(seq - released_);
  return same_as_buffer(m, off, stream_.data(), skip, n);
}

StreamOutcome TcpStream::check_old(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len,
                                   Seq receiver_acked, bool modified, Seq out, Seq out_end, Buffer& normalised) {
  StreamCounters& k = pool.counters();
  const Seq end = seq + len;
  if (len == 0) return StreamOutcome::retrans_acked;
  if (end > released_) {
    // Part of it is still held for the rules: the held original leaves later.
    ++(seq >= released_ && same_bytes_in_stream(m, off, seq, len) ? k.overlap_same : k.overlap_old_won);
    return StreamOutcome::retrans_held;
  }
  // receiver_acked is in original space (the tracker's, translated back).
  if (end <= receiver_acked) return StreamOutcome::retrans_acked;
  // The part the receiver may still need must be in kept_ (output space).
  // Modified: acked bytes are those kept_ was trimmed of (acks trim it).
  const Seq need = !modified ? seq_max(out, receiver_acked)
                             : (seq < receiver_acked ? seq_max(out, kept_seq_) : out);
  if (kept_bytes_ == 0 || need < kept_seq_ || out_end > kept_seq_ + kept_bytes_)
    return StreamOutcome::retrans_unverifiable;
  const uint32_t skip = static_cast<uint32_t>(need - kept_seq_);
  const uint32_t head = static_cast<uint32_t>(need - out); // bytes before `need`: acknowledged, harmless
  const uint32_t tail = static_cast<uint32_t>(out_end - need);
  if (!modified && same_as_kept(m, off + head, skip, tail)) {
    ++k.overlap_same;
    return StreamOutcome::retrans_same;
  }
  ++k.overlap_old_won;
  if (!modified && pool.config().on_conflict == ConflictAction::drop) return StreamOutcome::retrans_conflict_dropped;
  // The bytes inspected: the segment's own acknowledged head (the receiver
  // discards it anyway), then the kept bytes.
  Buffer own, kept;
  if (head != 0 && Buffer::from_mbuf(pool.buffers(), m, off, head, own) != Error::ok)
    return StreamOutcome::worker_full;
  if (!own.valid() && Buffer::create(pool.buffers(), own) != Error::ok) return StreamOutcome::worker_full;
  if (clone_kept(pool.buffers(), skip, tail, kept) != Error::ok || own.append(kept) != Error::ok)
    return StreamOutcome::worker_full;
  normalised = std::move(own);
  return modified ? StreamOutcome::retrans_reemitted : StreamOutcome::retrans_normalised;
}

StreamOutcome TcpStream::queue_segment(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len,
                                       bool* took) {
  using Piece = StreamPool::Piece;
  StreamCounters& k = pool.counters();
  const StreamConfig& cfg = pool.config();
  *took = false;
  // A segment at the next expected byte drains the queue: never refused by
  // the queue's caps (only the held-bytes cap, checked by the caller).
  const bool fills = seq == next_;
  if (!fills && queued_pieces_ >= cfg.max_queued_segments) return StreamOutcome::queue_full;
  if (!fills && queued_bytes_ + len > cfg.max_queued_bytes) return StreamOutcome::queue_bytes_full;
  HeldPacket* h = pool.alloc_held();
  if (h == nullptr) return StreamOutcome::worker_full;
  h->m = m;
  h->first = seq;
  h->own_len = len;
  h->payload_off = off;
  const Seq ns = seq, ne = seq + len;

  // Pass 1: queued bytes the new copy wins are cut out of their pieces.
  Piece** link = &queue_;
  for (Piece* p = queue_; p != nullptr;) {
    const Seq ps = p->seq, pe = p->seq + p->len;
    if (pe <= ns) {
      link = &p->next;
      p = p->next;
      continue;
    }
    if (ps >= ne) break;
    const Seq os = seq_max(ps, ns), oe = seq_min(pe, ne);
    const uint32_t olen = static_cast<uint32_t>(oe - os);
    const bool same = same_bytes(m, off + static_cast<uint32_t>(os - ns), p->owner->m,
                                 p->off + static_cast<uint32_t>(os - ps), olen);
    const HeldPacket* o = p->owner;
    if (same || !new_copy_wins(cfg.policy, ns, ne, o->first, o->first + o->own_len)) {
      ++(same ? k.overlap_same : k.overlap_old_won);
      link = &p->next;
      p = p->next;
      continue;
    }
    ++k.overlap_new_won;
    const bool left = ps < ns, right = pe > ne;
    if (left && right) {
      Piece* r = pool.alloc_piece();
      if (r == nullptr) { // keep the old copy rather than fail half-way
        ++k.overlap_old_won;
        link = &p->next;
        p = p->next;
        continue;
      }
      *r = Piece{p->next, p->owner, ne, static_cast<uint32_t>(pe - ne), p->off + static_cast<uint32_t>(ne - ps)};
      ++p->owner->pieces;
      ++queued_pieces_;
      p->len = static_cast<uint32_t>(ns - ps);
      p->next = r;
      queued_bytes_ -= olen;
      link = &r->next;
      p = r->next;
      continue;
    }
    queued_bytes_ -= olen;
    if (left) {
      p->len = static_cast<uint32_t>(ns - ps);
      link = &p->next;
      p = p->next;
      continue;
    }
    if (right) {
      p->off += static_cast<uint32_t>(ne - ps);
      p->len = static_cast<uint32_t>(pe - ne);
      p->seq = ne;
      link = &p->next;
      p = p->next;
      continue;
    }
    // Wholly replaced.
    Piece* next = p->next;
    *link = next;
    HeldPacket* owner = p->owner;
    pool.free_piece(p);
    --queued_pieces_;
    if (--owner->pieces == 0) {
      ++k.replaced_packets;
      pool.add_dropped(owner->m);
      pool.free_held(owner);
    }
    p = next;
  }

  // Pass 2: the new copy fills what is left of its range.
  Seq cursor = ns;
  link = &queue_;
  Piece* p = queue_;
  while (cursor < ne) {
    while (p != nullptr && p->seq + p->len <= cursor) {
      link = &p->next;
      p = p->next;
    }
    const Seq stop = p != nullptr ? seq_min(p->seq, ne) : ne;
    if (stop > cursor) {
      Piece* n = pool.alloc_piece();
      if (n == nullptr) break; // the rest stays unqueued: the sender retransmits it
      *n = Piece{p, h, cursor, static_cast<uint32_t>(stop - cursor), off + static_cast<uint32_t>(cursor - ns)};
      *link = n;
      link = &n->next;
      ++h->pieces;
      ++queued_pieces_;
      queued_bytes_ += n->len;
      cursor = stop;
      continue;
    }
    if (p == nullptr) break;
    cursor = p->seq + p->len;
  }
  if (h->pieces == 0) {
    pool.free_held(h);
    return StreamOutcome::duplicate;
  }
  *took = true;
  return StreamOutcome::queued;
}

bool TcpStream::deliver(StreamPool& pool, vbuffer::Iterator* first, uint32_t* delivered) {
  using Piece = StreamPool::Piece;
  vbuffer::BufferPool& bp = pool.buffers();
  const Seq begin = next_;
  Seq push_start = next_;
  Buffer acc;
  bool first_set = false, ok = true;
  while (queue_ != nullptr && queue_->seq == next_) {
    Piece* p = queue_;
    if (!acc.valid() && Buffer::create(bp, acc) != Error::ok) {
      ok = false;
      break;
    }
    Buffer b;
    if (Buffer::from_mbuf(bp, p->owner->m, p->off, p->len, b) != Error::ok || acc.append(b) != Error::ok) {
      ok = false;
      break;
    }
    queue_ = p->next;
    next_ += p->len;
    queued_bytes_ -= p->len;
    --queued_pieces_;
    HeldPacket* h = p->owner;
    pool.free_piece(p);
    if (--h->pieces != 0) continue;
    // The owner's last piece: everything gathered since the last push
    // leaves with it.
    h->seq = push_start;
    h->len = static_cast<uint32_t>(next_ - push_start);
    h->pushed = 1;
    vbuffer::Iterator it;
    if (stream_.push(acc, h, &it) != Error::ok) {
      // Out of chunk nodes: the packet is dropped (the sender retransmits,
      // but these bytes count as delivered: counted by the caller).
      pool.add_dropped(h->m);
      pool.free_held(h);
      ok = false;
    } else {
      held_bytes_ += h->len;
      if (!first_set) {
        *first = it;
        first_set = true;
      }
    }
    push_start = next_;
    acc = Buffer{};
  }
  *delivered = static_cast<uint32_t>(next_ - begin);
  return ok;
}

bool TcpStream::pass_in_order(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len, Seq out_seq) {
  if (seq != next_ || queue_ != nullptr || stream_.pending() != 0 || finished_ || len == 0) return false;
  next_ += len;
  released_ = next_;
  pool.counters().add(StreamOutcome::in_order);
  keep_payload(pool, m, off, len, out_seq);
  return true;
}

void TcpStream::keep_payload(StreamPool& pool, rte_mbuf* m, uint32_t off, uint32_t len, Seq out_seq) {
  const StreamConfig& cfg = pool.config();
  if (cfg.max_kept_bytes == 0) return;
  if (kept_bytes_ == 0 || out_seq != kept_seq_ + kept_bytes_) {
    trim_kept(kept_bytes_);
    kept_seq_ = out_seq;
  }
  StreamCounters& k = pool.counters();
  if (k.kept_chunks_now + 1 > cfg.max_kept_chunks) {
    ++k.kept_refused_worker;
    trim_kept(kept_bytes_);
    kept_seq_ = out_seq + len;
    return;
  }
  // One chunk per mbuf segment the payload touches (one, nearly always).
  vbuffer::BufferPool& bp = pool.buffers();
  uint32_t left = len;
  while (left > 0) {
    while (m != nullptr && off >= m->data_len) {
      off -= m->data_len;
      m = m->next;
    }
    Chunk* c = m != nullptr ? bp.alloc_chunk() : nullptr;
    if (c == nullptr) {
      // Out of nodes: what was kept so far stays consistent (the rest is not kept).
      trim_kept(kept_bytes_);
      kept_seq_ = out_seq + len;
      return;
    }
    const uint32_t piece = std::min(left, m->data_len - off);
    c->kind = vbuffer::ChunkKind::data;
    c->mbuf = m;
    c->bytes = rte_pktmbuf_mtod_offset(m, uint8_t*, off);
    c->size = piece;
    c->flags = 0; // kept bytes are never written
    rte_mbuf_refcnt_update(m, 1);
    append_kept(c, c);
    kept_bytes_ += piece;
    ++kept_chunks_;
    ++k.kept_chunks_now;
    left -= piece;
    off += piece;
  }
  if (kept_bytes_ > cfg.max_kept_bytes) {
    k.kept_trimmed_cap += kept_bytes_ - cfg.max_kept_bytes;
    trim_kept(kept_bytes_ - cfg.max_kept_bytes);
  }
}

bool TcpStream::hold_empty(StreamPool& pool, rte_mbuf* m) {
  if (!open_stream()) return false;
  HeldPacket* h = pool.alloc_held();
  if (h == nullptr) return false;
  h->m = m;
  h->first = h->seq = next_;
  h->pushed = 1;
  if (stream_.push(m, 0, 0, h) != Error::ok) {
    pool.free_held(h);
    return false;
  }
  return true;
}

bool TcpStream::release(StreamPool&, Released& out) {
  if (!stream_.valid() || stream_.pending() == 0) return false;
  vbuffer::Popped p;
  if (stream_.pop(p) != Error::ok) return false;
  auto* h = static_cast<HeldPacket*>(p.user);
  if (h != nullptr) {
    held_bytes_ -= h->len;
    released_ = h->seq + h->len;
  }
  out.held = h;
  out.bytes = std::move(p.bytes);
  return true;
}

void TcpStream::append_kept(Chunk* first, Chunk* last) {
  first->prev = nullptr;
  last->next = nullptr;
  if (kept_tail_ != nullptr) kept_tail_->next = first;
  else kept_head_ = first;
  kept_tail_ = last;
}

void TcpStream::trim_kept(uint32_t n) {
  n = std::min(n, kept_bytes_);
  kept_seq_ += n;
  kept_bytes_ -= n;
  while (kept_head_ != nullptr && (n > 0 || kept_head_->size == 0)) {
    Chunk* c = kept_head_;
    if (c->size <= n) {
      n -= c->size;
      kept_head_ = c->next;
      if (kept_head_ == nullptr) kept_tail_ = nullptr;
      pool_->buffers().free_chunk(c);
      --kept_chunks_;
      --pool_->counters().kept_chunks_now;
      continue;
    }
    c->bytes += n;
    c->size -= n;
    n = 0;
  }
}

bool TcpStream::same_as_kept(const rte_mbuf* m, uint32_t off, uint32_t skip, uint32_t len) const {
  return same_as_chunks(m, off, kept_head_, nullptr, skip, len);
}

// A shared (copy-on-write) clone of `len` kept bytes from `skip`, as
// Sub::clone makes one.
Error TcpStream::clone_kept(vbuffer::BufferPool& bp, uint32_t skip, uint32_t len, Buffer& out) {
  Buffer b;
  if (Error e = Buffer::create(bp, b); e != Error::ok) return e;
  for (Chunk* c = kept_head_; c != nullptr && len > 0; c = c->next) {
    if (c->kind != vbuffer::ChunkKind::data) continue;
    if (skip >= c->size) {
      skip -= c->size;
      continue;
    }
    const uint32_t take = std::min(len, c->size - skip);
    Chunk* s = vbuffer::detail::share(bp, c, skip, take);
    if (s == nullptr) return Error::no_chunk; // `b` frees the clones made
    c->flags &= static_cast<uint8_t>(~vbuffer::chunk_flag::exclusive);
    s->flags &= vbuffer::chunk_flag::writable;
    vbuffer::detail::link_before(b.sentinel(), s);
    skip = 0;
    len -= take;
  }
  if (len != 0) return Error::out_of_range;
  out = std::move(b);
  return Error::ok;
}

void TcpStream::keep(StreamPool& pool, Buffer& bytes, Seq out_seq) {
  uint32_t n = 0, chunks = 0;
  for (const Chunk* c = bytes.sentinel()->next; c != bytes.sentinel(); c = c->next) {
    n += c->size;
    ++chunks;
  }
  keep(pool, bytes, out_seq, n, chunks);
}

void TcpStream::keep(StreamPool& pool, Buffer& bytes, Seq out_seq, uint32_t n, uint32_t chunks) {
  const uint32_t max = pool.config().max_kept_bytes;
  if (max == 0) n = 0;
  if (n == 0) {
    bytes.release();
    return;
  }
  if (kept_bytes_ == 0 || out_seq != kept_seq_ + kept_bytes_) {
    // Nothing kept, or a gap (bytes that left without being kept): start over here.
    trim_kept(kept_bytes_);
    kept_seq_ = out_seq;
  }
  StreamCounters& k = pool.counters();
  if (k.kept_chunks_now + chunks > pool.config().max_kept_chunks) {
    // The worker's budget is spent: this direction keeps nothing for now
    // (its retransmissions of these bytes will be unverifiable).
    ++k.kept_refused_worker;
    trim_kept(kept_bytes_);
    kept_seq_ = out_seq + n;
    bytes.release();
    return;
  }
  // The popped chunks move over as they are (no node made or freed).
  Chunk* s = bytes.sentinel();
  Chunk* first = s->next;
  Chunk* last = s->prev;
  s->next = s->prev = s;
  append_kept(first, last);
  bytes.release();
  kept_bytes_ += n;
  kept_chunks_ += chunks;
  k.kept_chunks_now += chunks;
  if (kept_bytes_ > max) {
    k.kept_trimmed_cap += kept_bytes_ - max;
    trim_kept(kept_bytes_ - max);
  }
}

void TcpStream::acked(Seq ack) {
  if (kept_bytes_ == 0 || ack <= kept_seq_) return;
  const uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(ack - kept_seq_), kept_bytes_);
  trim_kept(n);
}

} // namespace haka::tcp
