// Per-packet metadata kept in the mbuf's private area.
#pragma once

#include <cstddef>
#include <cstdint>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

namespace haka::net {

/// How a port's frames begin: the first header the decoder must read.
enum class LinkType : uint8_t {
  ethernet,   // DLT_EN10MB (1)
  raw_ip,     // DLT_RAW (101, 12, 14): IPv4 or IPv6 told by the version nibble
  ipv4,       // LINKTYPE_IPV4 (228)
  ipv6,       // LINKTYPE_IPV6 (229)
  linux_sll,  // LINKTYPE_LINUX_SLL (113): Linux cooked capture v1
  linux_sll2, // LINKTYPE_LINUX_SLL2 (276)
};

/// What the decoder concluded about a packet; the table and each outcome's
/// verdict are in decode_outcomes.def.
enum class DecodeOutcome : uint8_t {
#define X(id, name, verdict, text) id,
#include "net/decode_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t decode_outcome_count = static_cast<std::size_t>(DecodeOutcome::count_);

/// The network layer of a decoded packet.
enum class L3Kind : uint8_t { none = 0, ipv4 = 4, ipv6 = 6 };

/// Bits of PacketMeta::flags.
namespace meta_flag {
inline constexpr uint8_t fragment = 1 << 0;       // an IP fragment (IPv4 MF/offset, IPv6 fragment header)
inline constexpr uint8_t more_fragments = 1 << 1; // ... and not the last one
inline constexpr uint8_t flow_reversed = 1 << 2;  // (src, sport) orders after (dst, dport), see flow_hash
inline constexpr uint8_t reassembled = 1 << 3;    // rebuilt from fragments by the FragmentReassembler
inline constexpr uint8_t ip_options = 1 << 4;     // IPv4 options or IPv6 extension headers present
} // namespace meta_flag

/// Bits of PacketMeta::tcp_options: which TCP options the segment carried.
namespace tcp_opt {
inline constexpr uint8_t mss = 1 << 0;
inline constexpr uint8_t wscale = 1 << 1;
inline constexpr uint8_t sack_permitted = 1 << 2;
inline constexpr uint8_t timestamps = 1 << 3;
inline constexpr uint8_t sack = 1 << 4;
} // namespace tcp_opt

/// Everything the layers learn about one packet, written once by the receive
/// path and the decoder, read by every later stage. Lives in the mbuf's private
/// area (right after struct rte_mbuf), so it costs no allocation and travels
/// with the packet wherever the mbuf goes.
///
/// The receive path writes timestamp_ns and in_port; net::decode() writes every
/// other field (it never reads what was there, so live mbufs need no clearing).
/// Offsets count from the first byte of the frame (the mbuf's data start).
/// Addresses and ports are not copied: read them with the accessors below.
/// Fields a layer did not reach are 0 (e.g. TCP fields of a non-TCP packet).
struct alignas(64) PacketMeta {
  uint64_t timestamp_ns; // capture time (pcap) or receive time (live), ns since the epoch
  uint32_t flow_hash;    // direction-free hash of the 5-tuple (net/decode.hpp), 0 until decoded
  uint16_t in_port;      // index of the engine port (lane) the packet came in on
  uint8_t decoded;       // 0 until the decoder ran on this packet
  uint8_t outcome;       // a DecodeOutcome (meaningful once decoded is 1)

  uint8_t l3_kind;        // an L3Kind
  uint8_t l4_proto;       // IP protocol / last IPv6 next-header (6 = TCP)
  uint8_t tcp_flags;      // TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN)
  uint8_t tcp_hdr_len;    // TCP data offset in bytes (20..60)
  uint16_t l3_offset;     // first byte of the IP header
  uint16_t l4_offset;     // first byte after the IP header and its extension headers
  uint16_t payload_offset; // first byte of the TCP payload (= l4_offset for non-TCP)
  uint16_t payload_len;   // TCP payload bytes (L4 bytes for non-TCP), Ethernet padding excluded
  uint16_t ip_hdr_len;    // IPv4 IHL * 4; IPv6 40 + extension headers (l4_offset - l3_offset)
  uint16_t ip_total_len;  // IPv4 total length; IPv6 40 + payload length

  uint32_t tcp_seq;       // host order
  uint32_t tcp_ack;       // host order
  uint16_t tcp_window;    // raw (unscaled), host order
  uint16_t tcp_mss;       // MSS option value, if tcp_options has mss
  uint8_t tcp_wscale;     // window scale shift as sent (not clamped to 14)
  uint8_t tcp_options;    // tcp_opt bits
  uint8_t sack_count;     // SACK blocks in the segment (1..4)
  uint8_t flags;          // meta_flag bits
  uint16_t sack_offset;   // offset of the first SACK block (8 bytes each: left, right edge)
  uint16_t frag_offset;   // fragment offset in bytes
  uint32_t tcp_tsval;     // timestamps option, if tcp_options has timestamps
  uint32_t tcp_tsecr;

  uint16_t frag_hdr_offset; // IPv6: offset of the fragment header; 0 otherwise
  uint8_t hold_segs;        // FragmentReassembler bookkeeping: segments of a held fragment
  uint8_t reserved0;
};
static_assert(sizeof(PacketMeta) == 64, "PacketMeta must stay one cache line");
static_assert(sizeof(PacketMeta) % RTE_MBUF_PRIV_ALIGN == 0);
static_assert(offsetof(PacketMeta, timestamp_ns) == 0);
static_assert(offsetof(PacketMeta, flow_hash) == 8);
static_assert(offsetof(PacketMeta, in_port) == 12);
static_assert(offsetof(PacketMeta, tcp_seq) == 32);
static_assert(offsetof(PacketMeta, tcp_tsval) == 52);
static_assert(offsetof(PacketMeta, frag_hdr_offset) == 60);

/// The metadata of an mbuf from one of the engine's pools.
inline PacketMeta& meta(rte_mbuf* m) {
  return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}
inline const PacketMeta& meta(const rte_mbuf* m) {
  return *static_cast<const PacketMeta*>(rte_mbuf_to_priv(const_cast<rte_mbuf*>(m)));
}

/// The decode outcome stored in a packet's metadata.
inline DecodeOutcome outcome(const PacketMeta& pm) { return static_cast<DecodeOutcome>(pm.outcome); }

/// Source then destination address of a decoded IP packet (4 + 4 bytes for
/// IPv4, 16 + 16 for IPv6, network order, as in both headers): a pointer into
/// the packet when the bytes are contiguous, else a copy in `scratch` (32
/// bytes). nullptr when the packet is not IP. Address length: 4 or 16 by l3_kind.
inline const uint8_t* ip_addresses(const rte_mbuf* m, uint8_t (&scratch)[32]) {
  const PacketMeta& pm = meta(m);
  if (pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv4))
    return static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l3_offset + 12u, 8, scratch));
  if (pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv6))
    return static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l3_offset + 8u, 32, scratch));
  return nullptr;
}

/// Bytes per address of a decoded IP packet: 4, 16, or 0 when not IP.
inline unsigned ip_address_len(const PacketMeta& pm) {
  return pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv4) ? 4u : pm.l3_kind == static_cast<uint8_t>(L3Kind::ipv6) ? 16u : 0u;
}

/// TCP source and destination ports (host order) of a packet decoded as tcp;
/// false when the packet has no TCP header.
inline bool tcp_ports(const rte_mbuf* m, uint16_t& sport, uint16_t& dport) {
  const PacketMeta& pm = meta(m);
  if (pm.tcp_hdr_len == 0) return false;
  uint8_t buf[4];
  auto p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l4_offset, 4, buf));
  if (p == nullptr) return false;
  sport = static_cast<uint16_t>(p[0] << 8 | p[1]);
  dport = static_cast<uint16_t>(p[2] << 8 | p[3]);
  return true;
}

/// SACK block `i` (< sack_count) of a decoded TCP segment, edges in host order.
inline bool sack_block(const rte_mbuf* m, unsigned i, uint32_t& left, uint32_t& right) {
  const PacketMeta& pm = meta(m);
  if (i >= pm.sack_count) return false;
  uint8_t buf[8];
  auto p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.sack_offset + 8u * i, 8, buf));
  if (p == nullptr) return false;
  left = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
  right = uint32_t{p[4]} << 24 | uint32_t{p[5]} << 16 | uint32_t{p[6]} << 8 | p[7];
  return true;
}

} // namespace haka::net
