#include "net/forge.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

namespace haka::net {

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

unsigned link_len(LinkType link) {
  switch (link) {
    case LinkType::ethernet: return 14;
    case LinkType::linux_sll: return 16;
    case LinkType::linux_sll2: return 20;
    case LinkType::raw_ip:
    case LinkType::ipv4:
    case LinkType::ipv6: return 0;
  }
  return 0;
}

} // namespace

unsigned forged_header_len(LinkType link, L3Kind l3, bool with_mss) {
  return link_len(link) + (l3 == L3Kind::ipv6 ? 40u : 20u) + 20u + (with_mss ? 4u : 0u);
}

rte_mbuf* forge_tcp(rte_mempool* pool, LinkType link, const TcpEndpoints& ep, const TcpSegmentSpec& seg) {
  const bool v6 = ep.l3 == L3Kind::ipv6;
  const unsigned l2 = link_len(link);
  const unsigned ip_len = v6 ? 40 : 20;
  const unsigned tcp_len = 20 + (seg.mss != 0 ? 4 : 0);
  const std::size_t total = l2 + ip_len + tcp_len + seg.payload.size();
  if (total > UINT16_MAX) return nullptr;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(total)));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memset(p, 0, l2 + ip_len + tcp_len);
  const uint16_t ethertype = v6 ? 0x86dd : 0x0800;
  switch (link) {
    case LinkType::ethernet:
      std::memcpy(p, ep.dst_mac, 6);
      std::memcpy(p + 6, ep.src_mac, 6);
      put16(p + 12, ethertype);
      break;
    case LinkType::linux_sll: // packet type 4: sent by us
      put16(p, 4);
      put16(p + 2, 1);
      put16(p + 4, 6);
      std::memcpy(p + 6, ep.src_mac, 6);
      put16(p + 14, ethertype);
      break;
    case LinkType::linux_sll2:
      put16(p, ethertype);
      put16(p + 8, 1);
      p[10] = 4;
      p[11] = 6;
      std::memcpy(p + 12, ep.src_mac, 6);
      break;
    default: break;
  }
  uint8_t* ip = p + l2;
  uint8_t* tcp = ip + ip_len;
  const uint16_t l4_len = static_cast<uint16_t>(tcp_len + seg.payload.size());
  if (v6) {
    ip[0] = 0x60;
    put16(ip + 4, l4_len);
    ip[6] = IPPROTO_TCP;
    ip[7] = seg.ttl;
    std::memcpy(ip + 8, ep.src, 16);
    std::memcpy(ip + 24, ep.dst, 16);
  } else {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(ip_len + l4_len));
    put16(ip + 4, seg.ip_id);
    ip[8] = seg.ttl;
    ip[9] = IPPROTO_TCP;
    std::memcpy(ip + 12, ep.src, 4);
    std::memcpy(ip + 16, ep.dst, 4);
  }
  put16(tcp, ep.sport);
  put16(tcp + 2, ep.dport);
  put32(tcp + 4, seg.seq);
  put32(tcp + 8, seg.ack);
  tcp[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
  tcp[13] = seg.flags;
  put16(tcp + 14, seg.window);
  if (seg.mss != 0) {
    tcp[20] = 2;
    tcp[21] = 4;
    put16(tcp + 22, seg.mss);
  }
  if (!seg.payload.empty()) std::memcpy(tcp + tcp_len, seg.payload.data(), seg.payload.size());
  // The buffer is contiguous and has no padding or extension headers: DPDK's
  // plain-buffer checksum helpers are exact here.
  if (v6) {
    auto* h = reinterpret_cast<const rte_ipv6_hdr*>(ip);
    uint16_t ck = rte_ipv6_udptcp_cksum(h, tcp);
    std::memcpy(tcp + 16, &ck, 2);
  } else {
    auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
    uint16_t ick = rte_ipv4_cksum(h);
    std::memcpy(ip + 10, &ick, 2);
    uint16_t ck = rte_ipv4_udptcp_cksum(h, tcp);
    std::memcpy(tcp + 16, &ck, 2);
  }
  return m;
}

} // namespace haka::net
