#include "net/rewrite.hpp"

#include <algorithm>

#include <rte_ip.h>

namespace haka::net {

namespace {

constexpr const char* error_names[] = {
    "none",
#define X(id, name, text) name,
#include "net/rewrite_outcomes.def"
#undef X
};
constexpr const char* error_texts[] = {
    "not refused",
#define X(id, name, text) text,
#include "net/rewrite_outcomes.def"
#undef X
};
static_assert(std::size(error_names) == rewrite_error_count);

constexpr uint8_t tcp_fin = 0x01;
constexpr uint8_t tcp_psh = 0x08;
constexpr unsigned tcp_checksum_at = 16;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

inline uint32_t fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

/// Ones'-complement sum (memory-order words) of bytes laid end to end, pieces
/// of any length: a piece starting at an odd position has its words swapped.
struct RunningSum {
  uint64_t sum = 0;
  bool odd = false;
  void add(const uint8_t* p, std::size_t n) {
    if (n == 0) return;
    const uint16_t part = __rte_raw_cksum_reduce(__rte_raw_cksum(p, n, 0));
    sum += odd ? rte_bswap16(part) : part;
    odd ^= (n & 1) != 0;
  }
};

/// The header checks every rewrite shares: decoded, unfragmented IPv4/IPv6
/// TCP with all headers in the first mbuf segment.
RewriteError check_headers(const rte_mbuf* m) {
  const PacketMeta& pm = meta(m);
  const bool ip = pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv4) || pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv6);
  if (pm.decoded == 0 || !ip || pm.l4_proto != 6 || pm.tcp_hdr_len < 20 || (pm.flags & meta_flag::fragment) != 0)
    return RewriteError::not_tcp;
  if (pm.payload_offset > rte_pktmbuf_data_len(m)) return RewriteError::headers_split;
  return RewriteError::none;
}

/// The IPv6 destination the TCP pseudo-header uses: the final one when a
/// routing header still has segments left (RFC 8200 §8.1), as the decoder
/// computes it. `ip` points at the IPv6 header, `hdr_len` = 40 + extensions.
const uint8_t* ipv6_pseudo_dst(const uint8_t* ip, unsigned hdr_len) {
  const uint8_t* dst = ip + 24;
  uint8_t nh = ip[6];
  unsigned off = 40;
  while (off + 2 <= hdr_len && (nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60)) {
    const uint8_t* e = ip + off;
    unsigned elen = nh == 44 ? 8u : nh == 51 ? (e[1] + 2u) * 4u : (e[1] + 1u) * 8u;
    if (off + elen > hdr_len) break;
    if (nh == 43 && elen >= 24 && e[3] != 0) {
      const uint8_t type = e[2];
      if (type == 4) dst = e + 8;
      else if (type == 0 || type == 2) dst = e + elen - 16;
    }
    nh = e[0];
    off += elen;
  }
  return dst;
}

/// Sum of the TCP pseudo-header (memory order, unfolded) for `l4_len` bytes.
uint64_t pseudo_sum(const uint8_t* ip, bool v6, unsigned ip_hdr_len, uint32_t l4_len) {
  RunningSum s;
  if (v6) {
    s.add(ip + 8, 16);
    s.add(ipv6_pseudo_dst(ip, ip_hdr_len), 16);
    return s.sum + rte_cpu_to_be_16(static_cast<uint16_t>(l4_len >> 16)) +
           rte_cpu_to_be_16(static_cast<uint16_t>(l4_len & 0xffff)) + rte_cpu_to_be_16(6);
  }
  s.add(ip + 12, 8);
  return s.sum + rte_cpu_to_be_16(6) + rte_cpu_to_be_16(static_cast<uint16_t>(l4_len));
}

void free_all(std::span<rte_mbuf*> made, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    rte_pktmbuf_free(made[i]);
    made[i] = nullptr;
  }
}

/// Walks the payload pieces as one byte sequence.
struct PieceCursor {
  std::span<const std::span<const uint8_t>> pieces;
  std::size_t piece = 0, at = 0;
  /// Up to `max` contiguous bytes from the current position; advances.
  std::span<const uint8_t> take(std::size_t max) {
    while (piece < pieces.size() && at == pieces[piece].size()) {
      ++piece;
      at = 0;
    }
    if (piece == pieces.size()) return {};
    const std::size_t n = std::min(max, pieces[piece].size() - at);
    std::span<const uint8_t> r = pieces[piece].subspan(at, n);
    at += n;
    return r;
  }
};

} // namespace

const char* rewrite_error_name(RewriteError e) { return error_names[static_cast<std::size_t>(e)]; }
const char* rewrite_error_meaning(RewriteError e) { return error_texts[static_cast<std::size_t>(e)]; }

namespace detail {

uint8_t* tcp_header(rte_mbuf* m, RewriteError& err) {
  err = check_headers(m);
  if (err != RewriteError::none) return nullptr;
  return rte_pktmbuf_mtod_offset(m, uint8_t*, meta(m).l4_offset);
}

void write32(uint8_t* tcp, unsigned at, uint32_t value, bool offload) {
  if (offload) {
    put32(tcp + at, value);
    return;
  }
  // The 16-bit words (aligned on the TCP header) that hold the field: two, or
  // three when it starts at an odd offset.
  const unsigned lo = at & ~1u, hi = (at + 5u) & ~1u;
  uint8_t before[6], after[6];
  std::memcpy(before, tcp + lo, hi - lo);
  put32(tcp + at, value);
  std::memcpy(after, tcp + lo, hi - lo);
  uint16_t ck;
  std::memcpy(&ck, tcp + tcp_checksum_at, 2);
  ck = checksum_adjust(ck, before, after, hi - lo);
  std::memcpy(tcp + tcp_checksum_at, &ck, 2);
}

} // namespace detail

bool set_seq_ack(rte_mbuf* m, uint32_t seq, uint32_t ack, bool offload) {
  RewriteError err;
  uint8_t* tcp = detail::tcp_header(m, err);
  if (tcp == nullptr) return false;
  if (offload) {
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
  } else {
    uint8_t before[8];
    std::memcpy(before, tcp + 4, 8);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    uint16_t ck;
    std::memcpy(&ck, tcp + tcp_checksum_at, 2);
    ck = checksum_adjust(ck, before, tcp + 4, 8);
    std::memcpy(tcp + tcp_checksum_at, &ck, 2);
  }
  PacketMeta& pm = meta(m);
  pm.tcp_seq = seq;
  pm.tcp_ack = ack;
  return true;
}

int build_segments(rte_mempool* pool, const rte_mbuf* templ, uint32_t seq, uint32_t ack,
                   std::span<const std::span<const uint8_t>> payload_pieces, uint16_t max_payload, bool offload,
                   std::span<rte_mbuf*> out) {
  const RewriteError herr = check_headers(templ);
  if (herr != RewriteError::none) return -static_cast<int>(herr);
  const PacketMeta& tm = meta(templ);
  const bool v6 = tm.l3_kind == static_cast<uint8_t>(L3Kind::ipv6);
  const unsigned hdr_len = tm.payload_offset; // link + IP + TCP headers
  const unsigned l3 = tm.l3_offset, l4 = tm.l4_offset;
  const unsigned ip_hdr_len = tm.ip_hdr_len, tcp_hdr_len = tm.tcp_hdr_len;

  std::size_t total = 0;
  for (auto p : payload_pieces) total += p.size();
  if (total != 0 && max_payload == 0) return -static_cast<int>(RewriteError::bad_max_payload);
  const std::size_t count = total == 0 ? 1 : (total + max_payload - 1) / max_payload;
  if (count > out.size()) return -static_cast<int>(RewriteError::out_too_small);
  // IPv4 total length and IPv6 payload length are 16-bit (no jumbograms).
  const std::size_t largest = std::min<std::size_t>(total, max_payload);
  const std::size_t ip_len = ip_hdr_len + tcp_hdr_len + largest;
  if ((v6 ? ip_len - 40 : ip_len) > UINT16_MAX || l3 + ip_len > UINT16_MAX) return -static_cast<int>(RewriteError::too_large);

  const uint8_t* th = rte_pktmbuf_mtod(templ, const uint8_t*);
  const uint16_t ip_id = v6 ? 0 : be16(th + l3 + 4);
  const uint8_t flags = th[l4 + 13];
  PieceCursor cur{payload_pieces};
  std::size_t left = total;
  for (std::size_t k = 0; k < count; ++k) {
    const uint32_t seg_len = static_cast<uint32_t>(std::min<std::size_t>(left, max_payload));
    left -= seg_len;
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
      free_all(out, k);
      return -static_cast<int>(RewriteError::pool_empty);
    }
    out[k] = m;
    if (rte_pktmbuf_tailroom(m) < hdr_len) {
      free_all(out, k + 1);
      return -static_cast<int>(RewriteError::too_large);
    }
    auto* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(hdr_len)));
    std::memcpy(h, th, hdr_len);
    uint8_t* ip = h + l3;
    uint8_t* tcp = h + l4;

    // Payload, chaining further mbufs when one is not enough.
    RunningSum payload_sum;
    uint32_t to_copy = seg_len;
    rte_mbuf* tail = m;
    while (to_copy != 0) {
      if (rte_pktmbuf_tailroom(tail) == 0) {
        rte_mbuf* more = rte_pktmbuf_alloc(pool);
        if (more == nullptr) {
          free_all(out, k + 1);
          return -static_cast<int>(RewriteError::pool_empty);
        }
        if (rte_pktmbuf_chain(m, more) != 0) {
          rte_pktmbuf_free(more);
          free_all(out, k + 1);
          return -static_cast<int>(RewriteError::too_large);
        }
        tail = more;
      }
      std::span<const uint8_t> piece = cur.take(std::min<uint32_t>(to_copy, rte_pktmbuf_tailroom(tail)));
      uint8_t* dst = rte_pktmbuf_mtod_offset(tail, uint8_t*, rte_pktmbuf_data_len(tail));
      std::memcpy(dst, piece.data(), piece.size());
      tail->data_len = static_cast<uint16_t>(tail->data_len + piece.size());
      if (tail != m) m->pkt_len += static_cast<uint32_t>(piece.size());
      else m->pkt_len = tail->data_len;
      payload_sum.add(dst, piece.size());
      to_copy -= static_cast<uint32_t>(piece.size());
    }

    // IP.
    const uint32_t l4_len = tcp_hdr_len + seg_len;
    const uint32_t ip_total = ip_hdr_len + l4_len;
    if (v6) {
      put16(ip + 4, static_cast<uint16_t>(ip_total - 40));
    } else {
      put16(ip + 2, static_cast<uint16_t>(ip_total));
      put16(ip + 4, static_cast<uint16_t>(ip_id + k));
      put16(ip + 6, static_cast<uint16_t>(be16(ip + 6) & 0xc000)); // keep DF (and the reserved bit), no fragment
      put16(ip + 10, 0);
      const uint16_t ick = static_cast<uint16_t>(~rte_raw_cksum(ip, ip_hdr_len));
      std::memcpy(ip + 10, &ick, 2);
    }

    // TCP.
    put32(tcp + 4, seq + static_cast<uint32_t>(k * max_payload));
    put32(tcp + 8, ack);
    const bool last = k + 1 == count;
    tcp[13] = last ? flags : static_cast<uint8_t>(flags & ~(tcp_fin | tcp_psh));
    put16(tcp + tcp_checksum_at, 0);
    const uint64_t pseudo = pseudo_sum(ip, v6, ip_hdr_len, l4_len);
    uint16_t ck;
    if (offload) {
      ck = static_cast<uint16_t>(fold(pseudo));
      m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM | (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
      m->l2_len = l3;
      m->l3_len = ip_hdr_len;
      m->l4_len = tcp_hdr_len;
    } else {
      RunningSum hs;
      hs.add(tcp, tcp_hdr_len); // even length: the payload's sum keeps its alignment
      ck = static_cast<uint16_t>(~fold(pseudo + hs.sum + payload_sum.sum));
    }
    std::memcpy(tcp + tcp_checksum_at, &ck, 2);

    m->port = templ->port;
    m->vlan_tci = templ->vlan_tci;
    m->vlan_tci_outer = templ->vlan_tci_outer;
    PacketMeta& pm = meta(m);
    pm = tm;
    pm.payload_len = static_cast<uint16_t>(seg_len);
    pm.ip_total_len = static_cast<uint16_t>(ip_total);
    pm.tcp_seq = seq + static_cast<uint32_t>(k * max_payload);
    pm.tcp_ack = ack;
    pm.tcp_flags = tcp[13];
    pm.flags = static_cast<uint8_t>(pm.flags & ~(meta_flag::fragment | meta_flag::more_fragments));
  }
  return static_cast<int>(count);
}

} // namespace haka::net
