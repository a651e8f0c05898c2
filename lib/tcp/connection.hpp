// Value types of the TCP connection tracker: states, directions, segments,
// configuration, per-connection state, step results. The functions that work
// on them are in tracker.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "net/packet_meta.hpp"
#include "tcp/seq.hpp"

namespace haka::tcp {

/// TCP header flag bits (the 14th byte of the header).
namespace tcp_flag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t psh = 0x08;
inline constexpr uint8_t ack = 0x10;
inline constexpr uint8_t urg = 0x20;
inline constexpr uint8_t ece = 0x40;
inline constexpr uint8_t cwr = 0x80;
} // namespace tcp_flag

/// Bits of SegmentView::options: the TCP options a segment carried, as the
/// decoder records them (segment_from() copies them unchanged).
namespace seg_opt = net::tcp_opt;

/// Haka's tcp_connection states (HAKA_SEMANTICS.md §3), in its names.
/// `finish` is Haka's end of the state machine: the entry can be freed.
enum class State : uint8_t {
  syn,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  closing,
  timed_wait,
  reset,
  finish,
  count_
};
inline constexpr std::size_t state_count = static_cast<std::size_t>(State::count_);

/// Haka's name of a state ("syn_sent", ...).
const char* state_name(State s);

/// Direction of a segment: up = sent by the host that sent the opening SYN
/// (the first segment seen, with midstream pickup).
enum class Dir : uint8_t { up = 0, down = 1 };

/// The other direction.
inline constexpr Dir opposite(Dir d) { return d == Dir::up ? Dir::down : Dir::up; }

/// Haka's name of a direction ("up", "down").
inline constexpr const char* dir_name(Dir d) { return d == Dir::up ? "up" : "down"; }

/// The TCP fields of one segment the tracker needs, host order.
struct SegmentView {
  Seq seq;
  Seq ack;
  uint32_t len = 0;     // payload bytes (SYN and FIN not counted)
  uint8_t flags = 0;    // tcp_flag bits
  uint16_t window = 0;  // raw, unscaled
  uint16_t mss = 0;     // MSS option, if options has seg_opt::mss
  uint8_t wscale = 0;   // window scale option as sent, if options has seg_opt::wscale
  uint8_t options = 0;  // seg_opt bits
  uint32_t tsval = 0, tsecr = 0; // timestamps option, if options has seg_opt::timestamps

  bool has(uint8_t f) const { return (flags & f) != 0; }
  /// Sequence space the segment occupies: payload, plus one each for SYN and FIN (RFC 9293 §3.4).
  uint32_t seq_len() const { return len + (has(tcp_flag::syn) ? 1u : 0u) + (has(tcp_flag::fin) ? 1u : 0u); }
};

/// The tracker's decision for a segment, per outcome (tcp_outcomes.def).
enum class Verdict : uint8_t { forward, drop, again, none };

/// What the tracker concluded about a segment or a call; the table, with each
/// outcome's verdict and meaning, is tcp_outcomes.def.
enum class SegmentOutcome : uint8_t {
#define X(id, name, verdict, text) id,
#include "tcp/tcp_outcomes.def"
#undef X
  count_
};
inline constexpr std::size_t outcome_count = static_cast<std::size_t>(SegmentOutcome::count_);

/// The JSON/log name of an outcome ("tcp_out_of_window", ...).
const char* outcome_name(SegmentOutcome o);
/// What an outcome means, one sentence.
const char* outcome_meaning(SegmentOutcome o);

/// The verdict column of tcp_outcomes.def, by outcome.
inline constexpr Verdict kOutcomeVerdicts[] = {
#define X(id, name, verdict, text) Verdict::verdict,
#include "tcp/tcp_outcomes.def"
#undef X
};
static_assert(std::size(kOutcomeVerdicts) == outcome_count);

/// The verdict column of an outcome (inline: used on every segment).
constexpr Verdict outcome_verdict(SegmentOutcome o) {
  const auto i = static_cast<std::size_t>(o);
  return i < outcome_count ? kOutcomeVerdicts[i] : Verdict::drop;
}

/// tcp_connection's policies (HAKA_SEMANTICS.md §6); the engine applies them.
enum class Policy : uint8_t {
  none,
  no_connection_found,
  unexpected_packet,
  invalid_handshake,
  new_connection,
  count_
};

/// Haka's name of a policy ("no_connection_found", ...; "none" for none).
const char* policy_name(Policy p);

/// The policy a segment with this outcome goes to (Policy::none for most).
constexpr Policy policy_for(SegmentOutcome o) {
  switch (o) {
  case SegmentOutcome::no_ack:
  case SegmentOutcome::unexpected:
    return Policy::unexpected_packet;
  case SegmentOutcome::invalid_handshake:
    return Policy::invalid_handshake;
  default:
    return Policy::none;
  }
}

/// Why a connection ended (the reason its end_connection event fired).
enum class EndReason : uint8_t {
  none,
  fin,     // both sides closed with FIN (timed_wait reached, or a closing state timed out after both FINs)
  rst,     // an accepted RST
  refused, // an RST answered the opening SYN (the peer refused the connection)
  timeout, // idle for its state's timeout
  dropped, // drop() by a rule
  error,   // a rule error (drop(c, now, EndReason::error)), or an unexpected segment with close_on_unexpected (Haka's fail)
  restart, // a new SYN replaced it before it ended otherwise
  count_
};
inline constexpr std::size_t end_reason_count = static_cast<std::size_t>(EndReason::count_);

/// The name of an end reason ("fin", "rst", ...).
const char* end_reason_name(EndReason r);

/// Bits of StepResult::events: what the engine must signal after a call.
namespace tcp_event {
inline constexpr uint8_t opened = 1 << 0;         // a connection was created (new_connection)
inline constexpr uint8_t established = 1 << 1;    // handshake completed (first time only)
inline constexpr uint8_t end_connection = 1 << 2; // Haka's end_connection: entering timed_wait or reset, or a failure/timeout; once per connection
inline constexpr uint8_t finished = 1 << 3;       // state finish: the entry can be freed now
inline constexpr uint8_t state_changed = 1 << 4;  // the state differs from before the call
} // namespace tcp_event

/// What one call to open/step/expire/drop decided.
struct StepResult {
  SegmentOutcome outcome = SegmentOutcome::accepted;
  bool forward = false;         // forward the segment (meaningless when restart)
  Policy policy = Policy::none; // a policy the engine applies to this segment (its default drops it)
  uint8_t events = 0;           // tcp_event bits
  EndReason end = EndReason::none; // set when events has end_connection
  bool restart = false;         // end this connection and process the same segment again as a new one

  bool has(uint8_t e) const { return (events & e) != 0; }
};
static_assert(sizeof(StepResult) == 6);

/// Tracker settings, one per worker (all connections share it).
struct TrackerConfig {
  bool midstream = false;     // pick up connections whose SYN we did not see (Haka: no)
  bool window_checks = true;  // RFC 9293 / RFC 5961 sequence, ACK and RST checks (false: Haka's none)
  bool close_on_unexpected = false; // Haka's fail: an unexpected/invalid segment also ends the connection
  uint64_t handshake_ns = 60ull * 1000000000ull;    // syn, syn_sent, syn_received: idle timeout
  uint64_t established_ns = 3600ull * 1000000000ull; // established: idle timeout
  uint64_t closing_ns = 120ull * 1000000000ull;     // fin_wait_1, fin_wait_2, closing: idle timeout
  uint64_t timed_wait_ns = 60ull * 1000000000ull;   // timed_wait: from entry (Haka's 60 s)
  uint64_t reset_ns = 60ull * 1000000000ull;        // reset: from entry (Haka's 60 s)

  /// The timeout of a state, ns (0 for finish: due at once).
  uint64_t timeout_for(State s) const;
};

/// Bits of Endpoint::flags.
namespace ep_flag {
inline constexpr uint8_t seen = 1 << 0;     // sent at least one accepted segment (isn/next valid)
inline constexpr uint8_t syn = 1 << 1;      // sent a SYN without ACK
inline constexpr uint8_t synack = 1 << 2;   // sent a SYN with ACK
inline constexpr uint8_t acked = 1 << 3;    // sent an ACK (max_ack, window_end valid)
inline constexpr uint8_t fin = 1 << 4;      // sent a FIN (fin_seq valid)
inline constexpr uint8_t wscale_offered = 1 << 5; // its SYN carried the window scale option
inline constexpr uint8_t sack_ok = 1 << 6;  // its SYN carried SACK-permitted
inline constexpr uint8_t ts_ok = 1 << 7;    // its SYN carried timestamps
} // namespace ep_flag

/// One direction's sender: what that host sent, as far as we accepted it.
struct Endpoint {
  Seq isn;           // its initial sequence number (its SYN's seq)
  Seq next;          // one past the highest sequence number it sent (SYN and FIN count), RFC 9293 SND.NXT as seen by us
  Seq max_ack;       // highest ACK it sent: what its peer's data it has acknowledged (its RCV.NXT, as far as it told)
  Seq window_end;    // highest right edge it advertised (ack + scaled window): its peer may send up to here
  Seq fin_seq;       // sequence number of its FIN
  uint32_t window = 0;     // last window it advertised, scaled
  uint32_t max_window = 0; // largest window it advertised, scaled (RFC 5961 MAX.SND.WND of its peer)
  uint16_t mss = 0;        // MSS option of its SYN (0: none)
  uint8_t wscale = 0;      // shift applied to its windows: its SYN's option, 0 unless both SYNs carried one
  uint8_t flags = 0;       // ep_flag bits

  bool has(uint8_t f) const { return (flags & f) != 0; }
};
static_assert(sizeof(Endpoint) == 32);

/// Bits of Connection::flags.
namespace conn_flag {
inline constexpr uint8_t swapped = 1 << 0;      // input is down, output up (the responder closed first)
inline constexpr uint8_t established_once = 1 << 1; // reached established (Haka's _established; reset() needs it)
inline constexpr uint8_t dropped = 1 << 2;      // drop() was called
inline constexpr uint8_t liberal = 1 << 3;      // picked up midstream: window and ACK checks off
inline constexpr uint8_t scaling = 1 << 4;      // both SYNs carried window scale: windows are scaled
inline constexpr uint8_t simultaneous = 1 << 5; // opened by simultaneous open
inline constexpr uint8_t ended = 1 << 6;        // end_connection was signalled
inline constexpr uint8_t translated = 1 << 7;   // rules changed a stream's length: seq/ack numbers are translated (the engine's)
} // namespace conn_flag

/// The tracker's whole state for one connection: a plain value, copied and
/// stored by the flow table's owner in its per-slot array.
struct Connection {
  Endpoint ep[2];          // indexed by Dir: ep[0] = up's sender state, ep[1] = down's
  uint64_t last_seen = 0;  // ns: last accepted segment (live states) or state entry (timed_wait, reset)
  State state = State::syn;
  EndReason end = EndReason::none; // why it ended (once end_connection fired)
  uint8_t flags = 0;               // conn_flag bits
  uint8_t reserved = 0;
  uint32_t streams = 0;            // the engine's stream state for it: index + 1, 0 = none yet

  Endpoint& endpoint(Dir d) { return ep[static_cast<int>(d)]; }
  const Endpoint& endpoint(Dir d) const { return ep[static_cast<int>(d)]; }
  bool has(uint8_t f) const { return (flags & f) != 0; }
  /// Haka's `input` direction: up, or down once the responder sent the first FIN.
  Dir input() const { return has(conn_flag::swapped) ? Dir::down : Dir::up; }
  /// Haka's `output` direction.
  Dir output() const { return opposite(input()); }
};
static_assert(sizeof(Connection) <= 96, "per-connection budget: 256 B with flow table and streams");
static_assert(sizeof(Connection) == 80);
static_assert(std::is_trivially_copyable_v<Connection>);

} // namespace haka::tcp
