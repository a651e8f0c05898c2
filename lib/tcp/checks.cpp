// Segment acceptability checks; see checks.hpp for the notation.
#include "tcp/checks.hpp"

#include <algorithm>

namespace haka::tcp {

SeqClass classify_seq(const Endpoint& S, const Endpoint& R, const SegmentView& s, bool check_window) {
  const bool fin = s.has(tcp_flag::fin);
  const Seq end = s.seq + s.seq_len();

  if (S.has(ep_flag::fin)) {
    // The receiver's stream ends at the FIN: bytes after it are never
    // delivered, so the rules must not see them either.
    const Seq data_end = s.seq + s.len;
    if (check_window && s.len > 0 && data_end > S.fin_seq) return SeqClass::out_of_window;
    if (fin && data_end != S.fin_seq) return SeqClass::fin_moved;
  }

  if (check_window) {
    // RFC 9293 §3.10.7.4 upper edge: no byte past what R offered, except a
    // zero-window probe's single byte right at the edge (RFC 9293 §3.8.6.1);
    // a FIN may sit at the edge (it takes no buffer space).
    if (R.has(ep_flag::acked)) {
      const Seq data_end = s.seq + s.len;
      const bool probe = s.len == 1 && s.seq == R.window_end;
      if (s.seq > R.window_end || (data_end > R.window_end && !probe)) return SeqClass::out_of_window;
    }
    // Lower edge: S cannot have more than R's largest window in flight, so a
    // segment ending further back than that is no retransmission of anything
    // still unacknowledged (the bound Linux conntrack uses as well).
    const uint32_t back = std::max<uint32_t>(R.max_window, 1);
    if (end < S.next - back) return SeqClass::out_of_window;
  }

  if (!s.has(tcp_flag::syn) && !fin && s.len <= 1 && s.seq == S.next - 1) return SeqClass::keepalive;
  if (s.seq_len() > 0 && end <= S.next) return SeqClass::retransmission;
  return SeqClass::in_window;
}

bool ack_acceptable(const Endpoint& S, const Endpoint& R, Seq ack) {
  if (ack > R.next) return false; // acknowledges something R never sent
  if (!S.has(ep_flag::acked)) return ack > R.isn; // the first ACK must cover R's SYN (RFC 9293 §3.10.7.3)
  return ack >= S.max_ack - S.max_window;
}

bool in_receive_window(const Endpoint& R, Seq seq) {
  if (!R.has(ep_flag::acked)) return false;
  const uint32_t wnd = static_cast<uint32_t>(R.window_end - R.max_ack);
  // window_end is never behind max_ack (it is max(ack + window)); a negative
  // difference could only come from a corrupt state, treat it as zero window.
  return seq.in_window(R.max_ack, R.window_end > R.max_ack ? wnd : 1u);
}

RstClass classify_rst(const Endpoint& S, const Endpoint& R, Seq seq) {
  // RFC 5961 §3.2 wants SEG.SEQ == RCV.NXT exactly. We know two candidates
  // for R's RCV.NXT: what S sent (all of it received, e.g. an abort right
  // after the last data, before R's delayed ACK) and what R acknowledged
  // last (the answer to a challenge ACK carries exactly that).
  if ((S.has(ep_flag::seen) && seq == S.next) || (R.has(ep_flag::acked) && seq == R.max_ack)) return RstClass::exact;
  if (in_receive_window(R, seq)) return RstClass::in_window;
  return RstClass::out_of_window;
}

} // namespace haka::tcp
