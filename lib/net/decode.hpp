// Packet decoding: link layer, IPv4/IPv6, TCP, into the mbuf's PacketMeta.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <span>

#include <rte_mbuf.h>

#include "net/packet_meta.hpp"

namespace haka::net {

/// What the engine does with a packet of a given outcome (decode_outcomes.def).
enum class OutcomeVerdict : uint8_t {
  track,      // TCP segment: to the flow layer
  forward,    // forwarded untouched
  reassemble, // to the FragmentReassembler
  drop,       // dropped inline; only counted in pass-through
};

/// The JSON/log name of an outcome ("tcp_bad_checksum").
const char* outcome_name(DecodeOutcome o);
/// One line saying what the outcome means.
const char* outcome_meaning(DecodeOutcome o);
/// The verdict column of decode_outcomes.def, by outcome.
inline constexpr OutcomeVerdict kOutcomeVerdicts[] = {
#define X(id, name, verdict, text) OutcomeVerdict::verdict,
#include "net/decode_outcomes.def"
#undef X
};
static_assert(std::size(kOutcomeVerdicts) == decode_outcome_count);
/// The documented verdict of an outcome (inline: asked twice per packet).
constexpr OutcomeVerdict outcome_verdict(DecodeOutcome o) { return kOutcomeVerdicts[static_cast<std::size_t>(o)]; }

/// How a port's packets are decoded.
struct DecodeConfig {
  LinkType link = LinkType::ethernet;
  /// Verify checksums when the NIC did not (ol_flags UNKNOWN). Captures taken
  /// on a host with checksum offload carry unfinished checksums: turn these off
  /// for them. A NIC's BAD verdict is honoured either way.
  bool verify_ipv4_checksum = true;
  bool verify_tcp_checksum = true;
  /// Compute meta.flow_hash. The engine's flow tables hash their own keys
  /// (seeded per table), so the tracking pipeline turns this off.
  bool flow_hash = true;
};

/// Decodes one packet into its PacketMeta (every field but timestamp_ns and
/// in_port) and returns the outcome, also stored in meta(m).outcome.
///
/// Never reads past pkt_len. Multi-segment mbufs are supported: a header that
/// is not contiguous in its segment is read with rte_pktmbuf_read into a stack
/// buffer, checksums are summed segment by segment.
///
/// meta.flow_hash is direction-free: CRC32C (rte_hash_crc) of the lower
/// (address, port) pair, then the higher one, then the protocol, where "lower"
/// compares the address bytes first, then the port. Both directions of a
/// connection get the same hash; meta_flag::flow_reversed says which end sent
/// the packet. Non-TCP IP packets and fragments hash with ports 0; non-IP: 0.
DecodeOutcome decode(rte_mbuf* m, const DecodeConfig& cfg);

/// Counts of outcomes over a burst (or any span of packets).
struct DecodeTally {
  std::array<uint32_t, decode_outcome_count> by_outcome{};
  uint32_t count(DecodeOutcome o) const { return by_outcome[static_cast<std::size_t>(o)]; }
};

/// Decodes every packet of a burst, prefetching the next packets' data and
/// metadata, and adds each outcome to `tally`.
void decode_burst(std::span<rte_mbuf* const> pkts, const DecodeConfig& cfg, DecodeTally& tally);

/// The direction-free flow hash decode() stores, for callers that build a
/// packet-less key (tests, the flow layer's lookups). `addr_len` is 4 or 16;
/// addresses in network order; ports in host order. `reversed` is set when
/// (src, sport) orders after (dst, dport).
uint32_t flow_hash(const uint8_t* src, const uint8_t* dst, unsigned addr_len, uint16_t sport, uint16_t dport,
                   uint8_t proto, bool& reversed);

} // namespace haka::net
