// Direction-free flow keys for IPv4 and IPv6, and the seeded hash of a key.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace haka::flow {

/// Which way a packet goes relative to the flow: up = sent by the endpoint
/// that sent the flow's first packet (the initiator), down = sent by the peer.
enum class Dir : uint8_t { up = 0, down = 1 };

/// A flow key together with the orientation of the packet it was built from.
/// `swapped` is true when the packet's source is the key's second endpoint
/// (keys list the smaller endpoint first), so both directions of one
/// connection build the same key and differ only in `swapped`.
template <class Key>
struct PacketKey {
  Key key;
  bool swapped;
};

namespace detail {

inline uint64_t load_u64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

} // namespace detail

/// The identity of an IPv4 flow: both endpoints in a canonical order (the
/// endpoint whose (address, port) is smaller comes first), plus the protocol.
/// 16 bytes, so four keys share a cache line. The last byte is not part of
/// the identity: the flow table keeps per-flow bits there.
struct alignas(8) FlowKey4 {
  uint8_t addr_a[4];  // first endpoint's address, network byte order
  uint8_t addr_b[4];  // second endpoint's address
  uint16_t port_a;    // first endpoint's port, host order
  uint16_t port_b;    // second endpoint's port
  uint8_t proto;      // IP protocol number (6 = TCP)
  uint8_t pad[2];     // always zero
  uint8_t table_bits; // owned by the table, ignored by same_flow and the hash

  /// The key of a packet from (src, sport) to (dst, dport), ports in host order.
  static PacketKey<FlowKey4> make(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                                  uint16_t sport, uint16_t dport, uint8_t proto) {
    // Any total order works as long as it is the same for both directions;
    // comparing native-endian loads is cheaper than a byte-wise compare.
    const uint32_t sa = detail::load_u32(src.data()), da = detail::load_u32(dst.data());
    const uint64_t s = (uint64_t{sa} << 16) | sport;
    const uint64_t d = (uint64_t{da} << 16) | dport;
    const bool swapped = d < s;
    // The key as its two little-endian words (addresses; ports, proto, zero
    // pad and table_bits): field-by-field stores of 1, 2 and 4 bytes read
    // back as one 16-byte copy defeat store-to-load forwarding, a stall per
    // key that showed in profiles.
    const uint64_t w0 = swapped ? (uint64_t{sa} << 32 | da) : (uint64_t{da} << 32 | sa);
    const uint64_t w1 = (swapped ? (uint64_t{sport} << 16 | dport) : (uint64_t{dport} << 16 | sport)) |
                        uint64_t{proto} << 32;
    PacketKey<FlowKey4> k;
    std::memcpy(&k.key, &w0, 8);
    std::memcpy(reinterpret_cast<uint8_t*>(&k.key) + 8, &w1, 8);
    k.swapped = swapped;
    return k;
  }

  /// The two 8-byte words that hold the identity (table_bits masked out).
  uint64_t word(std::size_t i) const {
    const uint64_t w = detail::load_u64(reinterpret_cast<const uint8_t*>(this) + 8 * i);
    return i == 1 ? (w & kIdentityMask1) : w;
  }
  static constexpr std::size_t kWords = 2;
  // Little-endian: the top byte of word 1 is table_bits.
  static constexpr uint64_t kIdentityMask1 = 0x00ffffffffffffffull;
};
static_assert(sizeof(FlowKey4) == 16);
static_assert(offsetof(FlowKey4, table_bits) == 15);
static_assert(std::endian::native == std::endian::little, "FlowKey word masks assume little-endian");

/// The identity of an IPv6 flow, same canonical order as FlowKey4. 40 bytes.
struct alignas(8) FlowKey6 {
  uint8_t addr_a[16];
  uint8_t addr_b[16];
  uint16_t port_a;
  uint16_t port_b;
  uint8_t proto;
  uint8_t pad[2];     // always zero
  uint8_t table_bits; // owned by the table, ignored by same_flow and the hash

  /// The key of a packet from (src, sport) to (dst, dport), ports in host order.
  static PacketKey<FlowKey6> make(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                                  uint16_t sport, uint16_t dport, uint8_t proto) {
    const uint64_t s0 = detail::load_u64(src.data()), s1 = detail::load_u64(src.data() + 8);
    const uint64_t d0 = detail::load_u64(dst.data()), d1 = detail::load_u64(dst.data() + 8);
    const bool swapped = d0 != s0 ? d0 < s0 : d1 != s1 ? d1 < s1 : dport < sport;
    PacketKey<FlowKey6> k{};
    std::memcpy(k.key.addr_a, swapped ? dst.data() : src.data(), 16);
    std::memcpy(k.key.addr_b, swapped ? src.data() : dst.data(), 16);
    k.key.port_a = swapped ? dport : sport;
    k.key.port_b = swapped ? sport : dport;
    k.key.proto = proto;
    k.swapped = swapped;
    return k;
  }

  uint64_t word(std::size_t i) const {
    const uint64_t w = detail::load_u64(reinterpret_cast<const uint8_t*>(this) + 8 * i);
    return i == 4 ? (w & kIdentityMask4) : w;
  }
  static constexpr std::size_t kWords = 5;
  static constexpr uint64_t kIdentityMask4 = 0x00ffffffffffffffull;
};
static_assert(sizeof(FlowKey6) == 40);
static_assert(offsetof(FlowKey6, table_bits) == 39);

/// True when two keys name the same flow (table_bits ignored).
template <class Key>
inline bool same_flow(const Key& a, const Key& b) {
  uint64_t diff = 0;
  for (std::size_t i = 0; i < Key::kWords; ++i) diff |= a.word(i) ^ b.word(i);
  return diff == 0;
}

/// A keyed hash of a flow key: 64x64->128 multiply-fold rounds (wyhash's
/// "mum" mixer) over the key's identity words, keyed by a per-table random
/// seed so that an attacker who does not know the seed cannot aim many flows
/// at one bucket. Never returns 0 (0 marks an empty bucket entry).
template <class Key>
struct SeededHash {
  uint64_t seed0 = 0x243f6a8885a308d3ull;
  uint64_t seed1 = 0x13198a2e03707344ull;

  SeededHash() = default;
  explicit SeededHash(uint64_t seed)
      : seed0(seed ^ 0x243f6a8885a308d3ull), seed1(mix(seed, 0xa4093822299f31d0ull)) {}

  static uint64_t mix(uint64_t a, uint64_t b) {
    __extension__ using u128 = unsigned __int128; // GCC/Clang; a single MUL on x86-64
    const u128 r = static_cast<u128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }

  uint32_t operator()(const Key& k) const {
    uint64_t h = seed0;
    std::size_t i = 0;
    for (; i + 1 < Key::kWords; i += 2)
      h = mix(k.word(i) ^ seed1 ^ h, k.word(i + 1) ^ 0x9e3779b97f4a7c15ull);
    if (i < Key::kWords) h = mix(k.word(i) ^ seed1 ^ h, 0x9e3779b97f4a7c15ull ^ seed0);
    h = mix(h, seed1 ^ 0xe7037ed1a0b428dbull);
    const uint32_t h32 = static_cast<uint32_t>(h) ^ static_cast<uint32_t>(h >> 32);
    return h32 | (h32 == 0);
  }
};

static_assert(std::is_trivially_copyable_v<FlowKey4> && std::is_trivially_copyable_v<FlowKey6>);

} // namespace haka::flow
