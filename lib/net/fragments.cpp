// rte_ip_frag_table_del_expired_entries is still experimental in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1

#include "net/fragments.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rte_ip.h>
#include <rte_ip_frag.h>

namespace haka::net {

namespace {

constexpr uint32_t ipv6_frag_hdr_len = 8;

/// Fragments an mbuf chain on the death row stands for. rte_ip_frag chains
/// fragments together before it knows a set is invalid, so one entry may
/// carry several; each fragment's head segment recorded its segment count
/// when it was taken (PacketMeta::hold_segs), which lets us step from head to head.
uint64_t fragments_in_chain(rte_mbuf* m) {
  uint64_t n = 0;
  while (m != nullptr) {
    ++n;
    unsigned segs = std::max<unsigned>(1, meta(m).hold_segs);
    for (unsigned i = 0; i < segs && m != nullptr; ++i) m = m->next;
  }
  return n;
}

/// Writes the IPv4 header checksum of a contiguous header.
void set_ipv4_checksum(uint8_t* ip) {
  unsigned ihl = (ip[0] & 0x0fu) * 4u;
  ip[10] = 0;
  ip[11] = 0;
  uint16_t ck = static_cast<uint16_t>(~rte_raw_cksum(ip, ihl));
  std::memcpy(ip + 10, &ck, 2); // the sum is in memory order already
}

} // namespace

FragmentCounters& FragmentCounters::operator+=(const FragmentCounters& o) {
  taken += o.taken;
  reassembled += o.reassembled;
  merged += o.merged;
  timed_out += o.timed_out;
  invalid += o.invalid;
  table_full += o.table_full;
  flushed += o.flushed;
  return *this;
}

std::unique_ptr<FragmentReassembler> FragmentReassembler::create(const FragmentConfig& cfg, std::string& err) {
  if (cfg.capacity == 0 || cfg.bucket_entries == 0 || !rte_is_power_of_2(cfg.bucket_entries)) {
    err = "fragment table: capacity must be > 0 and bucket entries a power of 2";
    return nullptr;
  }
  if (cfg.timeout == 0 || cfg.timeout > (uint64_t{1} << 62)) {
    err = "fragment table: timeout must be > 0 (and below 2^62 clock units)";
    return nullptr;
  }
  std::unique_ptr<FragmentReassembler> r(new FragmentReassembler());
  uint32_t buckets = (cfg.capacity + cfg.bucket_entries - 1) / cfg.bucket_entries;
  r->tbl_ = rte_ip_frag_table_create(buckets, cfg.bucket_entries, cfg.capacity, cfg.timeout, cfg.socket_id);
  if (r->tbl_ == nullptr) {
    err = "fragment table: rte_ip_frag_table_create failed (capacity " + std::to_string(cfg.capacity) + ")";
    return nullptr;
  }
  r->dr_ = std::make_unique<rte_ip_frag_death_row>();
  r->dr_->cnt = 0;
  return r;
}

FragmentReassembler::~FragmentReassembler() {
  if (tbl_ == nullptr) return;
  flush();
  rte_ip_frag_table_destroy(tbl_);
}

void FragmentReassembler::count(uint64_t FragmentCounters::*field, uint64_t n) {
  total_.*field += n;
  since_drain_.*field += n;
}

FragmentCounters FragmentReassembler::drain() {
  FragmentCounters c = since_drain_;
  since_drain_ = FragmentCounters{};
  return c;
}

void FragmentReassembler::free_death_row(FreeReason why) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < dr_->cnt; ++i) n += fragments_in_chain(dr_->row[i]);
  rte_ip_frag_free_death_row(dr_.get(), 0);
  held_ -= n;
  switch (why) {
    case FreeReason::timed_out: count(&FragmentCounters::timed_out, n); break;
    case FreeReason::invalid: count(&FragmentCounters::invalid, n); break;
    case FreeReason::table_full: count(&FragmentCounters::table_full, n); break;
    case FreeReason::flushed: count(&FragmentCounters::flushed, n); break;
  }
}

void FragmentReassembler::expire(uint64_t now) {
  clock_ = std::max(clock_, now);
  // The table's LRU is ordered by start time (the clock is monotonic), so this
  // removes every expired datagram; it stops early only when the death row is
  // full, hence the loop.
  while (true) {
    rte_ip_frag_table_del_expired_entries(tbl_, dr_.get(), clock_);
    if (dr_->cnt == 0) break;
    free_death_row(FreeReason::timed_out);
  }
}

void FragmentReassembler::flush() {
  while (held_ != 0) {
    rte_ip_frag_table_del_expired_entries(tbl_, dr_.get(), UINT64_MAX);
    if (dr_->cnt == 0) break;
    free_death_row(FreeReason::flushed);
  }
}

rte_mbuf* FragmentReassembler::add(rte_mbuf* m, const DecodeConfig& dc, uint64_t now) {
  // Expiring first means the call below never meets a stale datagram, so all
  // it may free is the set this fragment belongs to (invalid) or this fragment
  // alone (no room): the death row then tells the reason exactly.
  expire(now);

  PacketMeta& pm = meta(m);
  const uint64_t ts = pm.timestamp_ns;
  const uint16_t port = pm.in_port;
  const bool v4 = pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv4);
  count(&FragmentCounters::taken, 1);
  ++held_;
  pm.hold_segs = static_cast<uint8_t>(std::min<uint16_t>(m->nb_segs, 255));

  rte_mbuf* out = nullptr;
  m->l2_len = pm.l3_offset;
  if (v4) {
    m->l3_len = pm.ip_hdr_len;
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, pm.l3_offset);
    out = rte_ipv4_frag_reassemble_packet(tbl_, dr_.get(), m, clock_, ip);
  } else {
    // The decoder only lets through fragment headers right after the fixed header.
    m->l3_len = sizeof(rte_ipv6_hdr) + ipv6_frag_hdr_len;
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, pm.l3_offset);
    auto* fh = rte_pktmbuf_mtod_offset(m, rte_ipv6_fragment_ext*, pm.frag_hdr_offset);
    out = rte_ipv6_frag_reassemble_packet(tbl_, dr_.get(), m, clock_, ip, fh);
  }

  if (dr_->cnt != 0) {
    // An invalid set always frees at least two fragments (the one already
    // there that this one duplicates, overlaps or exceeds, and this one).
    bool alone = out == nullptr && dr_->cnt == 1 && dr_->row[0] == m && fragments_in_chain(m) == 1;
    free_death_row(alone ? FreeReason::table_full : FreeReason::invalid);
  }
  if (out == nullptr) return nullptr;

  uint64_t merged = fragments_in_chain(out);
  held_ -= merged;
  count(&FragmentCounters::merged, merged);
  count(&FragmentCounters::reassembled, 1);

  // The NIC's checksum verdicts were about the first fragment only.
  out->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
  if (v4) set_ipv4_checksum(rte_pktmbuf_mtod_offset(out, uint8_t*, out->l2_len)); // rte_ip_frag zeroed it
  PacketMeta& om = meta(out);
  om.timestamp_ns = ts;
  om.in_port = port;
  decode(out, dc);
  om.flags |= meta_flag::reassembled;
  return out;
}

namespace {

/// Shared part of fragment_ipv4/ipv6: detach the L2 header, split, put the L2
/// header back on every piece, finish each piece with `finish`, decode it.
template <class Split, class Finish>
int fragment_frame(rte_mbuf* m, std::span<rte_mbuf*> out, rte_mempool* direct, const DecodeConfig& dc, Split split,
                   Finish finish) {
  const PacketMeta& pm = meta(m);
  uint16_t l2 = pm.l3_offset;
  uint8_t l2_hdr[64];
  if (rte_pktmbuf_priv_size(direct) < sizeof(PacketMeta) || l2 > sizeof(l2_hdr) || l2 > rte_pktmbuf_data_len(m) ||
      out.empty())
    return -EINVAL;
  std::memcpy(l2_hdr, rte_pktmbuf_mtod(m, const uint8_t*), l2);
  // Link padding after the datagram must not become fragment data.
  uint32_t frame = uint32_t{l2} + pm.ip_total_len;
  if (rte_pktmbuf_pkt_len(m) > frame) {
    uint32_t extra = rte_pktmbuf_pkt_len(m) - frame;
    if (rte_pktmbuf_trim(m, static_cast<uint16_t>(extra)) != 0) return -EINVAL;
  }
  const uint64_t ts = pm.timestamp_ns;
  const uint16_t port = pm.in_port;
  rte_pktmbuf_adj(m, l2);
  int n = split(m, out.data(), static_cast<uint16_t>(std::min<std::size_t>(out.size(), UINT16_MAX)));
  rte_pktmbuf_prepend(m, l2);
  if (n < 0) return n;
  for (int i = 0; i < n; ++i) {
    rte_mbuf* f = out[i];
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(f, l2));
    if (p == nullptr) { // no headroom: cannot happen with a pktmbuf pool's default headroom
      for (int j = 0; j < n; ++j) rte_pktmbuf_free(out[j]);
      return -ENOMEM;
    }
    std::memcpy(p, l2_hdr, l2);
    f->ol_flags = 0;
    finish(p + l2, i);
    PacketMeta& fm = meta(f);
    fm.timestamp_ns = ts;
    fm.in_port = port;
    decode(f, dc);
  }
  return n;
}

} // namespace

int fragment_ipv4(rte_mbuf* m, uint16_t mtu, std::span<rte_mbuf*> out, rte_mempool* direct, rte_mempool* indirect,
                  const DecodeConfig& dc) {
  const PacketMeta& pm = meta(m);
  if (pm.l3_kind != static_cast<uint8_t>(L3Kind::ipv4) || direct == nullptr || indirect == nullptr) return -EINVAL;
  uint16_t ihl = pm.ip_hdr_len;
  if (mtu < ihl + 8) return -EINVAL;
  // Whole 8-byte units of data per fragment (RFC 791).
  auto mtu8 = static_cast<uint16_t>(ihl + ((mtu - ihl) & ~7u));
  return fragment_frame(
      m, out, direct, dc,
      [&](rte_mbuf* pkt, rte_mbuf** o, uint16_t n) { return rte_ipv4_fragment_packet(pkt, o, n, mtu8, direct, indirect); },
      [](uint8_t* ip, int) { set_ipv4_checksum(ip); });
}

int fragment_ipv6(rte_mbuf* m, uint16_t mtu, std::span<rte_mbuf*> out, rte_mempool* direct, rte_mempool* indirect,
                  const DecodeConfig& dc, uint32_t ident) {
  const PacketMeta& pm = meta(m);
  if (pm.l3_kind != static_cast<uint8_t>(L3Kind::ipv6) || direct == nullptr || indirect == nullptr) return -EINVAL;
  constexpr uint16_t fixed = sizeof(rte_ipv6_hdr) + ipv6_frag_hdr_len;
  if (mtu < RTE_IPV6_MIN_MTU) return -EINVAL;
  uint8_t buf;
  auto nh = static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l3_offset + 6u, 1, &buf));
  if (nh == nullptr) return -EINVAL;
  // Hop-by-hop and routing headers are not fragmentable: rte_ipv6_fragment_packet
  // would put them behind the fragment header.
  if (*nh == 0 || *nh == 43 || *nh == 44) return -ENOTSUP;
  auto mtu8 = static_cast<uint16_t>(fixed + ((mtu - fixed) & ~7u));
  const uint32_t id_be = rte_cpu_to_be_32(ident);
  return fragment_frame(
      m, out, direct, dc,
      [&](rte_mbuf* pkt, rte_mbuf** o, uint16_t n) { return rte_ipv6_fragment_packet(pkt, o, n, mtu8, direct, indirect); },
      [&](uint8_t* ip, int) { std::memcpy(ip + sizeof(rte_ipv6_hdr) + 4, &id_be, 4); });
}

} // namespace haka::net
