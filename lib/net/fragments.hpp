// IP fragment reassembly (rte_ip_frag) and output re-fragmentation.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <rte_mbuf.h>

#include "net/decode.hpp"

struct rte_ip_frag_tbl;
struct rte_ip_frag_death_row;

namespace haka::net {

/// Sizing and timing of a FragmentReassembler.
struct FragmentConfig {
  uint32_t capacity = 4096;     // datagrams under reassembly at once
  uint32_t bucket_entries = 4;  // hash associativity (power of 2); a full bucket refuses too
  uint64_t timeout = 0;         // a datagram's lifetime, in the units of the `now` passed to add()
  int socket_id = SOCKET_ID_ANY;
};

/// What became of the fragments a FragmentReassembler took. Every fragment
/// given to add() is, at any time, exactly one of: held, merged into a
/// returned datagram, or freed for one reason:
///   taken == merged + freed() + held()
/// Engine accounting: count `merged` fragments as leaving (like drops with a
/// reason of their own) and each returned datagram as a new packet entering
/// (like an injected one); freed ones are drops with the outcome named here.
struct FragmentCounters {
  uint64_t taken = 0;       // fragments given to add()
  uint64_t reassembled = 0; // whole datagrams returned by add()
  uint64_t merged = 0;      // fragments that became part of a returned datagram
  uint64_t timed_out = 0;   // freed: datagram incomplete at its timeout (DecodeOutcome::frag_timeout)
  uint64_t invalid = 0;     // freed: overlap, duplicate, hole, > 8 fragments (frag_invalid)
  uint64_t table_full = 0;  // freed: no room for a new datagram (frag_table_full)
  uint64_t flushed = 0;     // freed by flush() (frag_flushed)
  uint64_t freed() const { return timed_out + invalid + table_full + flushed; }
  FragmentCounters& operator+=(const FragmentCounters& o);
};

/// One worker's IP reassembly table (IPv4 and IPv6), over DPDK's rte_ip_frag.
///
/// rte_ip_frag drops a whole datagram when its fragments overlap, repeat the
/// first or last one, leave a hole, or number more than
/// RTE_LIBRTE_IP_FRAG_MAX_FRAG (8); the decoder already refused tiny first
/// fragments and fragments overlapping the TCP header (decode_outcomes.def).
/// Freed mbufs go through a death row that is emptied, and counted, before
/// every call returns, so held() is always exact.
///
/// Time is whatever clock the caller passes (packet time offline, rte_rdtsc
/// live) in the units of FragmentConfig::timeout; it is made monotonic here
/// (a time earlier than one already seen counts as that one).
class FragmentReassembler {
 public:
  /// nullptr with `err` set when the configuration is invalid or memory short.
  static std::unique_ptr<FragmentReassembler> create(const FragmentConfig& cfg, std::string& err);
  ~FragmentReassembler(); // flushes, then frees the table
  FragmentReassembler(const FragmentReassembler&) = delete;
  FragmentReassembler& operator=(const FragmentReassembler&) = delete;

  /// Takes a packet decoded as DecodeOutcome::fragment (the caller no longer
  /// owns it). Returns the whole datagram when this fragment completed one:
  /// its headers rewritten (IPv4 total length and checksum, IPv6 fragment
  /// header removed), decoded again with `dc` as one packet, with
  /// meta_flag::reassembled, and the timestamp and in_port of this last
  /// fragment. Else nullptr. Expired datagrams are freed first.
  rte_mbuf* add(rte_mbuf* m, const DecodeConfig& dc, uint64_t now);

  /// Frees the datagrams older than the timeout at `now` (call when idle).
  void expire(uint64_t now);
  /// Frees everything held (shutdown); counted as flushed.
  void flush();

  /// Fragments held right now.
  uint64_t held() const { return held_; }
  /// Totals since creation.
  const FragmentCounters& counters() const { return total_; }
  /// What happened since the previous drain (for per-burst publishing).
  FragmentCounters drain();

 private:
  FragmentReassembler() = default;
  enum class FreeReason : uint8_t { timed_out, invalid, table_full, flushed };
  /// Frees the death row, counting the fragments each mbuf chain stands for.
  void free_death_row(FreeReason why);
  void count(uint64_t FragmentCounters::*field, uint64_t n);

  rte_ip_frag_tbl* tbl_ = nullptr;
  std::unique_ptr<rte_ip_frag_death_row> dr_;
  uint64_t clock_ = 0;
  uint64_t held_ = 0;
  FragmentCounters total_, since_drain_;
};

/// Output re-fragmentation. We forward reassembled datagrams re-fragmented
/// (normalised: no overlap, one version of every byte, offsets in order), never
/// the original fragments, so what passed the rules is what the receiver gets.
///
/// Splits a decoded IPv4 frame (L2 header then IPv4 at meta.l3_offset) into
/// fragments of at most `mtu` bytes of IPv4 each (header included; data
/// rounded down to 8-byte units). Each fragment gets a copy of the L2 header, a
/// computed header checksum, the frame's timestamp and in_port, and is decoded
/// with `dc`. Header mbufs come from `direct` (which must carry a PacketMeta),
/// data is shared with `m` through indirect mbufs from `indirect`; the caller
/// still owns `m` and frees it. IPv4 options are copied into every fragment.
/// Returns the number of fragments in `out`, or -EINVAL (not IPv4, mtu below
/// 68 or `out` too small, bad pool), -ENOTSUP (DF set), -ENOMEM.
int fragment_ipv4(rte_mbuf* m, uint16_t mtu, std::span<rte_mbuf*> out, rte_mempool* direct, rte_mempool* indirect,
                  const DecodeConfig& dc);

/// The IPv6 counterpart: a fragment header is inserted after the fixed header
/// (the datagram must have no extension header that is not fragmentable) with
/// identification `ident` (rte_ipv6_fragment_packet would write 0). `mtu` must
/// be at least 1280 (RFC 8200); -ENOTSUP when a hop-by-hop or routing header
/// leads the chain.
int fragment_ipv6(rte_mbuf* m, uint16_t mtu, std::span<rte_mbuf*> out, rte_mempool* direct, rte_mempool* indirect,
                  const DecodeConfig& dc, uint32_t ident);

} // namespace haka::net
