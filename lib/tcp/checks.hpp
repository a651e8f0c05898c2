// Segment acceptability checks (RFC 9293 §3.10.7.4, RFC 5961), as seen from
// the middle of the path: pure functions of the two endpoints' states.
//
// Notation: S sent the segment, R will receive it. We never see R's RCV.NXT
// or RCV.WND directly; R tells them in its ACKs, so:
//   R's RCV.NXT            ~ R.max_ack (highest ACK R sent)
//   R's RCV.NXT + RCV.WND  <= R.window_end (highest right edge R advertised)
//   R's SND.UNA            =  S.max_ack; MAX.SND.WND of R = S.max_window
//   S's SND.NXT            =  S.next
#pragma once

#include <cstdint>

#include "tcp/connection.hpp"
#include "tcp/seq.hpp"

namespace haka::tcp {

/// Where a segment's sequence space falls for its receiver.
enum class SeqClass : uint8_t {
  in_window,      // new sequence space inside the receiver's window (or a pure ACK at/after next)
  retransmission, // occupies only sequence space the sender already used
  keepalive,      // seq = next - 1 with 0 or 1 byte, no SYN/FIN
  out_of_window,  // past the receiver's right edge, older than any retransmission can be, or data past the sender's FIN
  fin_moved,      // a FIN at another position than the sender's first FIN
};

/// Classifies `s` (from S to R) by sequence numbers. With `check_window`
/// false, only the position relative to S's own history is judged (never
/// out_of_window): midstream pickups and window_checks = false.
SeqClass classify_seq(const Endpoint& S, const Endpoint& R, const SegmentView& s, bool check_window);

/// Is `ack` (sent by S) acceptable: it does not acknowledge data R never
/// sent (RFC 9293 §3.10.7.4: SEG.ACK > SND.NXT), nor is it older than R's
/// SND.UNA - MAX.SND.WND (RFC 5961 §5.2). S's first ACK must cover R's SYN.
bool ack_acceptable(const Endpoint& S, const Endpoint& R, Seq ack);

/// Does `ack` acknowledge R's SYN without going past what R sent
/// (RFC 9293 §3.10.7.3: ISS < SEG.ACK =< SND.NXT)? The test for a SYN+ACK,
/// and for an RST answering a SYN.
inline bool acks_syn(const Endpoint& R, Seq ack) { return ack > R.isn && ack <= R.next; }

/// Is `seq` inside R's receive window [RCV.NXT, RCV.NXT + RCV.WND), a
/// zero window still admitting RCV.NXT itself (RFC 9293 §3.10.7.4)? False
/// when R never sent an ACK (no window known).
bool in_receive_window(const Endpoint& R, Seq seq);

/// Where an RST falls (RFC 5961 §3.2).
enum class RstClass : uint8_t { exact, in_window, out_of_window };

/// Classifies an RST from S to R in a state past syn_sent: exact when its
/// seq is S's next sequence number or R's last ACK (R's RCV.NXT, whichever
/// R has reached), in_window when inside R's receive window.
RstClass classify_rst(const Endpoint& S, const Endpoint& R, Seq seq);

} // namespace haka::tcp
