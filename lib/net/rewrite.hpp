// Rewriting decoded TCP segments: in-place seq/ack and SACK edits with an
// incremental checksum update (RFC 1624), and rebuilding a segment around new
// payload (split into several when it outgrows the MSS). Knows nothing of
// flows or TCP state: the caller says which numbers to write.
//
// Offload. With `offload` the caller asks the NIC to compute the TCP checksum
// (RTE_MBUF_F_TX_TCP_CKSUM): the checksum field then holds the pseudo-header
// sum, as DPDK expects, which seq/ack/SACK edits do not change, so the
// in-place edits leave it alone; build_segments() writes the pseudo-header sum
// and sets the TX offload flags and lengths on the mbufs it makes. The IPv4
// header checksum is always computed in software (20-60 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "net/packet_meta.hpp"

namespace haka::net {

/// Why a rewrite was refused (rewrite_outcomes.def); build_segments() returns
/// the negated value.
enum class RewriteError : int {
  none = 0,
#define X(id, name, text) id,
#include "net/rewrite_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t rewrite_error_count = static_cast<std::size_t>(RewriteError::count_);

/// The JSON/log name of an error ("rewrite_pool_empty"; "none" for none).
const char* rewrite_error_name(RewriteError e);
/// What an error means, one sentence.
const char* rewrite_error_meaning(RewriteError e);
/// The error a negative build_segments() result stands for.
inline RewriteError rewrite_error_of(int result) {
  return result < 0 ? static_cast<RewriteError>(-result) : RewriteError::none;
}

/// Ones'-complement checksum `ck` (memory order, as in the packet) after the
/// even-length run of 16-bit words `old_words` became `new_words` (RFC 1624
/// eqn. 3: HC' = ~(~HC + ~m + m')). Words are read in memory order, so the
/// result is right whatever the host byte order.
inline uint16_t checksum_adjust(uint16_t ck, const uint8_t* old_words, const uint8_t* new_words, std::size_t len) {
  uint32_t sum = static_cast<uint16_t>(~ck);
  for (std::size_t i = 0; i < len; i += 2) {
    uint16_t o, n;
    std::memcpy(&o, old_words + i, 2);
    std::memcpy(&n, new_words + i, 2);
    sum += static_cast<uint16_t>(~o);
    sum += n;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

namespace detail {
/// The TCP header of a decoded segment in the first mbuf segment, or nullptr
/// (with `err`): not TCP, a fragment, or headers not contiguous.
uint8_t* tcp_header(rte_mbuf* m, RewriteError& err);
/// Replaces the 32-bit field at `at` (bytes from the TCP header `tcp`) by
/// `value` (host order), fixing the TCP checksum unless `offload`.
void write32(uint8_t* tcp, unsigned at, uint32_t value, bool offload);
} // namespace detail

/// Writes seq and ack (host order) into a decoded TCP segment, and into its
/// PacketMeta, with an incremental checksum update (none when `offload`).
/// False (nothing changed) when the segment is not decoded TCP or its headers
/// are not all in the first mbuf segment.
bool set_seq_ack(rte_mbuf* m, uint32_t seq, uint32_t ack, bool offload);

/// Rewrites every SACK block edge `e` of a decoded TCP segment as `map(e)`
/// (host order in and out: uint32_t(uint32_t)), checksum kept right (as
/// set_seq_ack). True when there were no blocks; false (nothing changed) as
/// set_seq_ack.
template <class F>
bool translate_sack(rte_mbuf* m, F&& map, bool offload) {
  const PacketMeta& pm = meta(m);
  RewriteError err;
  uint8_t* tcp = detail::tcp_header(m, err);
  if (tcp == nullptr) return false;
  const unsigned first = static_cast<unsigned>(pm.sack_offset - pm.l4_offset);
  for (unsigned i = 0; i < 2u * pm.sack_count; ++i) {
    const unsigned at = first + 4u * i;
    uint32_t edge;
    std::memcpy(&edge, tcp + at, 4);
    detail::write32(tcp, at, static_cast<uint32_t>(map(rte_be_to_cpu_32(edge))), offload);
  }
  return true;
}

/// Builds new segments from the template's headers (link, IP with options or
/// extension headers, TCP with its options, all kept on every segment) and
/// the payload pieces copied in order: ceil(total / max_payload) segments (one
/// when the payload is empty: a pure ACK/FIN), segment k at seq + k *
/// max_payload, all with `ack`. FIN and PSH (as in the template) only on the
/// last; IPv4 id of segment k = template id + k, DF kept; IP lengths, IPv4
/// header checksum and TCP checksum (pseudo-header only with `offload`, which
/// also sets RTE_MBUF_F_TX_TCP_CKSUM, TX_IPV4/6 and l2/l3/l4_len) right. A
/// segment larger than one mbuf is chained. Each mbuf gets the template's
/// PacketMeta with payload_len, ip_total_len, tcp_seq, tcp_ack and tcp_flags
/// updated, and the template's port and vlan_tci. Returns the number of
/// packets written to `out`, or -RewriteError (nothing allocated is kept).
int build_segments(rte_mempool* pool, const rte_mbuf* templ, uint32_t seq, uint32_t ack,
                   std::span<const std::span<const uint8_t>> payload_pieces, uint16_t max_payload, bool offload,
                   std::span<rte_mbuf*> out);

} // namespace haka::net
