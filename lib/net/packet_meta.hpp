// Per-packet metadata kept in the mbuf's private area.
#pragma once

#include <cstddef>
#include <cstdint>

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

/// Everything the layers learn about one packet, written once by the receive
/// path and the decoder, read by every later stage. Lives in the mbuf's private
/// area (right after struct rte_mbuf), so it costs no allocation and travels
/// with the packet wherever the mbuf goes.
struct alignas(64) PacketMeta {
  uint64_t timestamp_ns; // capture time (pcap) or receive time (live), ns since the epoch
  uint32_t flow_hash;    // direction-free hash of the 5-tuple, 0 until decoded
  uint16_t in_port;      // index of the engine port (lane) the packet came in on
  uint8_t decoded;       // 0 until the decoder ran on this packet
  uint8_t reserved0;
  uint8_t layer_data[48]; // decoder results (lib/net/decode.hpp owns the layout)
};
static_assert(sizeof(PacketMeta) == 64, "PacketMeta must stay one cache line");
static_assert(sizeof(PacketMeta) % RTE_MBUF_PRIV_ALIGN == 0);

/// The metadata of an mbuf from one of the engine's pools.
inline PacketMeta& meta(rte_mbuf* m) {
  return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}
inline const PacketMeta& meta(const rte_mbuf* m) {
  return *static_cast<const PacketMeta*>(rte_mbuf_to_priv(const_cast<rte_mbuf*>(m)));
}

} // namespace haka::net
