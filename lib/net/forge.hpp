// Building TCP segments from scratch: RSTs the engine injects, generated traffic.
#pragma once

#include <cstdint>
#include <span>

#include <rte_mbuf.h>

#include "net/packet_meta.hpp"

namespace haka::net {

/// Who a forged segment goes from and to.
struct TcpEndpoints {
  L3Kind l3 = L3Kind::ipv4;
  uint8_t src[16] = {}; // 4 or 16 bytes used, network order
  uint8_t dst[16] = {};
  uint16_t sport = 0, dport = 0; // host order
  uint8_t src_mac[6] = {}, dst_mac[6] = {};
};

/// What a forged segment carries.
struct TcpSegmentSpec {
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;       // TCP flags byte
  uint16_t window = 65535;
  uint16_t mss = 0;        // non-zero: an MSS option (SYNs)
  uint8_t ttl = 64;
  uint16_t ip_id = 0;
  std::span<const uint8_t> payload{};
};

/// Writes a complete frame (link header for `link`, IPv4 or IPv6, TCP with
/// correct checksums) into a new mbuf from `pool`, and decodes nothing: the
/// caller stamps and decodes as it needs. nullptr when the pool is empty or
/// the segment does not fit one mbuf.
rte_mbuf* forge_tcp(rte_mempool* pool, LinkType link, const TcpEndpoints& ep, const TcpSegmentSpec& seg);

/// Bytes a forged frame takes before its payload (link + IP + TCP headers).
unsigned forged_header_len(LinkType link, L3Kind l3, bool with_mss);

} // namespace haka::net
