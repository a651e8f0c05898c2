// One direction's TCP byte stream: reassembly by sequence number into a
// vbuffer stream, with a bounded out-of-order queue, overlap resolution by
// policy, retransmission checks against what was inspected, and the release
// of held packets in order.
//
// Model (HAKA_SEMANTICS.md §2, with our decisions on §7):
//  * Bytes [start, next) were delivered to the rules, in order, once. Bytes
//    [released, next) are still in the vbuffer stream (held, e.g. by a mark);
//    [start, released) left, and the part the receiver has not acknowledged
//    is kept (`kept`, output space) to check retransmissions against.
//  * A segment's bytes at or after `next` either extend the stream (then the
//    packet is pushed, zero-copy, and leaves when popped) or wait in the
//    out-of-order queue. The queue holds non-overlapping pieces: where a new
//    segment overlaps queued bytes, the overlap policy picks one copy and
//    the other is cut away, so exactly one version of every byte is ever
//    delivered, and only that version leaves (a packet that lost bytes is
//    rebuilt or trimmed on output).
//  * Bytes before `next` were already shown to the rules: that version wins
//    whatever the policy (it is what the rules judged). A retransmission is
//    compared with it and forwarded, normalised or dropped.
//  * Each push carries a HeldPacket: the packet that leaves when that push is
//    popped, with the original sequence range of the bytes pushed for it.
//    The bytes popped are what it must carry (after any edit by the rules).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <rte_mbuf.h>

#include "tcp/seq.hpp"
#include "vbuffer/stream.hpp"
#include "vbuffer/vbuffer.hpp"

namespace haka::tcp {

/// Which copy of bytes sent twice (overlapping out-of-order segments) is
/// delivered. Target-based policies follow Novak and Sturges, "Target-Based
/// TCP Stream Reassembly" (2007), as Snort and Suricata use them.
enum class OverlapPolicy : uint8_t {
  first,   // the copy that arrived first
  last,    // the copy that arrived last
  bsd,     // the first, unless the new segment starts before the old one
  linux,   // as bsd, and also the new one when both start together and the new one ends later
  windows, // the first (Windows keeps the original data)
  count_
};

/// The configuration name of a policy ("first", ...).
const char* overlap_policy_name(OverlapPolicy p);
/// Parses a policy name; false if unknown.
bool parse_overlap_policy(std::string_view s, OverlapPolicy& out);

/// Does a new segment [ns, ne) win the bytes it shares with an older queued
/// segment [os, oe) under `p`?
constexpr bool new_copy_wins(OverlapPolicy p, Seq ns, Seq ne, Seq os, Seq oe) {
  switch (p) {
  case OverlapPolicy::last: return true;
  case OverlapPolicy::bsd: return ns < os;
  case OverlapPolicy::linux: return ns < os || (ns == os && ne > oe);
  case OverlapPolicy::first:
  case OverlapPolicy::windows:
  case OverlapPolicy::count_: break;
  }
  return false;
}

/// What to do with a retransmission whose bytes differ from what was inspected.
enum class ConflictAction : uint8_t { normalise, drop };

/// Outcome of TcpStream::receive (stream_outcomes.def).
enum class StreamOutcome : uint8_t {
#define X(id, name, verdict, text) id,
#include "tcp/stream_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t stream_outcome_count = static_cast<std::size_t>(StreamOutcome::count_);

/// What becomes of the segment, by outcome (the verdict column).
enum class StreamVerdict : uint8_t { held, forward, rebuild, drop };
StreamVerdict stream_verdict(StreamOutcome o);
const char* stream_outcome_name(StreamOutcome o);
const char* stream_outcome_meaning(StreamOutcome o);

/// Reassembly settings, one per worker.
struct StreamConfig {
  OverlapPolicy policy = OverlapPolicy::bsd;
  ConflictAction on_conflict = ConflictAction::normalise;
  uint16_t max_queued_segments = 512;     // out-of-order pieces per direction (one loss on a fast flow queues a window)
  uint32_t max_queued_bytes = 1u << 20;   // out-of-order bytes per direction
  uint32_t max_held_bytes = 1u << 20;     // bytes held in the stream (marks) per direction
  uint32_t max_kept_bytes = 1u << 20;     // forwarded, unacknowledged bytes kept per direction for retransmission checks
  uint32_t held_packets = 1u << 16;       // packets held per worker (queued or in streams)
  uint32_t max_kept_chunks = 1u << 16;    // kept chunks per worker (each pins an mbuf): past it, a direction keeps nothing
  bool read_only = false;                 // pass-through: rules cannot edit the bytes (Haka: "read only buffer")
};

/// Per-worker counts of the reassembler.
struct StreamCounters {
  std::array<uint64_t, stream_outcome_count> outcomes{};
  uint64_t bytes_delivered[2] = {0, 0}; // by direction (0 up, 1 down): bytes given to the rules
  uint64_t overlap_same = 0;       // overlapping copies with identical bytes
  uint64_t overlap_new_won = 0;    // conflicting copies, the new one delivered (policy)
  uint64_t overlap_old_won = 0;    // conflicting copies, the old one delivered (policy, or already inspected)
  uint64_t replaced_packets = 0;   // queued packets whose every byte a newer copy won: dropped
  uint64_t kept_trimmed_cap = 0;   // kept bytes given up at the per-direction cap
  uint64_t kept_refused_worker = 0; // released packets not kept: the worker's kept-chunk budget was spent
  uint64_t kept_chunks_now = 0;
  uint64_t held_now = 0;           // packets held right now (queued or in streams)
  uint64_t held_peak = 0;
  void add(StreamOutcome o) { ++outcomes[static_cast<std::size_t>(o)]; }
  uint64_t outcome(StreamOutcome o) const { return outcomes[static_cast<std::size_t>(o)]; }
};

/// A packet a stream holds: queued out of order, or pushed and not yet
/// released. `seq`/`len` are the original sequence range of the bytes pushed
/// for it (set when it is pushed).
struct HeldPacket {
  rte_mbuf* m = nullptr;
  HeldPacket* next_free = nullptr;
  Seq first;           // its own payload's first sequence number
  uint32_t own_len = 0; // its own payload length
  Seq seq;             // bytes pushed for it: first sequence number ...
  uint32_t len = 0;    // ... and count
  uint32_t payload_off = 0; // offset of its payload in the mbuf
  uint16_t pieces = 0; // queued pieces it still owns
  uint8_t pushed = 0;  // pushed into the stream (pieces == 0 then)
  uint8_t flags = 0;   // caller's bits (e.g. the engine's packet kind)
};

/// Per-worker memory of the reassembler: the vbuffer pool, held-packet
/// records and queue pieces, all allocated once. Not thread-safe.
class StreamPool {
public:
  StreamPool(vbuffer::BufferPool& buffers, const StreamConfig& cfg);
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  vbuffer::BufferPool& buffers() { return *buffers_; }
  const StreamConfig& config() const { return cfg_; }
  StreamCounters& counters() { return counters_; }
  const StreamCounters& counters() const { return counters_; }

  /// One queued byte range of a held packet's payload.
  struct Piece {
    Piece* next;
    HeldPacket* owner;
    Seq seq;
    uint32_t len;
    uint32_t off; // offset in owner->m of the byte at seq
  };

  HeldPacket* alloc_held();
  void free_held(HeldPacket* h);
  /// Packets a receive() call gave up (queued packets whose every byte a
  /// newer copy won): the caller drops and counts them, then calls clear_dropped().
  std::span<rte_mbuf* const> dropped() const { return {dropped_.data(), n_dropped_}; }
  void clear_dropped() { n_dropped_ = 0; }
  void add_dropped(rte_mbuf* m);
  Piece* alloc_piece();
  void free_piece(Piece* p);

private:
  vbuffer::BufferPool* buffers_;
  StreamConfig cfg_;
  std::unique_ptr<HeldPacket[]> held_;
  HeldPacket* free_held_ = nullptr;
  std::unique_ptr<Piece[]> pieces_;
  Piece* free_pieces_ = nullptr;
  StreamCounters counters_;
  std::array<rte_mbuf*, 512> dropped_{};
  std::size_t n_dropped_ = 0;
};

/// A packet released by a stream: the bytes it must now carry.
struct Released {
  HeldPacket* held = nullptr; // give back with StreamPool::free_held once emitted
  vbuffer::Buffer bytes;      // the bytes popped for it (edits included)
};

/// The result of TcpStream::receive.
struct Arrival {
  StreamOutcome outcome = StreamOutcome::in_order;
  uint32_t new_bytes = 0;        // bytes newly delivered in order (to the rules)
  vbuffer::Iterator first_new;   // at the first of them (valid when new_bytes > 0)
  vbuffer::Buffer normalised;    // rebuild: the bytes the segment must carry instead of its own
};

/// One direction of a connection's reassembly. Default-constructed = not
/// started; init() starts it at the first byte after the SYN.
class TcpStream {
public:
  TcpStream() = default;
  ~TcpStream() = default; // clear() must have run (the engine calls it; it frees packets)
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  /// Starts the stream: `start` = ISN + 1 (sequence number of the first byte).
  /// With `lazy`, the vbuffer stream (its end marker, a chunk node) is made
  /// only when something is first pushed: for a stage where no one reads
  /// the bytes (pass_in_order), whose streams then hold no node at all
  /// between segments; stream() must then not be given to readers.
  vbuffer::Error init(StreamPool& pool, Seq start, bool lazy = false);
  bool started() const { return started_ != 0; }

  /// A segment's payload (`len` bytes at `payload_off` in `m`, sequence
  /// number `seq`); `receiver_acked` = the highest ACK the receiver sent
  /// (original space: translated back), `modified` = this direction's bytes were edited before
  /// (retransmissions are then re-emitted, not compared). On `held` the
  /// stream owns `m`; otherwise the caller still does and follows the
  /// verdict.
  /// [out_begin, out_end) is where the segment's range lies in output
  /// space (equal to [seq, seq+len) while the direction was never modified).
  /// The result goes to `out` (a default-constructed Arrival): outcome and
  /// new_bytes always, first_new when new_bytes > 0, normalised only on a
  /// rebuild outcome (a retransmission), so that the in-order path builds and
  /// moves nothing.
  void receive(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t payload_off, uint32_t len, Seq receiver_acked,
               bool modified, Seq out_begin, Seq out_end, Arrival& out);
  /// Same, returning the result.
  Arrival receive(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t payload_off, uint32_t len, Seq receiver_acked,
                  bool modified, Seq out_begin, Seq out_end) {
    Arrival a;
    receive(pool, m, seq, payload_off, len, receiver_acked, modified, out_begin, out_end, a);
    return a;
  }
  /// In-order payload no one reads (no listener) while nothing is held or
  /// queued: the stream moves past it without pushing (the packet leaves at
  /// once, unchanged) and keeps its bytes, at `out_seq` in output space, for
  /// retransmission checks. False (nothing changed) when that does not apply.
  bool pass_in_order(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len, Seq out_seq);
  /// A packet without payload behind held ones: pushed empty so it leaves in
  /// order. Only call when pending() != 0. False (caller keeps m) when the
  /// worker's records are exhausted.
  bool hold_empty(StreamPool& pool, rte_mbuf* m);

  /// Pops the oldest push if nothing holds it.
  bool release(StreamPool& pool, Released& out);
  /// After a released packet left: keep its bytes (output space, starting at
  /// `out_seq`) for retransmission checks until acknowledged.
  void keep(StreamPool& pool, vbuffer::Buffer& bytes, Seq out_seq);
  /// Same, when the caller already counted the bytes (`n`, the sum of the
  /// chunks' sizes) and chunk nodes (`chunks`) of `bytes`.
  void keep(StreamPool& pool, vbuffer::Buffer& bytes, Seq out_seq, uint32_t n, uint32_t chunks);
  /// The receiver acknowledged up to `ack` (output space): forget kept bytes before it.
  void acked(Seq ack);

  /// No more bytes: iterators at the end see eof.
  void finish() {
    finished_ = 1;
    if (stream_.valid()) stream_.finish();
  }
  bool finished() const { return finished_ != 0; }

  /// Drops everything: queued and held packets go to `drop(rte_mbuf*)`.
  template <class F> void clear(StreamPool& pool, F&& drop) {
    for (StreamPool::Piece* p = queue_; p != nullptr;) {
      StreamPool::Piece* n = p->next;
      HeldPacket* h = p->owner;
      pool.free_piece(p);
      if (--h->pieces == 0) {
        drop(h->m);
        pool.free_held(h);
      }
      p = n;
    }
    queue_ = nullptr;
    queued_bytes_ = 0;
    queued_pieces_ = 0;
    // Pending pushes, in order: their records carry the packets.
    if (stream_.valid())
      stream_.for_each_pending([&](void* user) {
        if (auto* h = static_cast<HeldPacket*>(user)) {
          drop(h->m);
          pool.free_held(h);
        }
      });
    stream_.clear();
    held_bytes_ = 0;
    trim_kept(kept_bytes_);
    started_ = finished_ = 0;
  }

  Seq next() const { return next_; }
  Seq released_seq() const { return released_; }
  uint32_t pending() const { return stream_.valid() ? stream_.pending() : 0; }
  uint32_t queued_pieces() const { return queued_pieces_; }
  uint32_t queued_bytes() const { return queued_bytes_; }
  vbuffer::Stream& stream() { return stream_; }
  /// Kept chunks (bytes that left, not yet acknowledged; one per packet
  /// segment, nearly always).
  uint32_t kept_chunks() const { return kept_chunks_; }
  /// The oldest kept chunk (the next an acknowledgement frees), or null.
  const vbuffer::Chunk* kept_head() const { return kept_head_; }
  uint32_t kept_bytes() const { return kept_bytes_; }

private:
  StreamOutcome queue_segment(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len, bool* took);
  bool deliver(StreamPool& pool, vbuffer::Iterator* first, uint32_t* delivered);
  StreamOutcome check_old(StreamPool& pool, rte_mbuf* m, Seq seq, uint32_t off, uint32_t len, Seq receiver_acked,
                          bool modified, Seq out, Seq out_end, vbuffer::Buffer& normalised);
  bool same_bytes_in_stream(const rte_mbuf* m, uint32_t off, Seq seq, uint32_t n) const;
  void trim_kept(uint32_t n);
  void keep_payload(StreamPool& pool, rte_mbuf* m, uint32_t off, uint32_t len, Seq out_seq);
  bool open_stream();
  void append_kept(vbuffer::Chunk* first, vbuffer::Chunk* last);
  bool same_as_kept(const rte_mbuf* m, uint32_t off, uint32_t skip, uint32_t len) const;
  vbuffer::Error clone_kept(vbuffer::BufferPool& bp, uint32_t skip, uint32_t len, vbuffer::Buffer& out);

  vbuffer::Stream stream_;
  // Bytes that left, output space from kept_seq_: a list of chunk nodes
  // linked by `next` (no sentinel: an acknowledgement frees the head
  // straight from here, one miss fewer, and an idle direction holds none).
  vbuffer::Chunk* kept_head_ = nullptr;
  vbuffer::Chunk* kept_tail_ = nullptr;
  StreamPool::Piece* queue_ = nullptr; // sorted by seq, non-overlapping, all after next_
  Seq next_;       // next in-order byte (original space)
  Seq released_;   // first byte not yet released (original space)
  Seq kept_seq_;   // output sequence number of kept_'s first byte
  StreamPool* pool_ = nullptr;
  uint32_t kept_bytes_ = 0;
  uint32_t kept_chunks_ = 0;
  uint32_t queued_bytes_ = 0;
  uint32_t held_bytes_ = 0; // bytes pushed and not yet released
  uint16_t queued_pieces_ = 0;
  uint8_t started_ = 0;
  uint8_t finished_ = 0; // (the stream's eof, known without its end marker)
};

} // namespace haka::tcp
