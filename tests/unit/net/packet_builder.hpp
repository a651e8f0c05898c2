// Small byte-vector builders for test packets, and mbufs made from them.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "eal_env.hpp"
#include "net/packet_meta.hpp"

namespace haka::net::test {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, std::size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void put32(Bytes& b, std::size_t at, uint32_t v) {
  put16(b, at, static_cast<uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<uint16_t>(v));
}
inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Internet checksum (RFC 1071) of big-endian words, written independently of the code under test.
inline uint16_t inet_sum(const Bytes& b, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < b.size(); i += 2) sum += uint32_t(b[i]) << 8 | b[i + 1];
  if (b.size() % 2) sum += uint32_t(b.back()) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

/// A TCP header and payload.
struct Tcp {
  uint16_t sport = 40000, dport = 80;
  uint32_t seq = 1000, ack = 0;
  uint8_t flags = 0x02; // SYN
  uint16_t window = 64240;
  Bytes options{};      // padded with EOL to a multiple of 4
  Bytes payload{};
  int doff_words = -1;  // override of the data offset field
};

inline Bytes tcp_bytes(const Tcp& t) {
  Bytes opts = t.options;
  while (opts.size() % 4) opts.push_back(0);
  Bytes b(20, 0);
  put16(b, 0, t.sport);
  put16(b, 2, t.dport);
  put32(b, 4, t.seq);
  put32(b, 8, t.ack);
  int doff = t.doff_words >= 0 ? t.doff_words : static_cast<int>((20 + opts.size()) / 4);
  b[12] = static_cast<uint8_t>(doff << 4);
  b[13] = t.flags;
  put16(b, 14, t.window);
  return cat(cat(b, opts), t.payload);
}

using Ip4Addr = std::array<uint8_t, 4>;
using Ip6Addr = std::array<uint8_t, 16>;

/// An IPv4 header; the payload is given to ipv4().
struct Ip4 {
  Ip4Addr src{10, 0, 0, 1}, dst{10, 0, 0, 2};
  uint8_t proto = 6;
  uint16_t id = 0x1234;
  uint16_t frag = 0;   // flags and offset field as on the wire (0x2000 = MF, offset in 8-byte units)
  Bytes options{};     // padded with EOL to a multiple of 4
  int ihl_words = -1;  // override
  int total = -1;      // override of the total length
  bool bad_checksum = false;
};

/// IPv4 header + payload; when proto is TCP and `tcp_checksum`, the payload's
/// TCP checksum is filled (payload must then be the whole segment).
inline Bytes ipv4(const Ip4& h, Bytes payload, bool tcp_checksum = true) {
  Bytes opts = h.options;
  while (opts.size() % 4) opts.push_back(0);
  Bytes b(20, 0);
  int ihl = h.ihl_words >= 0 ? h.ihl_words : static_cast<int>((20 + opts.size()) / 4);
  b[0] = static_cast<uint8_t>(0x40 | ihl);
  put16(b, 2, static_cast<uint16_t>(h.total >= 0 ? h.total : 20 + opts.size() + payload.size()));
  put16(b, 4, h.id);
  put16(b, 6, h.frag);
  b[8] = 64;
  b[9] = h.proto;
  std::memcpy(&b[12], h.src.data(), 4);
  std::memcpy(&b[16], h.dst.data(), 4);
  b = cat(b, opts);
  if (h.proto == 6 && tcp_checksum && payload.size() >= 18) {
    put16(payload, 16, 0);
    Bytes pseudo(h.src.begin(), h.src.end());
    pseudo.insert(pseudo.end(), h.dst.begin(), h.dst.end());
    pseudo.insert(pseudo.end(), {0, 6, static_cast<uint8_t>(payload.size() >> 8), static_cast<uint8_t>(payload.size())});
    put16(payload, 16, static_cast<uint16_t>(~inet_sum(payload, inet_sum(pseudo))));
  }
  uint16_t ck = static_cast<uint16_t>(~inet_sum(b));
  put16(b, 10, h.bad_checksum ? static_cast<uint16_t>(ck ^ 0x0101) : ck);
  return cat(b, payload);
}

/// One IPv6 extension header: next header, type-specific bytes, padded to its length unit.
struct Ext {
  uint8_t type;     // 0, 43, 44, 51, 60
  Bytes body{};     // bytes after the 2-byte (next, length) prefix
};

/// An IPv6 header with an extension chain; the payload is given to ipv6().
struct Ip6 {
  Ip6Addr src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Ip6Addr dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  uint8_t upper = 6;
  std::vector<Ext> ext{};
  int payload_len = -1; // override
  const Ip6Addr* pseudo_dst = nullptr; // final destination for the checksum (routing header)
};

inline Bytes ext_bytes(const std::vector<Ext>& chain, uint8_t upper) {
  Bytes out;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const Ext& e = chain[i];
    uint8_t next = i + 1 < chain.size() ? chain[i + 1].type : upper;
    Bytes b{next, 0};
    b = cat(b, e.body);
    if (e.type == 44) {
      b.resize(8, 0);
    } else if (e.type == 51) {
      while (b.size() % 4) b.push_back(0);
      b[1] = static_cast<uint8_t>(b.size() / 4 - 2);
    } else {
      while (b.size() % 8) b.push_back(0);
      b[1] = static_cast<uint8_t>(b.size() / 8 - 1);
    }
    out = cat(out, b);
  }
  return out;
}

inline Bytes ipv6(const Ip6& h, Bytes payload, bool tcp_checksum = true) {
  Bytes ext = ext_bytes(h.ext, h.upper);
  Bytes b(40, 0);
  b[0] = 0x60;
  put16(b, 4, static_cast<uint16_t>(h.payload_len >= 0 ? h.payload_len : ext.size() + payload.size()));
  b[6] = h.ext.empty() ? h.upper : h.ext[0].type;
  b[7] = 64;
  std::memcpy(&b[8], h.src.data(), 16);
  std::memcpy(&b[24], h.dst.data(), 16);
  if (h.upper == 6 && tcp_checksum && payload.size() >= 18) {
    put16(payload, 16, 0);
    const Ip6Addr& d = h.pseudo_dst ? *h.pseudo_dst : h.dst;
    Bytes pseudo(h.src.begin(), h.src.end());
    pseudo.insert(pseudo.end(), d.begin(), d.end());
    uint32_t n = static_cast<uint32_t>(payload.size());
    pseudo.insert(pseudo.end(), {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                                 static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n), 0, 0, 0, 6});
    put16(payload, 16, static_cast<uint16_t>(~inet_sum(payload, inet_sum(pseudo))));
  }
  return cat(cat(b, ext), payload);
}

/// Ethernet header with optional VLAN tags (TPID, TCI pairs).
inline Bytes eth(uint16_t type, const Bytes& payload, std::vector<uint16_t> tpids = {}) {
  Bytes b{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  for (uint16_t tpid : tpids) b.insert(b.end(), {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid), 0, 10});
  b.insert(b.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)});
  return cat(b, payload);
}

/// Linux cooked capture v1 header.
inline Bytes sll(uint16_t proto, const Bytes& payload) {
  Bytes b(16, 0);
  put16(b, 2, 1); // ARPHRD_ETHER
  put16(b, 4, 6); // address length
  b[6] = 0x02;
  put16(b, 14, proto);
  return cat(b, payload);
}

/// Linux cooked capture v2 header.
inline Bytes sll2(uint16_t proto, const Bytes& payload) {
  Bytes b(20, 0);
  put16(b, 0, proto);
  put32(b, 4, 3);     // interface index
  put16(b, 8, 1);     // ARPHRD_ETHER
  b[11] = 6;
  return cat(b, payload);
}

/// An mbuf chain holding `b`, cut into segments at the given offsets.
inline rte_mbuf* make_mbuf(const Bytes& b, std::vector<std::size_t> cuts = {}) {
  cuts.push_back(b.size());
  rte_mbuf* head = nullptr;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    rte_mbuf* seg = rte_pktmbuf_alloc(pool());
    EXPECT_NE(seg, nullptr);
    if (seg == nullptr) return head;
    std::size_t n = cut - from;
    char* p = rte_pktmbuf_append(seg, static_cast<uint16_t>(n));
    EXPECT_TRUE(n == 0 || p != nullptr);
    if (n) std::memcpy(p, b.data() + from, n);
    from = cut;
    if (head == nullptr) {
      head = seg;
      meta(head) = PacketMeta{};
    } else {
      EXPECT_EQ(rte_pktmbuf_chain(head, seg), 0);
    }
  }
  return head;
}

/// The bytes of an mbuf chain.
inline Bytes mbuf_bytes(const rte_mbuf* m) {
  Bytes out(rte_pktmbuf_pkt_len(m));
  if (!out.empty()) {
    auto p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, static_cast<uint32_t>(out.size()), out.data()));
    if (p != out.data()) std::memcpy(out.data(), p, out.size());
  }
  return out;
}

inline Ip4Addr a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

} // namespace haka::net::test
