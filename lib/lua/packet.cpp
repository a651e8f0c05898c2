#include "lua/packet.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "lua/abi.hpp"
#include "net/packet_meta.hpp"

namespace haka::lua {

namespace {

uint32_t be16(const uint8_t* p) { return uint32_t{p[0]} << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}

bool is_v4(const net::PacketMeta& pm) { return pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv4); }

// TCP segment bytes (header + payload) per the IP header.
uint32_t segment_len(const net::PacketMeta& pm) {
  if (is_v4(pm)) return pm.ip_total_len > pm.ip_hdr_len ? pm.ip_total_len - pm.ip_hdr_len : 0u;
  uint32_t l3 = pm.l4_offset - pm.l3_offset;
  return pm.ip_total_len > l3 ? pm.ip_total_len - l3 : 0u;
}

} // namespace

int packet_get(const rte_mbuf* m, int field, int64_t& out) {
  const net::PacketMeta& pm = net::meta(m);
  uint8_t buf[60];
  if (field >= kIpSrc && field <= kIpFragOff) {
    if (pm.l3_kind == 0) return kNoTcp;
    if (!is_v4(pm)) {
      // IPv6: the version and the lengths; addresses are 128 bits (not a Lua number).
      if (field == kIpVersion) out = 6;
      else if (field == kIpLen) out = pm.ip_total_len;
      else if (field == kIpHdrLen) out = pm.l4_offset - pm.l3_offset;
      else if (field == kIpProto) out = pm.l4_proto;
      else return kBadField;
      return 0;
    }
    auto ip = static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l3_offset, 20, buf));
    if (ip == nullptr) return kNoTcp;
    switch (field) {
    case kIpSrc: out = be32(ip + 12); break;
    case kIpDst: out = be32(ip + 16); break;
    case kIpTtl: out = ip[8]; break;
    case kIpProto: out = ip[9]; break;
    case kIpId: out = be16(ip + 4); break;
    case kIpLen: out = be16(ip + 2); break;
    case kIpHdrLen: out = (ip[0] & 0x0f) * 4; break;
    case kIpChecksum: out = be16(ip + 10); break;
    case kIpTos: out = ip[1]; break;
    case kIpVersion: out = ip[0] >> 4; break;
    case kIpFragOff: out = be16(ip + 6); break; // flags and offset, as on the wire
    default: return kBadField;
    }
    return 0;
  }
  if (field == kPayloadLen) {
    out = pm.payload_len;
    return 0;
  }
  if (pm.tcp_hdr_len == 0) return kNoTcp;
  auto t = static_cast<const uint8_t*>(rte_pktmbuf_read(m, pm.l4_offset, 20, buf));
  if (t == nullptr) return kNoTcp;
  switch (field) {
  case kSrcPort: out = be16(t); break;
  case kDstPort: out = be16(t + 2); break;
  case kSeq: out = be32(t + 4); break;
  case kAck: out = be32(t + 8); break;
  case kRes: out = t[12] & 0x0f; break;
  case kHdrLen: out = (t[12] >> 4) * 4; break;
  case kFlags: out = t[13]; break;
  case kWindow: out = be16(t + 14); break;
  case kChecksum: out = be16(t + 16); break;
  case kUrgent: out = be16(t + 18); break;
  default: return kBadField;
  }
  return 0;
}

int packet_set(rte_mbuf* m, int field, int64_t v) {
  net::PacketMeta& pm = net::meta(m);
  if (field >= kIpSrc && field <= kIpFragOff) {
    if (!is_v4(pm)) return kBadField;
    if (m->data_len < pm.l3_offset + 20u) return kSegmentedHeader;
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, pm.l3_offset);
    bool is8 = field == kIpTtl || field == kIpProto || field == kIpTos;
    int64_t max = field == kIpSrc || field == kIpDst ? 0xffffffffll : is8 ? 0xff : 0xffff;
    if (v < 0 || v > max) return kValueRange;
    auto u = static_cast<uint32_t>(v);
    switch (field) {
    case kIpSrc: put32(ip + 12, u); break;
    case kIpDst: put32(ip + 16, u); break;
    case kIpTtl: ip[8] = static_cast<uint8_t>(u); break;
    case kIpProto: ip[9] = static_cast<uint8_t>(u); break;
    case kIpId: put16(ip + 4, u); break;
    case kIpTos: ip[1] = static_cast<uint8_t>(u); break;
    case kIpChecksum: put16(ip + 10, u); return 0;
    default: return kBadField; // lengths and version follow the packet, not the rule
    }
    // The IPv4 header checksum follows every field write.
    put16(ip + 10, 0);
    put16(ip + 10, rte_be_to_cpu_16(static_cast<uint16_t>(~rte_raw_cksum(ip, (ip[0] & 0x0f) * 4u) & 0xffff)));
    return 0;
  }
  if (pm.tcp_hdr_len == 0) return kNoTcp;
  if (m->data_len < pm.l4_offset + 20u) return kSegmentedHeader;
  uint8_t* t = rte_pktmbuf_mtod_offset(m, uint8_t*, pm.l4_offset);
  int64_t max = field == kSeq || field == kAck ? 0xffffffffll
              : field == kRes ? 0x0f
              : field == kFlags ? 0xff
              : field == kHdrLen ? 60
              : 0xffff;
  if (v < 0 || v > max) return kValueRange;
  auto u = static_cast<uint32_t>(v);
  switch (field) {
  case kSrcPort: put16(t, u); break;
  case kDstPort: put16(t + 2, u); break;
  case kSeq: put32(t + 4, u); pm.tcp_seq = u; break;
  case kAck: put32(t + 8, u); pm.tcp_ack = u; break;
  case kRes: t[12] = static_cast<uint8_t>((t[12] & 0xf0) | u); break;
  case kHdrLen:
    if (u % 4 != 0 || u < 20) return kValueRange;
    t[12] = static_cast<uint8_t>((t[12] & 0x0f) | (u / 4) << 4);
    break;
  case kFlags: t[13] = static_cast<uint8_t>(u); pm.tcp_flags = static_cast<uint8_t>(u); break;
  case kWindow: put16(t + 14, u); pm.tcp_window = static_cast<uint16_t>(u); break;
  case kChecksum: put16(t + 16, u); break;
  case kUrgent: put16(t + 18, u); break;
  default: return kBadField;
  }
  return 0;
}

bool tcp_checksum(rte_mbuf* m, bool compute) {
  const net::PacketMeta& pm = net::meta(m);
  if (pm.tcp_hdr_len == 0) return false;
  uint32_t len = segment_len(pm);
  if (len < 20 || pm.l4_offset + len > rte_pktmbuf_pkt_len(m)) return false;
  // Pseudo header: addresses, zero + protocol, TCP length.
  uint8_t scratch[32];
  const uint8_t* addrs = net::ip_addresses(m, scratch);
  if (addrs == nullptr) return false;
  unsigned alen = net::ip_address_len(pm);
  uint32_t sum = __rte_raw_cksum(addrs, 2 * alen, 0);
  uint8_t tail[4] = {0, 6, 0, 0};
  if (is_v4(pm)) {
    tail[2] = static_cast<uint8_t>(len >> 8);
    tail[3] = static_cast<uint8_t>(len);
    sum = __rte_raw_cksum(tail, 4, sum);
  } else {
    uint8_t t6[8] = {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
                     static_cast<uint8_t>(len), 0, 0, 0, 6};
    sum = __rte_raw_cksum(t6, 8, sum);
  }
  if (compute) {
    if (m->data_len < pm.l4_offset + 20u) return false;
    uint8_t* t = rte_pktmbuf_mtod_offset(m, uint8_t*, pm.l4_offset);
    put16(t + 16, 0);
  }
  uint16_t seg = 0;
  if (rte_raw_cksum_mbuf(m, pm.l4_offset, len, &seg) != 0) return false;
  sum += seg;
  auto folded = static_cast<uint16_t>(__rte_raw_cksum_reduce(sum));
  // Summed over native 16-bit words of network-order bytes: convert when storing.
  uint16_t ck = static_cast<uint16_t>(~folded);
  if (!compute) return ck == 0;
  uint8_t* t = rte_pktmbuf_mtod_offset(m, uint8_t*, pm.l4_offset);
  put16(t + 16, rte_be_to_cpu_16(ck));
  return true;
}

} // namespace haka::lua
