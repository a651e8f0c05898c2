#include "engine/stream_stage.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include <rte_prefetch.h>
#include <sys/stat.h>

#include "flow/flow_table.hpp"
#include "net/packet_meta.hpp"
#include "net/forge.hpp"
#include "net/rewrite.hpp"

namespace haka::engine {

namespace {

using tcp::Dir;
using tcp::StreamOutcome;
using tcp::StreamVerdict;

int idx(Dir d) { return static_cast<int>(d); }

// What emit() needs to know of popped bytes, from one walk of their chunks.
struct Shape {
  uint32_t size = 0;   // bytes
  uint32_t chunks = 0; // nodes (control ones included: what keep() holds)
  bool own = true;     // exactly m's own payload, in place (nothing cut, added, moved or edited)
};

Shape shape_of(const vbuffer::Buffer& bytes, const rte_mbuf* m, uint32_t off, uint32_t len) {
  Shape sh;
  const vbuffer::Chunk* s = bytes.sentinel();
  if (s->has(vbuffer::chunk_flag::modified)) sh.own = false;
  const rte_mbuf* seg = m;
  while (seg != nullptr && off >= seg->data_len) {
    off -= seg->data_len;
    seg = seg->next;
  }
  for (const vbuffer::Chunk* c = s->next; c != s; c = c->next) {
    sh.size += c->size;
    ++sh.chunks;
    if (!sh.own) continue;
    if (c->has(vbuffer::chunk_flag::modified)) {
      sh.own = false;
      continue;
    }
    if (c->kind != vbuffer::ChunkKind::data || c->size == 0) continue;
    if (seg == nullptr || c->mbuf != seg || c->bytes != rte_pktmbuf_mtod_offset(seg, const uint8_t*, off)) {
      sh.own = false;
      continue;
    }
    off += c->size;
    while (seg != nullptr && off >= seg->data_len) {
      off -= seg->data_len;
      seg = seg->next;
    }
  }
  if (sh.size != len) sh.own = false;
  return sh;
}

} // namespace

StreamStage::StreamStage(const StreamStageConfig& cfg, OutputQueue& out) : cfg_(cfg), out_(out) {}
StreamStage::~StreamStage() {
  // Packets still held were dropped by close_all(); whatever is left now
  // (an aborted start-up) goes back to its pool.
  for (uint32_t i = 0; i < made_; ++i) {
    for (auto& s : pairs_[i].dir)
      if (s.started()) s.clear(*spool_, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
    pairs_[i].~Pair();
  }
}

std::unique_ptr<StreamStage> StreamStage::create(const StreamStageConfig& cfg, OutputQueue& out, std::string& err) {
  if (cfg.pool == nullptr) {
    err = "stream reassembly needs an mbuf pool";
    return nullptr;
  }
  std::unique_ptr<StreamStage> s(new StreamStage(cfg, out));
  s->buffers_ = std::make_unique<vbuffer::BufferPool>(cfg.pool, cfg.chunks);
  s->spool_ = std::make_unique<tcp::StreamPool>(*s->buffers_, cfg.stream);
  // One breakpoint block per modified direction at a time (given back once
  // acknowledged): a few thousand covers the connections rules edit at once.
  s->offsets_ = std::make_unique<tcp::SeqOffsetPool>(cfg.modified_directions);
  if (!s->offsets_->valid()) {
    err = "cannot allocate sequence translation blocks";
    return nullptr;
  }
  // Pre-faulted now, constructed as connections first carry data.
  s->pairs_mem_ = flow::PageBuffer::allocate(std::size_t{cfg.connections} * sizeof(Pair), flow::MemorySource::ordinary,
                                             SOCKET_ID_ANY);
  s->pairs_ = static_cast<Pair*>(s->pairs_mem_.data());
  s->cap_ = s->pairs_ != nullptr ? cfg.connections : 0;
  if (s->buffers_->chunk_capacity() != cfg.chunks) {
    err = "cannot allocate " + std::to_string(cfg.chunks) + " stream chunk nodes";
    return nullptr;
  }
  if (s->pairs_ == nullptr && cfg.connections != 0) {
    err = "cannot reserve stream state for " + std::to_string(cfg.connections) + " connections";
    return nullptr;
  }
  return s;
}

void StreamStage::prefetch(const tcp::Connection* conns, std::span<const uint32_t> slots) const {
  constexpr std::size_t kStep = 64; // a burst's lookups, nearly always in one step
  const Pair* ps[kStep];
  for (std::size_t at = 0; at < slots.size(); at += kStep) {
    const std::size_t n = std::min(kStep, slots.size() - at);
    std::size_t k = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const uint32_t slot = slots[at + j];
      if (slot == flow::kNoSlot) continue;
      const uint32_t i = conns[slot].streams;
      if (i == 0 || i > made_) continue;
      const Pair* p = &pairs_[i - 1];
      ps[k++] = p;
      const auto* b = reinterpret_cast<const char*>(p);
      for (std::size_t off = 0; off < sizeof(Pair); off += 64) rte_prefetch0(b + off);
      rte_prefetch0(b + sizeof(Pair) - 1);
    }
    const vbuffer::Chunk* kept[2 * kStep];
    std::size_t nk = 0;
    for (std::size_t j = 0; j < k; ++j)
      for (const tcp::TcpStream& s : ps[j]->dir)
        if (const vbuffer::Chunk* c = s.kept_head()) {
          rte_prefetch0(c);
          kept[nk++] = c;
        }
    for (std::size_t j = 0; j < nk; ++j) rte_prefetch0(kept[j]->mbuf);
  }
}

std::size_t StreamStage::memory_bytes() const {
  return std::size_t{cap_} * sizeof(Pair) + buffers_->chunk_capacity() * sizeof(vbuffer::Chunk) +
         cfg_.stream.held_packets * (sizeof(tcp::HeldPacket) + 2 * sizeof(tcp::StreamPool::Piece));
}

StreamStage::Pair* StreamStage::pair_of(tcp::Connection& c, bool create) {
  if (c.streams != 0) return &pairs_[c.streams - 1];
  if (!create) return nullptr;
  uint32_t i;
  if (free_ != 0) {
    i = free_ - 1;
    free_ = pairs_[i].next_free;
  } else if (made_ < cap_) {
    i = made_++;
    new (&pairs_[i]) Pair();
  } else {
    ++t_.no_state;
    return nullptr;
  }
  Pair& p = pairs_[i];
  p.map[0] = tcp::SeqOffsetMap(*offsets_);
  p.map[1] = tcp::SeqOffsetMap(*offsets_);
  p.uid = next_uid_++;
  p.owner = &c;
  p.next_free = 0;
  p.live = 1;
  p.ended[0] = p.ended[1] = 0;
  c.streams = i + 1;
  if (++t_.pairs_now > t_.pairs_peak) t_.pairs_peak = t_.pairs_now;
  return &p;
}

bool StreamStage::start(Pair& p, const tcp::Connection& c, Dir d) {
  tcp::TcpStream& s = p.dir[idx(d)];
  if (s.started()) return true;
  const tcp::Endpoint& e = c.endpoint(d);
  // No reader: in-order bytes pass without a push (pass_in_order), so the
  // stream's end marker is made only if something is ever pushed.
  return s.init(*spool_, e.isn + 1, listeners_.empty() && !cfg_.pass_through) == vbuffer::Error::ok;
}

bool StreamStage::on_segment(tcp::Connection& c, Dir d, rte_mbuf* m, const tcp::StepResult& r) {
  const net::PacketMeta& pm = net::meta(m);
  const uint8_t flags = pm.tcp_flags;
  const uint32_t len = pm.payload_len;
  // A keep-alive probe's byte (seq = next - 1) is an old byte like any
  // retransmitted one: checked against what was inspected. Without a byte
  // it carries nothing to check. Data on a SYN (TCP Fast Open) is stream
  // data like any other, from the sequence number after the SYN's.
  const bool syn = (flags & tcp::tcp_flag::syn) != 0;
  if ((flags & tcp::tcp_flag::rst) != 0 || (syn && len == 0) ||
      (r.outcome == tcp::SegmentOutcome::keepalive && len == 0))
    return false;
  // Stream state comes with the first byte, or with a FIN when someone
  // listens for stream ends (an empty stream still ends: a dump writes its
  // empty file, a rule sees the end).
  Pair* p = pair_of(c, len > 0 || ((flags & tcp::tcp_flag::fin) != 0 && !listeners_.empty()));
  if (p == nullptr) {
    if (len == 0) return false;
    // No stream state left: the bytes cannot be inspected, so they do not pass.
    if (cfg_.pass_through) return false;
    out_.drop(m, DropReason::stream_refused);
    return true;
  }
  tcp::TcpStream& s = p->dir[idx(d)];
  tcp::TcpStream& other = p->dir[idx(tcp::opposite(d))];
  if ((flags & tcp::tcp_flag::ack) != 0) {
    // Acknowledgements are in the other direction's output space.
    if (other.started()) other.acked(tcp::Seq{pm.tcp_ack});
    p->map[idx(tcp::opposite(d))].trim(tcp::Seq{pm.tcp_ack});
  }
  const bool translated = c.has(tcp::conn_flag::translated);

  if (len == 0) {
    bool took = false;
    if (s.started() && s.pending() != 0) {
      took = s.hold_empty(*spool_, m);
      spool_->counters().add(took ? StreamOutcome::empty_held : StreamOutcome::worker_full);
    }
    check_end(*p, c, d, m);
    if (c.streams == 0) return took;
    if (!took && translated) translate_headers(*p, d, m, p->map[idx(d)].to_output(tcp::Seq{pm.tcp_seq}));
    return took;
  }
  if (!start(*p, c, d)) {
    spool_->counters().add(StreamOutcome::worker_full);
    if (cfg_.pass_through) return false;
    out_.drop(m, DropReason::stream_refused);
    return true;
  }

  const tcp::Seq seq{pm.tcp_seq + (syn ? 1u : 0u)};
  const tcp::Seq receiver_acked = c.endpoint(tcp::opposite(d)).max_ack;
  const tcp::SeqOffsetMap& map = p->map[idx(d)];
  const bool modified = !map.empty();
  if (listeners_.empty() && !cfg_.pass_through &&
      s.pass_in_order(*spool_, m, seq, pm.payload_offset, len, modified ? map.to_output(seq) : seq)) [[likely]] {
    // No one reads the stream: the packet leaves now, unchanged (its bytes
    // kept for retransmission checks), with no push and pop.
    spool_->counters().bytes_delivered[idx(d)] += len;
    check_end(*p, c, d, m);
    if (c.streams != 0 && translated) translate_headers(*p, d, m, map.to_output(seq));
    return false;
  }
  tcp::Arrival a;
  s.receive(*spool_, m, seq, pm.payload_offset, len, receiver_acked, modified,
            modified ? map.to_output(seq) : seq, modified ? map.to_output(seq + len) : seq + len, a);
  drain_dropped();
  if (a.new_bytes > 0) {
    spool_->counters().bytes_delivered[idx(d)] += a.new_bytes;
    const StreamConn conn{p->uid, &c, cfg_.worker, m, d, &s.stream()};
    for (StreamListener* l : listeners_) {
      l->on_data(conn, d, a.first_new, a.new_bytes);
      // A listener dropped or reset the connection: its streams (and this
      // packet, which they held) are gone.
      if (c.streams == 0) return true;
    }
  }
  switch (tcp::stream_verdict(a.outcome)) {
    case StreamVerdict::held:
      check_end(*p, c, d, m);
      if (c.streams == 0) return true;
      release(c, *p, d);
      return true;
    case StreamVerdict::forward:
      if (translated) translate_headers(*p, d, m, map.to_output(seq));
      return false;
    case StreamVerdict::rebuild:
      if (cfg_.pass_through) return false;
      if (translated) translate_headers(*p, d, m, map.to_output(seq)); // SACK and ack of the template
      if (rebuild(m, map.to_output(seq).value(), net::meta(m).tcp_ack, a.normalised)) {
        out_.drop(m, DropReason::stream_replaced);
        return true;
      }
      out_.drop(m, DropReason::stream_refused);
      return true;
    case StreamVerdict::drop:
      if (cfg_.pass_through) return false;
      out_.drop(m, DropReason::stream_refused);
      return true;
  }
  return false;
}

void StreamStage::check_end(Pair& p, const tcp::Connection& c, Dir d, const rte_mbuf* m) {
  tcp::TcpStream& s = p.dir[idx(d)];
  const tcp::Endpoint& e = c.endpoint(d);
  if (p.ended[idx(d)] || !e.has(tcp::ep_flag::fin)) return;
  // The FIN ends the stream once every byte before it was delivered (an
  // out-of-order FIN waits: Haka finished at once, its bug 4).
  if (s.started() ? s.next() != e.fin_seq : e.fin_seq != e.isn + 1) return;
  p.ended[idx(d)] = 1;
  if (s.started()) s.finish();
  ++t_.streams_ended;
  const StreamConn conn{p.uid, const_cast<tcp::Connection*>(&c), cfg_.worker, m, d,
                        s.started() ? &s.stream() : nullptr};
  for (StreamListener* l : listeners_) {
    l->on_end(conn, d);
    if (c.streams == 0) return;
  }
}

void StreamStage::release(tcp::Connection& c, Pair& p, Dir d) {
  tcp::TcpStream& s = p.dir[idx(d)];
  tcp::Released r;
  while (s.release(*spool_, r)) {
    tcp::HeldPacket* h = r.held;
    if (h != nullptr) {
      emit(c, p, d, h, r.bytes);
      spool_->free_held(h);
    }
    r.bytes.release();
    r = tcp::Released{};
  }
}

void StreamStage::translate_headers(Pair& p, Dir d, rte_mbuf* m, tcp::Seq out_seq) {
  const net::PacketMeta& pm = net::meta(m);
  const tcp::SeqOffsetMap& back = p.map[idx(tcp::opposite(d))];
  const uint32_t ack = (pm.tcp_flags & tcp::tcp_flag::ack) != 0 ? back.to_original(tcp::Seq{pm.tcp_ack}).value()
                                                                  : pm.tcp_ack;
  if (out_seq.value() != pm.tcp_seq || ack != pm.tcp_ack) net::set_seq_ack(m, out_seq.value(), ack, false);
  if (pm.sack_count != 0)
    net::translate_sack(
        m,
        [&](uint32_t e, bool left) {
          return (left ? back.to_original_left_edge(tcp::Seq{e}) : back.to_original(tcp::Seq{e})).value();
        },
        false);
  ++t_.translated_packets;
}

tcp::Seq StreamStage::ack_to_original(tcp::Connection& c, Dir d, tcp::Seq ack) {
  if (c.streams == 0) return ack;
  return pairs_[c.streams - 1].map[idx(tcp::opposite(d))].to_original(ack);
}

void StreamStage::translate(tcp::Connection& c, Dir d, rte_mbuf* m) {
  if (c.streams == 0 || cfg_.pass_through) return;
  Pair& p = pairs_[c.streams - 1];
  translate_headers(p, d, m, p.map[idx(d)].to_output(tcp::Seq{net::meta(m).tcp_seq}));
}

void StreamStage::emit(tcp::Connection& c, Pair& p, Dir d, const tcp::HeldPacket* h, vbuffer::Buffer& bytes) {
  rte_mbuf* m = h->m;
  const net::PacketMeta& pm = net::meta(m);
  tcp::TcpStream& s = p.dir[idx(d)];
  if (cfg_.pass_through) {
    out_.forward(m);
    s.keep(*spool_, bytes, h->seq);
    return;
  }
  tcp::SeqOffsetMap& map = p.map[idx(d)];
  const tcp::Seq out_seq = map.to_output(h->seq);
  const Shape sh = shape_of(bytes, m, pm.payload_offset, pm.payload_len);
  const uint32_t out_len = sh.size;
  if (out_len != h->len) {
    if (!map.record(h->seq, h->len, out_len)) {
      // The translation would no longer be exact: nothing more of this
      // connection can leave correctly (counted; the rules' edit is lost).
      ++t_.translation_lost;
      out_.drop(m, DropReason::stream_refused);
      return;
    }
    c.flags |= tcp::conn_flag::translated;
  }
  const bool translated = c.has(tcp::conn_flag::translated);
  // A SYN's payload starts one after its sequence number.
  const uint32_t syn = (pm.tcp_flags & tcp::tcp_flag::syn) != 0 ? 1u : 0u;
  if (h->len == pm.payload_len && h->seq.value() == pm.tcp_seq + syn && sh.own) [[likely]] {
    if (translated) translate_headers(p, d, m, out_seq);
    out_.forward(m);
  } else {
    if (translated) translate_headers(p, d, m, out_seq); // ack and SACK of the template
    const uint32_t ack = net::meta(m).tcp_ack;
    if (rebuild(m, out_seq.value() - syn, ack, bytes)) out_.drop(m, DropReason::stream_replaced);
    else out_.drop(m, DropReason::stream_refused);
  }
  s.keep(*spool_, bytes, out_seq, sh.size, sh.chunks);
}

bool StreamStage::rebuild(rte_mbuf* m, uint32_t seq, uint32_t ack, const vbuffer::Buffer& bytes) {
  const net::PacketMeta& pm = net::meta(m);
  std::array<std::span<const uint8_t>, 64> pieces;
  std::size_t n = 0;
  for (const vbuffer::Chunk* c = bytes.sentinel()->next; c != bytes.sentinel(); c = c->next) {
    if (c->kind != vbuffer::ChunkKind::data || c->size == 0) continue;
    if (n == pieces.size()) {
      ++t_.rebuild_failed;
      return false;
    }
    pieces[n++] = std::span<const uint8_t>(c->bytes, c->size);
  }
  const uint32_t headers = static_cast<uint32_t>(pm.ip_hdr_len) + pm.tcp_hdr_len;
  const uint16_t max_payload = static_cast<uint16_t>(cfg_.mtu > headers + 1 ? cfg_.mtu - headers : 1);
  std::array<rte_mbuf*, 64> made{};
  const int k = net::build_segments(cfg_.pool, m, seq, ack, std::span(pieces.data(), n), max_payload, false,
                                    std::span(made));
  if (k <= 0) {
    ++t_.rebuild_failed;
    return false;
  }
  ++t_.rebuilt;
  out_.injected(static_cast<uint64_t>(k));
  for (int i = 0; i < k; ++i) out_.forward(made[static_cast<std::size_t>(i)]);
  return true;
}

void StreamStage::drain_dropped() {
  for (rte_mbuf* d : spool_->dropped()) out_.drop(d, DropReason::stream_refused);
  spool_->clear_dropped();
}

void StreamStage::free_pair(tcp::Connection& c, Pair& p, DropReason why, bool release_first) {
  // Listeners first, while the bytes are still there (a pattern scan's
  // end-of-stream matches, a rule's last look).
  const StreamConn gone{p.uid, &c, cfg_.worker, nullptr, Dir::up, nullptr};
  for (StreamListener* l : listeners_) l->on_close(gone);
  for (Dir d : {Dir::up, Dir::down}) {
    tcp::TcpStream& s = p.dir[idx(d)];
    if (!s.started()) continue;
    if (release_first) release(c, p, d); // what nothing holds still leaves
    s.clear(*spool_, [&](rte_mbuf* m) { out_.drop(m, why); });
  }
  p.map[0].reset();
  p.map[1].reset();
  const uint32_t i = c.streams - 1;
  p.live = 0;
  p.next_free = free_;
  free_ = i + 1;
  c.streams = 0;
  --t_.pairs_now;
}

void StreamStage::send(tcp::Connection& c, Dir d) {
  if (c.streams == 0) return;
  release(c, pairs_[c.streams - 1], d);
}

int StreamStage::forge_resets(tcp::Connection& c, const rte_mbuf* current, Dir cur, bool to_client, bool to_server) {
  // Where the receiver of `d`'s bytes stands: the end of what left toward it.
  auto released_end = [&](Dir d) {
    const tcp::Endpoint& e = c.endpoint(d);
    Pair* p = c.streams != 0 ? &pairs_[c.streams - 1] : nullptr;
    if (p == nullptr || !p->dir[idx(d)].started()) return e.next;
    const tcp::Seq r = p->dir[idx(d)].released_seq();
    const tcp::Seq out = p->map[idx(d)].to_output(r);
    return e.has(tcp::ep_flag::fin) && r == e.fin_seq ? out + 1 : out;
  };
  const net::PacketMeta& pm = net::meta(current);
  uint8_t scratch[32];
  const uint8_t* a = net::ip_addresses(current, scratch);
  uint16_t sport = 0, dport = 0;
  if (a == nullptr || !net::tcp_ports(current, sport, dport)) {
    ++t_.resets_failed;
    return 0;
  }
  const unsigned alen = net::ip_address_len(pm);
  // The current packet's sender and receiver; client = sender of direction up.
  net::TcpEndpoints from_receiver;
  from_receiver.l3 = static_cast<net::L3Kind>(pm.l3_kind);
  std::memcpy(from_receiver.src, a + alen, alen);
  std::memcpy(from_receiver.dst, a, alen);
  from_receiver.sport = dport;
  from_receiver.dport = sport;
  net::TcpEndpoints from_sender = from_receiver;
  std::swap(from_sender.src, from_sender.dst);
  std::swap(from_sender.sport, from_sender.dport);
  if (cfg_.link == net::LinkType::ethernet && rte_pktmbuf_data_len(current) >= 12) {
    const uint8_t* eth = rte_pktmbuf_mtod(current, const uint8_t*);
    std::memcpy(from_receiver.dst_mac, eth + 6, 6);
    std::memcpy(from_receiver.src_mac, eth, 6);
    std::memcpy(from_sender.dst_mac, eth, 6);
    std::memcpy(from_sender.src_mac, eth + 6, 6);
  }
  int made = 0;
  auto one = [&](bool toward_client) {
    // Toward the client: from the server, at the end of the down bytes it got.
    const Dir from = toward_client ? Dir::down : Dir::up;
    const bool toward_sender = (toward_client ? Dir::up : Dir::down) == cur;
    net::TcpSegmentSpec spec;
    spec.seq = released_end(from).value();
    spec.ack = 0;
    spec.flags = tcp::tcp_flag::rst;
    spec.window = 0;
    spec.ttl = 64;
    spec.ip_id = 0;
    rte_mbuf* r = net::forge_tcp(cfg_.pool, cfg_.link, toward_sender ? from_receiver : from_sender, spec);
    if (r == nullptr) {
      ++t_.resets_failed;
      return;
    }
    net::meta(r) = net::PacketMeta{};
    net::meta(r).timestamp_ns = pm.timestamp_ns;
    out_.injected();
    if (toward_sender) out_.back(r);
    else out_.forward(r);
    ++t_.resets_forged;
    ++made;
  };
  if (to_client) one(true);
  if (to_server) one(false);
  return made;
}

void StreamStage::on_close(tcp::Connection& c, DropReason why, bool release_first) {
  if (c.streams == 0) return;
  free_pair(c, pairs_[c.streams - 1], why, release_first);
}

void StreamStage::close_all() {
  for (uint32_t i = 0; i < made_; ++i) {
    Pair& p = pairs_[i];
    if (!p.live) continue;
    free_pair(*p.owner, p, DropReason::shutdown, true);
  }
}

std::vector<CounterGroup> StreamStage::collect() const {
  const tcp::StreamCounters& k = spool_->counters();
  CounterGroup g{"streams", {}};
  g.values = {{"bytes_up", k.bytes_delivered[0]},
              {"bytes_down", k.bytes_delivered[1]},
              {"overlap_same", k.overlap_same},
              {"overlap_new_won", k.overlap_new_won},
              {"overlap_old_won", k.overlap_old_won},
              {"replaced_packets", k.replaced_packets},
              {"kept_trimmed_cap", k.kept_trimmed_cap},
              {"held_peak", k.held_peak},
              {"no_stream_state", t_.no_state},
              {"rebuilt", t_.rebuilt},
              {"rebuild_failed", t_.rebuild_failed},
              {"translated_packets", t_.translated_packets},
              {"resets_forged", t_.resets_forged},
              {"resets_failed", t_.resets_failed},
              {"translation_lost", t_.translation_lost},
              {"streams_ended", t_.streams_ended},
              {"connections_peak", t_.pairs_peak}};
  for (std::size_t o = 0; o < tcp::stream_outcome_count; ++o)
    g.values.emplace_back(tcp::stream_outcome_name(static_cast<StreamOutcome>(o)), k.outcomes[o]);
  const vbuffer::PoolCounters& pc = buffers_->counters();
  g.values.emplace_back("chunk_exhausted", pc.chunk_exhausted);
  g.values.emplace_back("mbuf_exhausted", pc.mbuf_exhausted);
  return {std::move(g)};
}

// ------------------------------------------------------------ dump writer

std::unique_ptr<StreamDumpWriter> StreamDumpWriter::create(const std::string& dir, std::string& err) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    err = "cannot create " + dir + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    err = dir + " is not a directory";
    return nullptr;
  }
  return std::unique_ptr<StreamDumpWriter>(new StreamDumpWriter(dir));
}

StreamDumpWriter::~StreamDumpWriter() = default;

std::string StreamDumpWriter::path_of(const StreamConn& conn, Dir d, bool* first) {
  auto it = open_.find(conn.uid);
  if (it == open_.end()) {
    // Client = the sender of the SYN (direction up).
    uint8_t scratch[32];
    const net::PacketMeta& pm = net::meta(conn.packet);
    const uint8_t* a = net::ip_addresses(conn.packet, scratch);
    uint16_t sport = 0, dport = 0;
    net::tcp_ports(conn.packet, sport, dport);
    const unsigned alen = net::ip_address_len(pm);
    const int af = alen == 16 ? AF_INET6 : AF_INET;
    char src[INET6_ADDRSTRLEN] = "?", dst[INET6_ADDRSTRLEN] = "?";
    if (a != nullptr) {
      inet_ntop(af, a, src, sizeof src);
      inet_ntop(af, a + alen, dst, sizeof dst);
    }
    const bool up = conn.packet_dir == Dir::up;
    std::string base = std::string(up ? src : dst);
    base += '_';
    base += std::to_string(up ? sport : dport);
    base += '-';
    base += up ? dst : src;
    base += '_';
    base += std::to_string(up ? dport : sport);
    const uint32_t nth = ++used_[base];
    it = open_.emplace(conn.uid, Name{std::move(base), nth}).first;
  }
  if (first != nullptr) {
    // A file this run has not written yet is created afresh (a second run
    // into the same directory replaces the files, it does not append).
    *first = !it->second.begun[idx(d)];
    it->second.begun[idx(d)] = true;
  }
  std::string path = dir_;
  path += '/';
  path += it->second.base;
  path += d == Dir::up ? ".up" : ".down";
  if (it->second.nth > 1) {
    path += '.';
    path += std::to_string(it->second.nth);
  }
  return path;
}

void StreamDumpWriter::on_data(const StreamConn& conn, Dir d, vbuffer::Iterator first, uint32_t n) {
  bool fresh = false;
  const std::string path = path_of(conn, d, &fresh);
  FILE* f = std::fopen(path.c_str(), fresh ? "wb" : "ab");
  if (f == nullptr) {
    ++write_errors_;
    return;
  }
  vbuffer::Sub sub;
  if (first.sub(n, false, sub) == vbuffer::Error::ok) {
    // Walk the chunks of the range without copying them.
    vbuffer::Iterator it = sub.begin();
    uint32_t left = n;
    vbuffer::Chunk* c = it.chunk();
    uint32_t off = it.offset();
    while (left > 0 && c != nullptr) {
      if (c->kind == vbuffer::ChunkKind::data && c->size > off) {
        const uint32_t take = std::min(left, c->size - off);
        if (std::fwrite(c->bytes + off, 1, take, f) != take) ++write_errors_;
        left -= take;
      }
      if (c->is_end()) break;
      c = c->next;
      off = 0;
    }
  } else {
    ++write_errors_;
  }
  if (std::fclose(f) != 0) ++write_errors_;
}

void StreamDumpWriter::on_end(const StreamConn& conn, Dir d) {
  // An empty stream still gets its (empty) file once it ended with a FIN.
  bool fresh = false;
  const std::string path = path_of(conn, d, &fresh);
  if (FILE* f = std::fopen(path.c_str(), fresh ? "wb" : "ab")) std::fclose(f);
  else ++write_errors_;
}

void StreamDumpWriter::on_close(const StreamConn& conn) { open_.erase(conn.uid); }

} // namespace haka::engine
