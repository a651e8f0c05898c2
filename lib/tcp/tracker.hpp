// TCP connection tracker: Haka's tcp_connection state machine
// (HAKA_SEMANTICS.md §3) with RFC 9293 / RFC 5961 checks, on plain values.
//
// The engine owns one Connection per tracked flow (in the flow table's slot
// array) and calls:
//   opens_connection(seg)  on a segment with no connection: may it open one?
//   open(conn, seg)        for that opening segment;
//   step(conn, dir, seg)   for every later segment;
//   expire(conn, now)      when the timer set to deadline(conn) fires;
//   drop(conn)             when a rule drops the flow.
// Each returns a StepResult: an outcome (tcp_outcomes.def), whether the
// segment is forwarded, a policy to apply, and events to signal.
// No DPDK, no allocation, no I/O: every function is a pure update of a value.
//
// Where we differ from Haka, and why (HAKA_SEMANTICS.md §3, §6, §7 and "Our
// decisions on §7"):
//  1. Sequence and ACK checks (Haka has none; its bug 13). A segment is
//     acceptable when it overlaps what the receiver allowed (RFC 9293
//     §3.10.7.4): it may not extend past the highest right edge the receiver
//     advertised (+1 for zero-window probes and a FIN at the edge), nor end
//     further back than the receiver's largest window before the sender's
//     highest sequence (older than anything it can still retransmit). Its ACK
//     may not acknowledge data never sent, nor be older than the receiver's
//     SND.UNA - MAX.SND.WND (RFC 5961 §5). Failing segments are dropped and
//     counted (out_of_window, bad_ack) and leave the connection as it was:
//     a spoofed packet cannot kill or steer a connection, and bytes a
//     receiver would discard never reach the rules.
//  2. Window scaling is honoured only when both SYNs carried the option
//     (RFC 7323 §2.2, shift clamped to 14); SYN segments' windows are never
//     scaled. The right edge kept is the highest ever advertised, so window
//     shrinking by the receiver never makes valid data look out of window.
//  3. RST (Haka accepts any RST, any state): RFC 5961 §3.2. Exactly the next
//     expected sequence number (the sender's next, or the receiver's last
//     ACK) resets the connection; inside the receiver's window it is
//     forwarded unchanged so the receiver can send its challenge ACK; outside
//     it is dropped. During the handshake, the responder's RST must ACK our
//     SYN (RFC 9293 §3.10.7.3) and ends the connection as `refused`.
//  4. Keep-alive probes (seq = next - 1, 0 or 1 byte) are forwarded (Haka
//     dropped them as retransmissions: bug 3). Retransmissions are forwarded
//     with outcome `retransmission`; the stream layer decides about the bytes
//     (Haka dropped any segment starting before its next seq: bug 1).
//  5. Retransmitted SYN and SYN+ACK are forwarded in every state, the
//     connection unchanged (Haka absorbed the SYN+ACK and killed the flow on
//     the SYN in syn_received: bug 11).
//  6. Simultaneous open (SYN from both sides, RFC 9293 §3.5 Figure 8) is
//     tracked: the second SYN moves syn_sent to syn_received, and the
//     connection is established once each side has ACKed the other's SYN.
//     Haka treated the second SYN as an invalid handshake.
//  7. A new SYN on a synchronized connection (RFC 5961 §4): outside the
//     receiver's window it is forwarded (syn_in_established) so the receiver
//     sends a challenge ACK; a peer that really restarted answers that with
//     an exact RST, which resets the connection, and its next SYN opens a new
//     one. Dropping it instead would leave a restarted client unable to
//     reconnect until the old entry timed out. Inside the window it is
//     dropped (syn_in_window): an RFC 793 receiver would reset on it. Haka
//     treated it as data in established and as invalid elsewhere.
//  8. Restart: a SYN without ACK in timed_wait restarts the connection from
//     either side (Haka: only from the `input` side; a SYN from the other
//     side killed the entry, and only the retransmitted SYN opened the new
//     connection, E7). As in Haka, a SYN without ACK on a connection in
//     state reset (RST seen or dropped) also restarts. A SYN with a new ISN
//     before the responder answered restarts too (the client retried); in
//     later handshake states it is treated as in 7.
//  9. Segments without ACK after the handshake are dropped (no_ack, through
//     the unexpected_packet policy): receivers discard them (RFC 9293
//     §3.10.7.4), so forwarding them would let the rules see bytes the
//     receiver never accepts. Haka pushed them in established, moved to
//     fin_wait_1 on a FIN without ACK in syn_received and to timed_wait on
//     one in fin_wait_1; real stacks never send those.
// 10. Closing: Haka's states and order are kept (fin_wait_1, fin_wait_2,
//     closing, timed_wait, with the input/output swap when the responder
//     sends the first FIN), but fin_wait_1 -> fin_wait_2 and closing ->
//     timed_wait need the ACK to cover the FIN (Haka: any ACK), and a
//     retransmitted FIN from the first closer does not move fin_wait_1 to
//     closing (Haka did). Data past a side's FIN is out_of_window; a second
//     FIN at another position is unexpected.
// 11. Policies: unmatched segments during the handshake go to the
//     invalid_handshake policy (Haka declared it and used unexpected_packet:
//     bug 9). Haka then failed the connection whatever the policy said; we
//     leave the connection as it was unless close_on_unexpected is set
//     (then it ends with EndReason::error), again so that one stray packet
//     cannot kill a connection.
// 12. Timeouts in every state (Haka: only reset and timed_wait, 60 s; bug 13):
//     idle timeouts per state group (TrackerConfig), refreshed only by
//     segments that passed the checks; reset and timed_wait count from
//     entry, as Haka.
// 13. end_connection fires exactly once per connection (Haka fired it again
//     when a connection in timed_wait was reset, and late or never on
//     errors, bug 12), and carries an EndReason.
// 14. window_checks = false gives Haka's permissive behaviour back for the
//     checks in 1-3 (every RST accepted, no window or ACK checks).
// 15. Midstream pickup (optional, off as in Haka): any non-RST segment opens
//     a connection in established with window and ACK checks off for it (we
//     do not know the window scale); up is the side seen first.
// Not done: PAWS (RFC 7323 §5) timestamp checks; the stream layer's overlap
// policy decides about retransmitted bytes, not the tracker.
#pragma once

#include <cstdint>

#include "net/packet_meta.hpp"
#include "tcp/connection.hpp"
#include "tcp/seq.hpp"

namespace haka::tcp {

/// The TCP fields of a decoded packet, for the tracker.
inline SegmentView segment_from(const net::PacketMeta& pm) {
  SegmentView s;
  s.seq = Seq{pm.tcp_seq};
  s.ack = Seq{pm.tcp_ack};
  s.len = pm.payload_len;
  s.flags = pm.tcp_flags;
  s.window = pm.tcp_window;
  s.mss = pm.tcp_mss;
  s.wscale = pm.tcp_wscale;
  s.options = pm.tcp_options;
  s.tsval = pm.tcp_tsval;
  s.tsecr = pm.tcp_tsecr;
  return s;
}

/// May this segment, with no connection for its tuple, open one? A SYN
/// without ACK (and without RST); with midstream, any segment without RST.
bool opens_connection(const SegmentView& first, const TrackerConfig& cfg);

/// Starts `c` (overwritten whole) with its first segment, sent by Dir::up:
/// a SYN moves Haka's syn to syn_sent; with midstream pickup any other
/// segment makes it established. Call only when opens_connection() is true.
/// Events: opened (and established for a midstream pickup).
StepResult open(Connection& c, const SegmentView& first, uint64_t now, const TrackerConfig& cfg);

/// step() without its inline fast path: every case (tests compare the two).
StepResult step_general(Connection& c, Dir dir, const SegmentView& seg, uint64_t now, const TrackerConfig& cfg);

namespace detail {

/// Records the ACK and window a segment from e carries. SYN windows are
/// never scaled; the right edge kept is the highest ever offered.
inline void record_ack(Endpoint& e, const SegmentView& s, bool scaling) {
  const uint32_t shift = (scaling && !s.has(tcp_flag::syn)) ? e.wscale : 0u;
  const uint32_t wnd = uint32_t{s.window} << shift;
  const Seq edge = s.ack + wnd;
  if (e.has(ep_flag::acked)) {
    e.max_ack = seq_max(e.max_ack, s.ack);
    e.window_end = seq_max(e.window_end, edge);
  } else {
    e.max_ack = s.ack;
    e.window_end = edge;
    e.flags |= ep_flag::acked;
  }
  e.window = wnd;
  e.max_window = wnd > e.max_window ? wnd : e.max_window;
}

/// The commonest segment, decided inline: on an established connection with
/// window checks on, an ACK without SYN, RST or FIN that starts exactly at
/// the sender's next sequence number (new data in order, or a pure ACK),
/// ends inside the receiver's advertised window, and carries an acceptable
/// ACK. For it, step_general() reaches `accepted` through classify_seq
/// (in_window: in order, so neither keepalive nor retransmission, and never
/// behind the lower edge), ack_acceptable, record_ack and an idle-timer
/// refresh, with no state change. This does the same updates and returns
/// true; for any other segment it changes nothing and returns false.
inline bool step_in_order(Connection& c, Dir d, const SegmentView& s, uint64_t now, const TrackerConfig& cfg,
                          StepResult& r) {
  constexpr uint8_t kind = tcp_flag::syn | tcp_flag::rst | tcp_flag::fin | tcp_flag::ack;
  constexpr uint8_t need = ep_flag::seen | ep_flag::acked;
  Endpoint& S = c.endpoint(d);
  const Endpoint& R = c.endpoint(opposite(d));
  if (c.state != State::established || (s.flags & kind) != tcp_flag::ack || !cfg.window_checks ||
      c.has(conn_flag::liberal) || (S.flags & (need | ep_flag::fin)) != need || !R.has(ep_flag::acked) ||
      s.seq != S.next)
    return false;
  const Seq end = s.seq + s.len;
  const uint32_t back = R.max_window > 1 ? R.max_window : 1u;
  if (s.seq > R.window_end || end > R.window_end || end < S.next - back) return false; // classify_seq's edges
  if (s.len > 0 && end <= S.next) return false; // (a length of 2^31 or more) a retransmission
  if (s.ack > R.next || s.ack < S.max_ack - S.max_window) return false; // ack_acceptable
  S.next = seq_max(S.next, end);
  record_ack(S, s, c.has(conn_flag::scaling));
  if (now > c.last_seen) c.last_seen = now;
  r = StepResult{};
  r.outcome = SegmentOutcome::accepted;
  r.forward = true;
  return true;
}

} // namespace detail

/// Processes one later segment of the connection, sent in direction `dir`.
/// In-order data and ACKs of established connections take an inline fast
/// path with the same result as step_general().
inline StepResult step(Connection& c, Dir dir, const SegmentView& seg, uint64_t now, const TrackerConfig& cfg) {
  StepResult r;
  if (detail::step_in_order(c, dir, seg, now, cfg, r)) [[likely]]
    return r;
  return step_general(c, dir, seg, now, cfg);
}

/// When expire() is due for `c`, absolute ns (same clock as `now`).
uint64_t deadline(const Connection& c, const TrackerConfig& cfg);

/// Timer: if now >= deadline(c), reset and timed_wait go to finish; other
/// states signal end_connection (EndReason::timeout, or fin when both sides
/// had closed) and go to finish. Earlier than the deadline: timer_not_due,
/// nothing changed (re-arm with deadline()).
StepResult expire(Connection& c, uint64_t now, const TrackerConfig& cfg);

/// A rule dropped the flow (Haka's flow:drop()): state reset, end_connection
/// (with `why`: dropped, or error for a rule that raised) unless it already
/// fired; the entry stays for the reset timeout, counted from `now`, so later
/// packets are dropped silently. Idempotent on a connection already in reset
/// or finish.
StepResult drop(Connection& c, uint64_t now, EndReason why = EndReason::dropped);
/// The same, with the reset timeout counted from the connection's last
/// accepted segment (usually the one being processed).
StepResult drop(Connection& c);

} // namespace haka::tcp
