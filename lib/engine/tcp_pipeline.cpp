#include "engine/tcp_pipeline.hpp"

#include <arpa/inet.h>
#include <chrono>

#include <rte_cycles.h>
#include <rte_prefetch.h>

namespace haka::engine {

namespace {

tcp::Dir to_tcp(flow::Dir d) { return d == flow::Dir::up ? tcp::Dir::up : tcp::Dir::down; }

// Text form of the packet's addresses, for alerts.
struct AddressText {
  char src[INET6_ADDRSTRLEN] = "";
  char dst[INET6_ADDRSTRLEN] = "";
  explicit AddressText(const rte_mbuf* m) {
    uint8_t scratch[32];
    const net::PacketMeta& pm = net::meta(m);
    const uint8_t* a = net::ip_addresses(m, scratch);
    if (a == nullptr) return;
    int af = pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv6) ? AF_INET6 : AF_INET;
    unsigned len = net::ip_address_len(pm);
    inet_ntop(af, a, src, sizeof src);
    inet_ntop(af, a + len, dst, sizeof dst);
  }
};

const char* policy_description(tcp::Policy p) {
  switch (p) {
    case tcp::Policy::no_connection_found: return "no connection found for tcp packet";
    case tcp::Policy::unexpected_packet: return "unexpected tcp packet";
    case tcp::Policy::invalid_handshake: return "invalid tcp handshake";
    case tcp::Policy::new_connection: return "new tcp connection refused";
    case tcp::Policy::none:
    case tcp::Policy::count_: break;
  }
  return "";
}

DropReason policy_drop_reason(tcp::Policy p) {
  switch (p) {
    case tcp::Policy::no_connection_found: return DropReason::policy_no_connection_found;
    case tcp::Policy::unexpected_packet: return DropReason::policy_unexpected_packet;
    case tcp::Policy::invalid_handshake: return DropReason::policy_invalid_handshake;
    case tcp::Policy::new_connection: return DropReason::policy_new_connection;
    case tcp::Policy::none:
    case tcp::Policy::count_: break;
  }
  return DropReason::tcp_invalid;
}

uint64_t wall_clock_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

} // namespace

std::unique_ptr<TcpPipeline> TcpPipeline::create(const TrackingConfig& cfg, AlertSink& alerts, std::string& err) {
  std::unique_ptr<TcpPipeline> p(new TcpPipeline());
  p->cfg_ = cfg;
  p->cfg_.decode.flow_hash = false;
  p->alerts_ = &alerts;
  flow::FlowTableConfig fc;
  fc.capacity = cfg.flows_v4;
  fc.first_slot = 0;
  fc.seed = flow::random_seed();
  auto t4 = flow::FlowTable<flow::FlowKey4>::create_seeded(fc);
  fc.capacity = cfg.flows_v6;
  fc.first_slot = cfg.flows_v4;
  fc.seed = flow::random_seed();
  auto t6 = flow::FlowTable<flow::FlowKey6>::create_seeded(fc);
  if (!t4 || !t6) {
    err = "cannot create flow tables for " + std::to_string(cfg.flows_v4) + " IPv4 and " +
          std::to_string(cfg.flows_v6) + " IPv6 connections (memory short?)";
    return nullptr;
  }
  p->table4_ = std::make_unique<flow::FlowTable<flow::FlowKey4>>(std::move(*t4));
  p->table6_ = std::make_unique<flow::FlowTable<flow::FlowKey6>>(std::move(*t6));
  flow::TimerWheelConfig tc;
  tc.capacity = cfg.flows_v4 + cfg.flows_v6;
  auto tw = flow::TimerWheel::create(tc);
  if (!tw) {
    err = "cannot create the connection timer wheel";
    return nullptr;
  }
  p->timers_ = std::make_unique<flow::TimerWheel>(std::move(*tw));
  p->conns_.resize(tc.capacity);
  if (!cfg.pass_through) {
    net::FragmentConfig frc;
    frc.capacity = cfg.fragment_capacity;
    frc.timeout = cfg.fragment_timeout_ns;
    p->frags_ = net::FragmentReassembler::create(frc, err);
    if (!p->frags_) return nullptr;
  }
  if (cfg.reassemble) {
    StreamStageConfig sc = cfg.streams;
    sc.pool = cfg.pool;
    sc.mtu = cfg.mtu;
    sc.worker = cfg.worker;
    sc.link = cfg.decode.link;
    sc.pass_through = cfg.pass_through;
    sc.stream.read_only = cfg.pass_through;
    // Stream state for every connection the tables can hold, and chunk nodes
    // for an idle pair each (2: the two stream ends once someone reads them;
    // kept bytes need no sentinel) plus what held and kept packets need; both
    // pre-faulted at start-up.
    const uint32_t conns = cfg.flows_v4 + cfg.flows_v6;
    if (sc.connections < conns) sc.connections = conns;
    const uint64_t chunks = 2ull * sc.connections + 2ull * sc.stream.held_packets + sc.stream.max_kept_chunks + 1024;
    if (sc.chunks < chunks) sc.chunks = static_cast<uint32_t>(std::min<uint64_t>(chunks, UINT32_MAX));
    // Room for every packet the streams can hold plus a burst's own, its
    // fragments and rebuilt pieces: the queue never reallocates.
    p->out_ = OutputQueue(sc.stream.held_packets + 4096);
    p->stage_ = StreamStage::create(sc, p->out_, err);
    if (!p->stage_) return nullptr;
    if (!cfg.dump_streams.empty()) {
      p->dump_ = StreamDumpWriter::create(cfg.dump_streams, err);
      if (!p->dump_) return nullptr;
      p->stage_->add_listener(p->dump_.get());
    }
  } else {
    p->out_ = OutputQueue(4096);
  }
  if (cfg.patterns) {
    if (!p->stage_) {
      err = "--patterns needs stream reassembly (not with --no-reassembly)";
      return nullptr;
    }
    static const std::vector<std::string> no_texts{""};
    p->pattern_alerts_ = std::make_unique<PatternAlerts>(alerts, cfg.pattern_texts ? *cfg.pattern_texts : no_texts);
    p->patterns_ = PatternStage::create(cfg.patterns, p->conns_.data(), static_cast<uint32_t>(p->conns_.size()),
                                        *p->pattern_alerts_, err);
    if (!p->patterns_) return nullptr;
    p->stage_->add_listener(p->patterns_.get());
  }
  if (!cfg.rule_files.empty()) {
    if (!p->stage_) {
      err = "Lua rules need stream reassembly (not with --no-reassembly)";
      return nullptr;
    }
    LuaStageConfig lc;
    lc.rule_files = cfg.rule_files;
    lc.lua_dir = cfg.lua_dir;
    lc.flows = std::max(cfg.streams.connections, cfg.flows_v4 + cfg.flows_v6); // every connection the tables hold
    lc.instruction_limit = cfg.instruction_limit;
    lc.pass_through = cfg.pass_through;
    lc.forge_pool = cfg.pool;
    lc.forge_link = cfg.decode.link;
    p->lua_ = LuaStage::create(lc, *p, alerts, p->stage_->buffers(), static_cast<uint32_t>(p->conns_.size()), err);
    if (!p->lua_) return nullptr;
    p->stage_->add_listener(p->lua_.get());
    // Patterns the rules declared: one engine-level scan for all of them.
    if (auto db = p->lua_->declared_patterns(err)) {
      p->rule_patterns_ = PatternStage::create(db, p->conns_.data(), static_cast<uint32_t>(p->conns_.size()),
                                               *p->lua_, err);
      if (!p->rule_patterns_) return nullptr;
      p->stage_->add_listener(p->rule_patterns_.get());
    } else if (!err.empty()) {
      return nullptr;
    }
  }
  p->tsc_base_ = rte_rdtsc();
  p->ns_base_ = wall_clock_ns();
  p->ns_per_tsc_ = 1e9 / static_cast<double>(rte_get_tsc_hz());
  return p;
}

TcpPipeline::~TcpPipeline() = default;

std::size_t TcpPipeline::memory_bytes() const {
  return table4_->memory_bytes() + table6_->memory_bytes() + timers_->memory_bytes() +
         conns_.size() * sizeof(tcp::Connection);
}

std::size_t TcpPipeline::stream_memory_bytes() const { return stage_ ? stage_->memory_bytes() : 0; }

uint64_t TcpPipeline::held() const { return (frags_ ? frags_->held() : 0) + (stage_ ? stage_->held() : 0); }

uint64_t TcpPipeline::clock_now() const {
  return ns_base_ + static_cast<uint64_t>(static_cast<double>(rte_rdtsc() - tsc_base_) * ns_per_tsc_);
}

void TcpPipeline::stamp(std::span<rte_mbuf*> pkts, uint64_t now) {
  for (rte_mbuf* m : pkts) net::meta(m).timestamp_ns = now;
}

void TcpPipeline::classify(std::span<rte_mbuf*> pkts) {
  // Headers and metadata of the whole burst at once: the decoder's own
  // look-ahead of a few packets is too short to hide a miss to memory.
  for (rte_mbuf* m : pkts) {
    rte_prefetch0(rte_pktmbuf_mtod(m, char*));
    rte_prefetch0(&net::meta(m));
  }
  net::DecodeTally tally;
  net::decode_burst(pkts, cfg_.decode, tally);
  for (std::size_t o = 0; o < net::decode_outcome_count; ++o) t_.decode[o] += tally.by_outcome[o];

  // Stage the burst's lookups: keys and hashes, then one bulk lookup per
  // family that prefetches buckets and keys, then the connection states.
  b4_.n = b6_.n = 0;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    key_ref_[i] = KeyRef{};
    if (net::outcome_verdict(net::outcome(net::meta(pkts[i]))) == net::OutcomeVerdict::track) stage_key(pkts[i], i);
  }
  auto bulk = [&](auto& table, auto& b) {
    if (b.n == 0) return;
    for (uint16_t j = 0; j < b.n; ++j) b.hashes[j] = table.hash(b.keys[j]);
    table.lookup_bulk(std::span(b.keys.data(), b.n), std::span<const uint32_t>(b.hashes.data(), b.n),
                      std::span(b.slots.data(), b.n));
    for (uint16_t j = 0; j < b.n; ++j) {
      if (b.slots[j] == flow::kNoSlot) continue;
      const auto* c = reinterpret_cast<const char*>(&conns_[b.slots[j]]);
      rte_prefetch0(c);
      rte_prefetch0(c + sizeof(tcp::Connection) - 1);
    }
    if (stage_) stage_->prefetch(conns_.data(), std::span<const uint32_t>(b.slots.data(), b.n));
  };
  bulk(*table4_, b4_);
  bulk(*table6_, b6_);
  table_changed_ = false;

  for (std::size_t i = 0; i < pkts.size(); ++i) {
    rte_mbuf* m = pkts[i];
    const Fate f = on_decoded(m, i);
    if (m != nullptr && !f.taken) emit(m, f);
    if (n_pending_inject_ != 0) [[unlikely]]
      flush_injected();
  }
}

bool TcpPipeline::stage_key(rte_mbuf* m, std::size_t i) {
  const net::PacketMeta& pm = net::meta(m);
  if (pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv4) && pm.tcp_hdr_len != 0 &&
      pm.l4_offset + 4u <= rte_pktmbuf_data_len(m)) [[likely]] {
    // Addresses and ports in the first segment (l4_offset is past the
    // addresses): read in place, without ip_addresses' and tcp_ports' checks.
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint8_t* a = p + pm.l3_offset + 12;
    const uint8_t* t = p + pm.l4_offset;
    auto pk = flow::FlowKey4::make(std::span<const uint8_t, 4>(a, 4), std::span<const uint8_t, 4>(a + 4, 4),
                                   static_cast<uint16_t>(t[0] << 8 | t[1]), static_cast<uint16_t>(t[2] << 8 | t[3]),
                                   6);
    b4_.keys[b4_.n] = pk.key;
    b4_.swapped[b4_.n] = pk.swapped;
    key_ref_[i] = KeyRef{4, static_cast<uint8_t>(b4_.n++)};
    return true;
  }
  uint8_t scratch[32];
  const uint8_t* a = net::ip_addresses(m, scratch);
  uint16_t sport = 0, dport = 0;
  if (a == nullptr || !net::tcp_ports(m, sport, dport)) return false;
  if (pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv4)) {
    auto pk = flow::FlowKey4::make(std::span<const uint8_t, 4>(a, 4), std::span<const uint8_t, 4>(a + 4, 4), sport,
                                   dport, 6);
    b4_.keys[b4_.n] = pk.key;
    b4_.swapped[b4_.n] = pk.swapped;
    key_ref_[i] = KeyRef{4, static_cast<uint8_t>(b4_.n++)};
  } else {
    auto pk = flow::FlowKey6::make(std::span<const uint8_t, 16>(a, 16), std::span<const uint8_t, 16>(a + 16, 16),
                                   sport, dport, 6);
    b6_.keys[b6_.n] = pk.key;
    b6_.swapped[b6_.n] = pk.swapped;
    key_ref_[i] = KeyRef{6, static_cast<uint8_t>(b6_.n++)};
  }
  return true;
}

TcpPipeline::Fate TcpPipeline::on_decoded(rte_mbuf*& m, std::size_t i) {
  const net::PacketMeta& pm = net::meta(m);
  advance_timers(pm.timestamp_ns);
  const net::DecodeOutcome o = net::outcome(pm);
  switch (net::outcome_verdict(o)) {
    case net::OutcomeVerdict::track: {
      // A lookup made before this burst changed the table may be stale:
      // look again (rare: only after an open or a close in the same burst).
      const KeyRef r = key_ref_[i];
      if (r.family == 4)
        return track(*table4_, b4_.keys[r.index], b4_.swapped[r.index], b4_.hashes[r.index],
                     table_changed_ ? table4_->lookup(b4_.keys[r.index], b4_.hashes[r.index]) : b4_.slots[r.index], m);
      if (r.family == 6)
        return track(*table6_, b6_.keys[r.index], b6_.swapped[r.index], b6_.hashes[r.index],
                     table_changed_ ? table6_->lookup(b6_.keys[r.index], b6_.hashes[r.index]) : b6_.slots[r.index], m);
      return refuse(DropReason::malformed);
    }
    case net::OutcomeVerdict::forward: return Fate{};
    case net::OutcomeVerdict::reassemble:
      if (!frags_) return Fate{}; // pass-through: observed, not reassembled
      {
        rte_mbuf* whole = frags_->add(m, cfg_.decode, pm.timestamp_ns);
        m = nullptr; // the fragment table owns it now
        if (whole != nullptr) reassembled(whole);
      }
      return Fate{};
    case net::OutcomeVerdict::drop: break;
  }
  return refuse(DropReason::malformed);
}

TcpPipeline::Fate TcpPipeline::refuse(DropReason r) {
  if (cfg_.pass_through) return Fate{};
  return Fate{false, r};
}

void TcpPipeline::reassembled(rte_mbuf* d) {
  ++t_.reassembled;
  const net::PacketMeta& pm = net::meta(d);
  Fate f = net::outcome_verdict(net::outcome(pm)) == net::OutcomeVerdict::track ? on_tcp(d) : Fate{};
  // Forwarded now or released later by a stream, an oversized datagram is
  // re-fragmented on its way out (refragment_out).
  add_extra(d, f);
}

bool TcpPipeline::send_packet(rte_mbuf* m) {
  const net::PacketMeta& pm = net::meta(m);
  if (pm.decoded == 0 || net::outcome(pm) != net::DecodeOutcome::tcp) return true;
  return lua_->tcp_packet(m, true);
}

bool TcpPipeline::needs_refragment(const rte_mbuf* m) const {
  const net::PacketMeta& pm = net::meta(m);
  return (pm.flags & net::meta_flag::reassembled) != 0 && pm.ip_total_len > cfg_.mtu;
}

int TcpPipeline::refragment(rte_mbuf* d, std::span<rte_mbuf*> out) {
  const net::PacketMeta& pm = net::meta(d);
  std::array<rte_mbuf*, 64> tmp{};
  int k = pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv4)
              ? net::fragment_ipv4(d, cfg_.mtu, tmp, cfg_.pool, cfg_.pool, cfg_.decode)
              : net::fragment_ipv6(d, cfg_.mtu, tmp, cfg_.pool, cfg_.pool, cfg_.decode,
                                   static_cast<uint32_t>(t_.reassembled));
  if (k <= 0 || static_cast<std::size_t>(k) > out.size()) {
    for (int i = 0; i < k; ++i) rte_pktmbuf_free(tmp[static_cast<std::size_t>(i)]);
    return -1;
  }
  ++t_.refragmented;
  for (int i = 0; i < k; ++i) out[static_cast<std::size_t>(i)] = tmp[static_cast<std::size_t>(i)];
  return k;
}

void TcpPipeline::add_extra(rte_mbuf* m, Fate f) {
  // A packet the engine made (reassembled datagram, re-fragmented piece).
  out_.injected();
  if (!f.taken) emit(m, f);
}

void TcpPipeline::emit(rte_mbuf* m, const Fate& f) {
  if (f.forward) out_.forward(m);
  else out_.drop(m, f.reason);
}

TcpPipeline::Fate TcpPipeline::on_tcp(rte_mbuf* m) {
  // One packet outside a burst's staging (a reassembled datagram).
  uint8_t scratch[32];
  const net::PacketMeta& pm = net::meta(m);
  const uint8_t* a = net::ip_addresses(m, scratch);
  uint16_t sport = 0, dport = 0;
  if (a == nullptr || !net::tcp_ports(m, sport, dport)) return refuse(DropReason::malformed);
  if (pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv4)) {
    auto pk = flow::FlowKey4::make(std::span<const uint8_t, 4>(a, 4), std::span<const uint8_t, 4>(a + 4, 4), sport,
                                   dport, 6);
    uint32_t h = table4_->hash(pk.key);
    return track(*table4_, pk.key, pk.swapped, h, table4_->lookup(pk.key, h), m);
  }
  auto pk = flow::FlowKey6::make(std::span<const uint8_t, 16>(a, 16), std::span<const uint8_t, 16>(a + 16, 16),
                                 sport, dport, 6);
  uint32_t h = table6_->hash(pk.key);
  return track(*table6_, pk.key, pk.swapped, h, table6_->lookup(pk.key, h), m);
}

template <class Key>
TcpPipeline::Fate TcpPipeline::track(flow::FlowTable<Key>& table, const Key& key, bool swapped, uint32_t h,
                                      uint32_t slot, rte_mbuf* m) {
  const net::PacketMeta& pm = net::meta(m);
  const uint64_t now = pm.timestamp_ns;
  tcp::SegmentView seg = tcp::segment_from(pm);

  current_packet_ = m;
  current_conn_ = nullptr;
  if (lua_ && lua_->wants(lua::Event::tcp_receive_packet) && !lua_->tcp_packet(m))
    return refuse(DropReason::rule_dropped);

  // Two passes at most: a restart ends the connection on the first and opens
  // the next one with the same segment on the second.
  for (int pass = 0; pass < 2; ++pass) {
    if (slot == flow::kNoSlot) {
      if (!tcp::opens_connection(seg, cfg_.tcp)) return apply_policy(tcp::Policy::no_connection_found, m);
      flow::InsertResult ins = table.insert(key, h, swapped);
      table_changed_ = true;
      if (!ins.ok()) {
        ++t_.refused_table_full;
        return refuse(DropReason::flow_table_full);
      }
      tcp::Connection& c = conns_[ins.slot];
      c = tcp::Connection{};
      const tcp::StepResult opened = tcp::open(c, seg, now, cfg_.tcp);
      tcp_.add(opened);
      timers_->schedule(ins.slot, tcp::deadline(c, cfg_.tcp));
      if (lua_ && lua_->wants_flows()) {
        current_conn_ = &c;
        current_dir_ = tcp::Dir::up;
        current_dropped_ = false;
        current_now_ = now;
        if (!lua_->new_connection(ins.slot, c, m) || !lua_->receive_packet(ins.slot, c, tcp::Dir::up, m)) {
          // A rule that drops the opening SYN refuses the connection (Haka:
          // the tuple is dropped; later packets go silently).
          if (c.state != tcp::State::reset && c.state != tcp::State::finish) rule_drop(c, tcp::EndReason::dropped);
          return refuse(DropReason::rule_dropped);
        }
      }
      // Data on the opening SYN (TCP Fast Open) goes to the stream like any.
      if (stage_ && seg.len != 0 && opened.forward && stage_->on_segment(c, tcp::Dir::up, m, opened)) return taken();
      return Fate{};
    }
    tcp::Connection& c = conns_[slot];
    const tcp::Dir dir = to_tcp(table.direction(slot, swapped));
    current_conn_ = &c;
    current_dir_ = dir;
    current_dropped_ = false;
    current_now_ = now;
    // Haka's order: the connection's receive_packet rules, then the state machine.
    if (lua_ && !lua_->receive_packet(slot, c, dir, m)) return refuse(DropReason::rule_dropped);
    tcp::StepResult r;
    const bool translated = c.has(tcp::conn_flag::translated);
    // Rules changed a stream's length: the peer acknowledges in output
    // space, the tracker works in the sender's original space.
    if (translated && seg.has(tcp::tcp_flag::ack)) seg.ack = stage_->ack_to_original(c, dir, seg.ack);
    if (!translated && tcp::detail::step_in_order(c, dir, seg, now, cfg_.tcp, r)) [[likely]] {
      // What tcp::step() does first, open-coded so the known result
      // (accepted, forwarded, no policy, no event) folds into one counter
      // increment instead of a 6-byte result spilled and reloaded per packet.
      tcp_.add(r);
      if (stage_ && (seg.len != 0 || c.streams != 0) && stage_->on_segment(c, dir, m, r)) return taken();
      if (current_dropped_) return refuse(DropReason::connection_dropped);
      return Fate{};
    }
    r = tcp::step_general(c, dir, seg, now, cfg_.tcp);
    tcp_.add(r);
    if (r.restart) {
      // A new SYN on a connection that has ended (Haka's restart): the old
      // entry goes and the same SYN opens the next connection.
      close_slot(slot);
      slot = flow::kNoSlot;
      continue;
    }
    // The streams end with the connection: what can leave leaves before
    // this segment (e.g. the RST), the rest is dropped.
    if (lua_ && r.has(tcp::tcp_event::end_connection)) lua_->end_connection(slot, c);
    // A reset connection's streams go now (its later packets are dropped).
    // A closed one (timed_wait) keeps them until its entry goes: data and
    // retransmissions still in flight need the same translation and checks.
    if (stage_ && r.has(tcp::tcp_event::end_connection) && c.state == tcp::State::reset) {
      if (translated && r.forward) stage_->translate(c, dir, m);
      stage_->on_close(c, DropReason::connection_dropped);
    }
    // Timers move only when the state does: a deadline pushed later by
    // ordinary traffic is found at expiry (timer_not_due) and re-armed then.
    if (r.has(tcp::tcp_event::finished)) close_slot(slot);
    else if (r.has(tcp::tcp_event::state_changed)) timers_->schedule(slot, tcp::deadline(c, cfg_.tcp));
    if (r.policy != tcp::Policy::none) return apply_policy(r.policy, m);
    if (!r.forward)
      return refuse(r.outcome == tcp::SegmentOutcome::after_close ? DropReason::connection_dropped
                                                                  : DropReason::tcp_invalid);
    if (stage_ && !r.has(tcp::tcp_event::finished)) {
      if (stage_->on_segment(c, dir, m, r)) return taken();
      if (current_dropped_) return refuse(DropReason::connection_dropped);
      // SYN, RST and keep-alive segments do not reach the streams' own translation.
      if (translated && (seg.flags & (tcp::tcp_flag::syn | tcp::tcp_flag::rst)) != 0) stage_->translate(c, dir, m);
      else if (translated && r.outcome == tcp::SegmentOutcome::keepalive && seg.len == 0) stage_->translate(c, dir, m);
    }
    return Fate{};
  }
  return Fate{};
}

void TcpPipeline::inject_packet(rte_mbuf* m) {
  net::meta(m).timestamp_ns = current_packet_ != nullptr ? net::meta(current_packet_).timestamp_ns : clock_now();
  net::decode(m, cfg_.decode);
  if (n_pending_inject_ == pending_inject_.size()) {
    // More than 64 forged packets for one packet: the rest go at once.
    out_.injected();
    out_.forward(m);
    return;
  }
  pending_inject_[n_pending_inject_++] = m;
}

void TcpPipeline::flush_injected() {
  for (uint16_t i = 0; i < n_pending_inject_; ++i) {
    out_.injected();
    out_.forward(pending_inject_[i]);
  }
  n_pending_inject_ = 0;
}

void TcpPipeline::rule_drop(tcp::Connection& c, tcp::EndReason why) {
  const auto slot = static_cast<uint32_t>(&c - conns_.data());
  if (&c == current_conn_) current_dropped_ = true;
  const uint64_t now = current_now_ > c.last_seen ? current_now_ : c.last_seen;
  tcp::StepResult r = tcp::drop(c, now, why);
  tcp_.add(r);
  if (lua_ && r.has(tcp::tcp_event::end_connection)) lua_->end_connection(slot, c);
  if (stage_) stage_->on_close(c, DropReason::connection_dropped, false);
  timers_->schedule(slot, tcp::deadline(c, cfg_.tcp));
}

void TcpPipeline::rule_reset(tcp::Connection& c, const rte_mbuf* current, tcp::Dir cur, bool halfreset) {
  if (stage_) stage_->forge_resets(c, current, cur, !halfreset, true);
  rule_drop(c, tcp::EndReason::dropped);
}

bool TcpPipeline::erase_slot(uint32_t slot) {
  if (slot < cfg_.flows_v4) return table4_->erase(slot);
  return table6_->erase(slot);
}

void TcpPipeline::close_slot(uint32_t slot) {
  if (lua_) lua_->end_connection(slot, conns_[slot]);
  if (stage_) stage_->on_close(conns_[slot], DropReason::connection_dropped);
  timers_->cancel(slot);
  erase_slot(slot);
  table_changed_ = true;
}

TcpPipeline::Fate TcpPipeline::apply_policy(tcp::Policy p, rte_mbuf* m) {
  ++t_.policy[static_cast<std::size_t>(p)];
  if (lua_) {
    // The rules' haka.policy entries, with the module's defaults (alert and drop).
    if (lua_->policy(p, m)) return Fate{};
    return refuse(policy_drop_reason(p));
  }
  // The defaults of Haka's tcp_connection module: alert, then drop the packet.
  // (Rules will override them through haka.policy once the Lua layer exists.)
  const net::PacketMeta& pm = net::meta(m);
  AddressText at(m);
  uint16_t sport = 0, dport = 0;
  net::tcp_ports(m, sport, dport);
  Alert a;
  a.time_ns = pm.timestamp_ns;
  a.severity = p == tcp::Policy::no_connection_found ? "low" : "";
  a.description = policy_description(p);
  a.source = {at.src, sport};
  a.target = {at.dst, dport};
  alerts_->raise(a);
  return refuse(policy_drop_reason(p));
}

void TcpPipeline::advance_timers(uint64_t now) {
  // Nothing can fall due before the wheel's next tick.
  if (now < next_tick_) return;
  next_tick_ = (now | (timers_->tick_ns() - 1)) + 1;
  timers_->advance(now, [&](uint32_t slot) {
    tcp::Connection& c = conns_[slot];
    tcp::StepResult r = tcp::expire(c, now, cfg_.tcp);
    tcp_.add(r);
    if (r.has(tcp::tcp_event::finished)) close_slot(slot);
    else timers_->schedule(slot, tcp::deadline(c, cfg_.tcp));
  });
}

void TcpPipeline::flush_fragments() {
  if (frags_) frags_->flush();
}

std::vector<CounterGroup> TcpPipeline::collect() const {
  std::vector<CounterGroup> g;
  using tcp::EndReason;
  CounterGroup conn{"connections", {}};
  conn.values = {{"opened", tcp_.opened},
                 {"established", tcp_.established},
                 {"closed_fin", tcp_.ended_by(EndReason::fin)},
                 {"closed_rst", tcp_.ended_by(EndReason::rst)},
                 {"refused_by_peer", tcp_.ended_by(EndReason::refused)},
                 {"timed_out", tcp_.ended_by(EndReason::timeout)},
                 {"closed_dropped", tcp_.ended_by(EndReason::dropped)},
                 {"closed_error", tcp_.ended_by(EndReason::error)},
                 {"restarted", tcp_.ended_by(EndReason::restart)},
                 // Only a full table refuses until the new_connection policy gets a Lua hook.
                 {"refused", t_.refused_table_full},
                 {"refused_table_full", t_.refused_table_full},
                 {"active", tcp_.active},
                 {"active_peak", tcp_.active_peak}};
  g.push_back(std::move(conn));
  CounterGroup dec{"decode", {}};
  for (std::size_t o = 0; o < net::decode_outcome_count; ++o)
    dec.values.emplace_back(net::outcome_name(static_cast<net::DecodeOutcome>(o)), t_.decode[o]);
  g.push_back(std::move(dec));
  CounterGroup seg{"tcp", {}};
  for (std::size_t o = 0; o < tcp::outcome_count; ++o)
    seg.values.emplace_back(tcp::outcome_name(static_cast<tcp::SegmentOutcome>(o)), tcp_.outcomes[o]);
  g.push_back(std::move(seg));
  CounterGroup pol{"policies", {}};
  for (auto p : {tcp::Policy::no_connection_found, tcp::Policy::unexpected_packet, tcp::Policy::invalid_handshake,
                 tcp::Policy::new_connection})
    pol.values.emplace_back(tcp::policy_name(p), t_.policy[static_cast<std::size_t>(p)]);
  g.push_back(std::move(pol));
  CounterGroup frag{"fragments", {}};
  net::FragmentCounters fc = frags_ ? frags_->counters() : net::FragmentCounters{};
  frag.values = {{"taken", fc.taken},           {"reassembled", fc.reassembled}, {"merged", fc.merged},
                 {"timed_out", fc.timed_out},   {"invalid", fc.invalid},         {"table_full", fc.table_full},
                 {"flushed", fc.flushed},       {"refragmented", t_.refragmented}};
  g.push_back(std::move(frag));
  if (stage_)
    for (CounterGroup& sg : stage_->collect()) g.push_back(std::move(sg));
  if (lua_)
    for (CounterGroup& lg : lua_->collect()) g.push_back(std::move(lg));
  if (patterns_)
    for (CounterGroup& pg : patterns_->collect()) g.push_back(std::move(pg));
  if (rule_patterns_)
    for (CounterGroup& pg : rule_patterns_->collect()) {
      pg.name = "rule_patterns";
      g.push_back(std::move(pg));
    }
  return g;
}

} // namespace haka::engine
