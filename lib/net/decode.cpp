#include "net/decode.hpp"

#include <algorithm>
#include <cstring>

#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

namespace haka::net {

namespace {

constexpr const char* outcome_names[] = {
#define X(id, name, verdict, text) name,
#include "net/decode_outcomes.def"
#undef X
};
constexpr const char* outcome_texts[] = {
#define X(id, name, verdict, text) text,
#include "net/decode_outcomes.def"
#undef X
};
static_assert(std::size(outcome_names) == decode_outcome_count);

using O = DecodeOutcome;

constexpr uint8_t proto_hbh = 0;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_routing = 43;
constexpr uint8_t proto_fragment = 44;
constexpr uint8_t proto_ah = 51;
constexpr uint8_t proto_dstopts = 60;

constexpr unsigned max_vlan_tags = 2;
constexpr unsigned max_ipv6_ext_headers = 8;
constexpr uint32_t max_frame = 65535; // offsets in PacketMeta are 16-bit
constexpr uint32_t flow_hash_seed = 0x9e3779b9;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

/// `len` bytes at `off`: in place when contiguous, else copied into `buf`;
/// nullptr when the packet is shorter (rte_pktmbuf_read checks pkt_len).
inline const uint8_t* bytes_at(const rte_mbuf* m, uint32_t off, uint32_t len, uint8_t* buf) {
  return static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, len, buf));
}

/// Ones'-complement sum of 16-bit words as laid out in memory, folded to 16
/// bits. Sums 32-bit halves of
/// 64-bit loads: folding makes that equal to the 16-bit word sum, at about
/// four times the speed of DPDK's word-at-a-time __rte_raw_cksum. An odd last
/// byte counts as the first byte of a word, as DPDK does.
inline uint32_t word_sum(const uint8_t* p, std::size_t n) {
  uint64_t s = 0;
  for (; n >= 32; p += 32, n -= 32) {
    uint64_t a, b, c, d;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    std::memcpy(&c, p + 16, 8);
    std::memcpy(&d, p + 24, 8);
    s += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + (c & 0xffffffff) + (c >> 32) +
         (d & 0xffffffff) + (d >> 32);
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t a;
    std::memcpy(&a, p, 8);
    s += (a & 0xffffffff) + (a >> 32);
  }
  for (; n >= 2; p += 2, n -= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
  }
  if (n != 0) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);
    s += w;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

/// Ones'-complement sum (folded to 16 bits, memory order) of the packet bytes
/// [off, off + len), segment by segment. Our own rather than
/// rte_raw_cksum_mbuf: DPDK 22.11's swaps an unfolded 32-bit partial sum for
/// pieces that start at an odd offset, which is wrong when the piece carried.
inline bool packet_sum(const rte_mbuf* m, uint32_t off, uint32_t len, uint32_t& out) {
  if (off + len <= rte_pktmbuf_data_len(m)) [[likely]] {
    out = __rte_raw_cksum_reduce(word_sum(rte_pktmbuf_mtod_offset(m, const uint8_t*, off), len));
    return true;
  }
  if (off + len > rte_pktmbuf_pkt_len(m)) return false;
  const rte_mbuf* seg = m;
  while (off >= rte_pktmbuf_data_len(seg)) {
    off -= rte_pktmbuf_data_len(seg);
    seg = seg->next;
  }
  uint32_t sum = 0;
  bool odd = false; // an odd number of bytes summed so far: this piece's words are byte-swapped
  while (len != 0) {
    uint32_t n = std::min<uint32_t>(len, rte_pktmbuf_data_len(seg) - off);
    uint16_t part = __rte_raw_cksum_reduce(word_sum(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), n));
    sum += odd ? rte_bswap16(part) : part;
    odd ^= (n & 1) != 0;
    len -= n;
    off = 0;
    seg = seg->next;
  }
  out = __rte_raw_cksum_reduce(sum);
  return true;
}

/// True when the L4 bytes plus the pseudo-header sum fold to 0xffff.
inline bool l4_checksum_ok(const rte_mbuf* m, uint32_t l4_off, uint32_t l4_len, uint32_t pseudo) {
  uint32_t sum = 0;
  if (!packet_sum(m, l4_off, l4_len, sum)) return false;
  return __rte_raw_cksum_reduce(pseudo + sum) == 0xffff;
}

/// One packet's decoding. Fields are written into `pm` as layers are reached.
class Decoder {
 public:
  Decoder(rte_mbuf* m, PacketMeta& pm, const DecodeConfig& cfg) : m_(m), pm_(pm), cfg_(cfg) {}

  DecodeOutcome run() {
    uint32_t len = rte_pktmbuf_pkt_len(m_);
    uint8_t buf[20];
    switch (cfg_.link) {
      case LinkType::ethernet: {
        DecodeOutcome fast;
        if (ipv4_tcp_fast(fast)) [[likely]]
          return fast;
        const uint8_t* p = bytes_at(m_, 0, 14, buf);
        if (p == nullptr) return O::l2_truncated;
        return ethertype(be16(p + 12), 14);
      }
      case LinkType::linux_sll: {
        const uint8_t* p = bytes_at(m_, 0, 16, buf);
        if (p == nullptr) return O::l2_truncated;
        return ethertype(be16(p + 14), 16);
      }
      case LinkType::linux_sll2: {
        const uint8_t* p = bytes_at(m_, 0, 20, buf);
        if (p == nullptr) return O::l2_truncated;
        return ethertype(be16(p), 20);
      }
      case LinkType::raw_ip: {
        if (len == 0) return O::l2_truncated;
        const uint8_t* p = bytes_at(m_, 0, 1, buf);
        unsigned v = p[0] >> 4;
        if (v == 4) return ipv4(0);
        if (v == 6) return ipv6(0);
        return O::ip_bad_version;
      }
      case LinkType::ipv4: return ipv4(0);
      case LinkType::ipv6: return ipv6(0);
    }
    return O::l2_truncated;
  }

 private:
  /// The common frame in one pass: Ethernet without VLAN tags, IPv4 without
  /// options, not a fragment, TCP, all headers in the first segment, and an
  /// IPv4 header the NIC verified (or that verifies here). Writes the same
  /// fields and gives the same outcome as ethertype() -> ipv4() -> tcp(), without
  /// their per-header rte_pktmbuf_read and repeated bounds checks. Any other
  /// packet makes it return false before it writes a field, and the general
  /// path decodes it (and names what is wrong with it).
  bool ipv4_tcp_fast(DecodeOutcome& out) {
    constexpr uint32_t l3 = 14, l4 = l3 + 20;
    const uint32_t seg_len = rte_pktmbuf_data_len(m_);
    if (seg_len < l4 + 20) return false;
    const uint8_t* f = rte_pktmbuf_mtod(m_, const uint8_t*);
    const uint8_t* h = f + l3;
    const uint8_t* t = f + l4;
    // 0x45: version 4, IHL 5. 0x3fff: MF and the fragment offset (DF may be set).
    if (be16(f + 12) != 0x0800 || h[0] != 0x45 || h[9] != proto_tcp || (be16(h + 6) & 0x3fffu) != 0) return false;
    const uint32_t total = be16(h + 2);
    const uint32_t l4_len = total - 20;
    const unsigned doff = (t[12] >> 4) * 4u;
    // Bad lengths (and a TCP header that is not whole in this segment) are the general path's.
    if (total < 40 || total > rte_pktmbuf_pkt_len(m_) - l3 || l3 + total > max_frame || doff < 20 || doff > l4_len ||
        l4 + doff > seg_len)
      return false;
    const uint64_t ip_ck = m_->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (ip_ck == RTE_MBUF_F_RX_IP_CKSUM_BAD) return false;
    if (ip_ck == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN && cfg_.verify_ipv4_checksum &&
        __rte_raw_cksum_reduce(word_sum(h, 20)) != 0xffff)
      return false;

    pm_.l3_kind = static_cast<uint8_t>(L3Kind::ipv4);
    pm_.l3_offset = l3;
    pm_.ip_hdr_len = 20;
    pm_.ip_total_len = static_cast<uint16_t>(total);
    pm_.l4_proto = proto_tcp;
    pm_.l4_offset = l4;
    const uint16_t sport = be16(t), dport = be16(t + 2);
    set_hash(h + 12, h + 16, 4, sport, dport, proto_tcp);
    pm_.tcp_hdr_len = static_cast<uint8_t>(doff);
    pm_.tcp_seq = be32(t + 4);
    pm_.tcp_ack = be32(t + 8);
    pm_.tcp_flags = t[13];
    pm_.tcp_window = be16(t + 14);
    pm_.payload_offset = static_cast<uint16_t>(l4 + doff);
    pm_.payload_len = static_cast<uint16_t>(l4_len - doff);
    out = doff > 20 ? tcp_options(t, doff, l4) : O::tcp;
    if (out != O::tcp) return true;
    // As in tcp(): options first, then the NIC's checksum verdict or ours.
    const uint64_t l4_ck = m_->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4_ck == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
      out = O::tcp_bad_checksum;
    } else if (l4_ck == RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN && cfg_.verify_tcp_checksum) {
      const uint32_t pseudo =
          word_sum(h + 12, 8) + rte_cpu_to_be_16(proto_tcp) + rte_cpu_to_be_16(static_cast<uint16_t>(l4_len));
      if (!l4_checksum_ok(m_, l4, l4_len, pseudo)) out = O::tcp_bad_checksum;
    }
    return true;
  }

  /// After an ethertype field ending at `off`: VLAN tags, then IP or not.
  DecodeOutcome ethertype(uint16_t type, uint32_t off) {
    unsigned tags = 0;
    while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
      if (++tags > max_vlan_tags) return O::vlan_too_deep;
      uint8_t buf[4];
      const uint8_t* p = bytes_at(m_, off, 4, buf);
      if (p == nullptr) return O::l2_truncated;
      type = be16(p + 2);
      off += 4;
    }
    if (type == 0x0800) return ipv4(off);
    if (type == 0x86dd) return ipv6(off);
    return O::non_ip;
  }

  static bool ipv4_options_ok(const uint8_t* o, unsigned len) {
    unsigned i = 0;
    while (i < len) {
      uint8_t kind = o[i];
      if (kind == 0) break; // end of options list
      if (kind == 1) {      // no-operation
        ++i;
        continue;
      }
      if (i + 1 >= len) return false;
      unsigned olen = o[i + 1];
      if (olen < 2 || i + olen > len) return false;
      i += olen;
    }
    return true;
  }

  DecodeOutcome ipv4(uint32_t l3) {
    pm_.l3_kind = static_cast<uint8_t>(L3Kind::ipv4);
    pm_.l3_offset = static_cast<uint16_t>(l3);
    uint32_t avail = rte_pktmbuf_pkt_len(m_) - l3;
    uint8_t buf[60];
    if (avail < 20) return O::ipv4_truncated;
    const uint8_t* h = bytes_at(m_, l3, 20, buf);
    if ((h[0] >> 4) != 4) return O::ip_bad_version;
    unsigned ihl = (h[0] & 0x0fu) * 4u;
    if (ihl < 20) return O::ipv4_bad_ihl;
    if (avail < ihl) return O::ipv4_truncated;
    if (ihl > 20) h = bytes_at(m_, l3, ihl, buf);
    uint16_t total = be16(h + 2);
    pm_.ip_hdr_len = static_cast<uint16_t>(ihl);
    pm_.ip_total_len = total;
    // Anything past total_length is link padding (short Ethernet frames): ignored.
    if (total < ihl || total > avail || l3 + total > max_frame) return O::ipv4_bad_total_length;

    uint64_t ck = m_->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD) return O::ipv4_bad_checksum;
    if (ck == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN && cfg_.verify_ipv4_checksum &&
        __rte_raw_cksum_reduce(word_sum(h, ihl)) != 0xffff)
      return O::ipv4_bad_checksum;
    if (ihl > 20) {
      pm_.flags |= meta_flag::ip_options;
      if (!ipv4_options_ok(h + 20, ihl - 20)) return O::ipv4_bad_option;
    }

    uint8_t proto = h[9];
    uint32_t l4 = l3 + ihl;
    uint32_t l4_len = total - ihl;
    pm_.l4_proto = proto;
    pm_.l4_offset = static_cast<uint16_t>(l4);
    pm_.payload_offset = static_cast<uint16_t>(l4);
    pm_.payload_len = static_cast<uint16_t>(l4_len);
    const uint8_t* src = h + 12;
    const uint8_t* dst = h + 16;

    uint16_t fo = be16(h + 6);
    bool more = (fo & 0x2000) != 0;
    uint32_t frag_off = (fo & 0x1fffu) * 8u;
    if (more || frag_off != 0) {
      set_hash(src, dst, 4, 0, 0, proto);
      pm_.flags |= meta_flag::fragment | (more ? meta_flag::more_fragments : 0);
      pm_.frag_offset = static_cast<uint16_t>(frag_off);
      if (l4_len == 0 || (more && l4_len % 8 != 0)) return O::frag_bad_length;
      if (frag_off + l4_len + ihl > 65535) return O::frag_oversized;
      if (proto != proto_tcp) return O::ip_other;
      if (frag_off == 0) {
        DecodeOutcome o = first_fragment_tcp(l4, l4_len);
        if (o != O::fragment) return o;
      } else if (frag_off < 20) {
        return O::frag_l4_header_overlap;
      }
      // rte_ip_frag adjusts and rewrites the headers in the first segment;
      // the reassembler counts a held fragment's segments in 8 bits.
      if (l4 > rte_pktmbuf_data_len(m_) || m_->nb_segs > UINT8_MAX) return O::frag_split_header;
      return O::fragment;
    }
    if (proto != proto_tcp) {
      set_hash(src, dst, 4, 0, 0, proto);
      return O::ip_other;
    }
    uint32_t pseudo = word_sum(src, 8) + rte_cpu_to_be_16(proto_tcp) + rte_cpu_to_be_16(static_cast<uint16_t>(l4_len));
    return tcp(l4, l4_len, src, dst, 4, pseudo);
  }

  /// A first fragment must carry the whole TCP header (RFC 1858): otherwise
  /// flags or ports could be decided by a later, overlapping fragment.
  DecodeOutcome first_fragment_tcp(uint32_t l4, uint32_t frag_len) {
    if (frag_len < 20) return O::frag_tiny_first;
    uint8_t b;
    const uint8_t* p = bytes_at(m_, l4 + 12, 1, &b);
    unsigned doff = (p[0] >> 4) * 4u;
    if (doff < 20) return O::tcp_bad_data_offset;
    if (doff > frag_len) return O::frag_tiny_first;
    return O::fragment;
  }

  DecodeOutcome ipv6(uint32_t l3) {
    pm_.l3_kind = static_cast<uint8_t>(L3Kind::ipv6);
    pm_.l3_offset = static_cast<uint16_t>(l3);
    uint32_t avail = rte_pktmbuf_pkt_len(m_) - l3;
    uint8_t hbuf[40];
    if (avail < 40) return O::ipv6_truncated;
    const uint8_t* h = bytes_at(m_, l3, 40, hbuf);
    if ((h[0] >> 4) != 6) return O::ip_bad_version;
    uint32_t total = 40u + be16(h + 4);
    if (total > avail || l3 + total > max_frame) return O::ipv6_bad_payload_length;
    pm_.ip_total_len = static_cast<uint16_t>(total);
    const uint8_t* src = h + 8;
    const uint8_t* dst = h + 24;
    const uint8_t* final_dst = dst; // for the pseudo header (RFC 8200 8.1)
    uint8_t final_buf[16];

    uint8_t nh = h[6];
    uint32_t off = l3 + 40;
    uint32_t end = l3 + total;
    unsigned count = 0;
    bool frag = false, more = false;
    uint32_t frag_off = 0, frag_hdr = 0;
    auto truncated = [&] { return frag ? O::frag_tiny_first : O::ipv6_ext_truncated; };
    while (nh == proto_hbh || nh == proto_routing || nh == proto_fragment || nh == proto_dstopts || nh == proto_ah) {
      if (++count > max_ipv6_ext_headers) return O::ipv6_ext_chain_too_long;
      if (nh == proto_hbh && count != 1) return O::ipv6_hbh_not_first;
      pm_.flags |= meta_flag::ip_options;
      uint8_t ebuf[8];
      if (nh == proto_fragment) {
        if (off + 8 > end) return truncated();
        const uint8_t* f = bytes_at(m_, off, 8, ebuf);
        uint16_t fo = be16(f + 2);
        uint8_t next = f[0];
        if ((fo & 0xfff9) == 0) { // atomic fragment: a whole packet (RFC 6946)
          off += 8;
          nh = next;
          continue;
        }
        if (frag) return O::frag_ipv6_unsupported;
        frag = true;
        more = (fo & 1) != 0;
        frag_off = fo & 0xfff8u;
        frag_hdr = off;
        off += 8;
        nh = next;
        if (frag_off != 0) break; // the rest of the chain is in the first fragment
        continue;
      }
      if (off + 2 > end) return truncated();
      const uint8_t* e = bytes_at(m_, off, 2, ebuf);
      uint32_t elen = nh == proto_ah ? (e[1] + 2u) * 4u : (e[1] + 1u) * 8u;
      if (off + elen > end) return truncated();
      if (nh == proto_routing) e = bytes_at(m_, off, 4, ebuf); // elen >= 8
      if (nh == proto_routing && !frag && elen >= 24 && e[3] != 0) {
        // Segments left: the pseudo header uses the final destination.
        uint8_t type = e[2];
        uint32_t at = type == 4 ? off + 8 : (type == 0 || type == 2) ? off + elen - 16 : 0;
        if (at != 0) final_dst = bytes_at(m_, at, 16, final_buf);
      }
      nh = e[0];
      off += elen;
    }

    pm_.l4_proto = nh;
    pm_.l4_offset = static_cast<uint16_t>(off);
    pm_.ip_hdr_len = static_cast<uint16_t>(off - l3);
    pm_.payload_offset = static_cast<uint16_t>(off);
    pm_.payload_len = static_cast<uint16_t>(end - off);

    if (frag) {
      set_hash(src, dst, 16, 0, 0, nh);
      pm_.flags |= meta_flag::fragment | (more ? meta_flag::more_fragments : 0);
      pm_.frag_offset = static_cast<uint16_t>(frag_off);
      pm_.frag_hdr_offset = static_cast<uint16_t>(frag_hdr);
      uint32_t data_len = end - (frag_hdr + 8);
      if (data_len == 0 || (more && data_len % 8 != 0)) return O::frag_bad_length;
      if (frag_off + data_len > 65535) return O::frag_oversized;
      if (frag_off != 0) {
        // Only the first fragment shows the upper layer; anything that may
        // lead to TCP is reassembled, plainly other protocols pass.
        bool maybe_tcp = nh == proto_tcp || nh == proto_hbh || nh == proto_routing || nh == proto_dstopts ||
                         nh == proto_ah;
        if (!maybe_tcp) return O::ip_other;
        if (nh == proto_tcp && frag_off < 20) return O::frag_l4_header_overlap;
      } else {
        if (nh != proto_tcp) return O::ip_other;
        DecodeOutcome o = first_fragment_tcp(off, end - off);
        if (o != O::fragment) return o;
      }
      if (frag_hdr != l3 + 40) return O::frag_ipv6_unsupported;
      if (frag_hdr + 8 > rte_pktmbuf_data_len(m_) || m_->nb_segs > UINT8_MAX) return O::frag_split_header;
      return O::fragment;
    }
    if (nh != proto_tcp) {
      set_hash(src, dst, 16, 0, 0, nh);
      return O::ip_other;
    }
    uint32_t l4_len = end - off;
    uint32_t pseudo = word_sum(src, 16) + word_sum(final_dst, 16) + rte_cpu_to_be_16(static_cast<uint16_t>(l4_len >> 16)) +
                      rte_cpu_to_be_16(static_cast<uint16_t>(l4_len & 0xffff)) + rte_cpu_to_be_16(proto_tcp);
    return tcp(off, l4_len, src, dst, 16, pseudo);
  }

  DecodeOutcome tcp(uint32_t l4, uint32_t l4_len, const uint8_t* src, const uint8_t* dst, unsigned alen,
                    uint32_t pseudo) {
    if (l4_len < 20) return O::tcp_truncated;
    uint8_t buf[60];
    const uint8_t* h = bytes_at(m_, l4, 20, buf);
    unsigned doff = (h[12] >> 4) * 4u;
    if (doff < 20 || doff > l4_len) return O::tcp_bad_data_offset;
    if (doff > 20) h = bytes_at(m_, l4, doff, buf);
    uint16_t sport = be16(h), dport = be16(h + 2);
    set_hash(src, dst, alen, sport, dport, proto_tcp);
    pm_.tcp_hdr_len = static_cast<uint8_t>(doff);
    pm_.tcp_seq = be32(h + 4);
    pm_.tcp_ack = be32(h + 8);
    pm_.tcp_flags = h[13];
    pm_.tcp_window = be16(h + 14);
    pm_.payload_offset = static_cast<uint16_t>(l4 + doff);
    pm_.payload_len = static_cast<uint16_t>(l4_len - doff);
    if (doff > 20) {
      DecodeOutcome o = tcp_options(h, doff, l4);
      if (o != O::tcp) return o;
    }
    uint64_t ck = m_->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD) return O::tcp_bad_checksum;
    if (ck == RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN && cfg_.verify_tcp_checksum && !l4_checksum_ok(m_, l4, l4_len, pseudo))
      return O::tcp_bad_checksum;
    return O::tcp;
  }

  DecodeOutcome tcp_options(const uint8_t* h, unsigned doff, uint32_t l4) {
    unsigned i = 20;
    while (i < doff) {
      uint8_t kind = h[i];
      if (kind == 0) break; // end of option list
      if (kind == 1) {      // no-operation
        ++i;
        continue;
      }
      if (i + 1 >= doff) return O::tcp_opt_truncated;
      unsigned len = h[i + 1];
      if (len < 2) return O::tcp_opt_bad_length;
      if (i + len > doff) return O::tcp_opt_truncated;
      const uint8_t* v = h + i + 2;
      switch (kind) {
        case 2: // MSS
          if (len != 4) return O::tcp_opt_bad_length;
          pm_.tcp_mss = be16(v);
          pm_.tcp_options |= tcp_opt::mss;
          break;
        case 3: // window scale
          if (len != 3) return O::tcp_opt_bad_length;
          pm_.tcp_wscale = v[0];
          pm_.tcp_options |= tcp_opt::wscale;
          break;
        case 4: // SACK permitted
          if (len != 2) return O::tcp_opt_bad_length;
          pm_.tcp_options |= tcp_opt::sack_permitted;
          break;
        case 5: // SACK blocks
          if (len < 10 || len > 34 || (len - 2) % 8 != 0) return O::tcp_opt_bad_sack;
          pm_.sack_count = static_cast<uint8_t>((len - 2) / 8);
          pm_.sack_offset = static_cast<uint16_t>(l4 + i + 2);
          pm_.tcp_options |= tcp_opt::sack;
          break;
        case 8: // timestamps
          if (len != 10) return O::tcp_opt_bad_length;
          pm_.tcp_tsval = be32(v);
          pm_.tcp_tsecr = be32(v + 4);
          pm_.tcp_options |= tcp_opt::timestamps;
          break;
        default: break; // others (MD5, TCP-AO, MPTCP, Fast Open, ...) are skipped
      }
      i += len;
    }
    return O::tcp;
  }

  void set_hash(const uint8_t* src, const uint8_t* dst, unsigned alen, uint16_t sport, uint16_t dport,
                uint8_t proto) {
    if (!cfg_.flow_hash) return;
    bool reversed = false;
    pm_.flow_hash = flow_hash(src, dst, alen, sport, dport, proto, reversed);
    if (reversed) pm_.flags |= meta_flag::flow_reversed;
  }

  rte_mbuf* m_;
  PacketMeta& pm_;
  const DecodeConfig& cfg_;
};

} // namespace

const char* outcome_name(DecodeOutcome o) { return outcome_names[static_cast<std::size_t>(o)]; }
const char* outcome_meaning(DecodeOutcome o) { return outcome_texts[static_cast<std::size_t>(o)]; }

uint32_t flow_hash(const uint8_t* src, const uint8_t* dst, unsigned addr_len, uint16_t sport, uint16_t dport,
                   uint8_t proto, bool& reversed) {
  int c = std::memcmp(src, dst, addr_len);
  reversed = c > 0 || (c == 0 && sport > dport);
  const uint8_t* lo = reversed ? dst : src;
  const uint8_t* hi = reversed ? src : dst;
  uint32_t ports = reversed ? (uint32_t{dport} << 16 | sport) : (uint32_t{sport} << 16 | dport);
  uint32_t h = flow_hash_seed ^ proto;
  for (unsigned i = 0; i < addr_len; i += 4) {
    uint32_t w;
    std::memcpy(&w, lo + i, 4);
    h = rte_hash_crc_4byte(w, h);
  }
  for (unsigned i = 0; i < addr_len; i += 4) {
    uint32_t w;
    std::memcpy(&w, hi + i, 4);
    h = rte_hash_crc_4byte(w, h);
  }
  return rte_hash_crc_4byte(ports, h);
}

DecodeOutcome decode(rte_mbuf* m, const DecodeConfig& cfg) {
  PacketMeta& pm = meta(m);
  uint64_t ts = pm.timestamp_ns;
  uint16_t port = pm.in_port;
  pm = PacketMeta{};
  pm.timestamp_ns = ts;
  pm.in_port = port;
  DecodeOutcome o = Decoder(m, pm, cfg).run();
  pm.decoded = 1;
  pm.outcome = static_cast<uint8_t>(o);
  return o;
}

void decode_burst(std::span<rte_mbuf* const> pkts, const DecodeConfig& cfg, DecodeTally& tally) {
  constexpr std::size_t ahead = 3;
  std::size_t n = pkts.size();
  for (std::size_t i = 0; i < n && i < ahead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    rte_prefetch0(rte_mbuf_to_priv(pkts[i]));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i + ahead], void*));
      rte_prefetch0(rte_mbuf_to_priv(pkts[i + ahead]));
    }
    ++tally.by_outcome[static_cast<std::size_t>(decode(pkts[i], cfg))];
  }
}

} // namespace haka::net
