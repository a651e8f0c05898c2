// The state machine: Haka's tcp_connection table (HAKA_SEMANTICS.md §3) with
// the checks of checks.hpp. tracker.hpp lists where and why we differ.
#include "tcp/tracker.hpp"

#include <algorithm>

#include "tcp/checks.hpp"

namespace haka::tcp {

namespace {

/// RFC 7323 §2.3: a shift above 14 is treated as 14.
constexpr uint8_t kMaxWindowShift = 14;

StepResult make(SegmentOutcome o) {
  StepResult r;
  r.outcome = o;
  r.forward = outcome_verdict(o) == Verdict::forward;
  r.policy = policy_for(o);
  return r;
}

void touch(Connection& c, uint64_t now) {
  if (now > c.last_seen) c.last_seen = now;
}

void set_state(Connection& c, State s, StepResult& r, uint64_t now) {
  if (c.state == s) return;
  c.state = s;
  r.events |= tcp_event::state_changed;
  // reset and timed_wait time out from entry; the others from the last
  // accepted segment, which this is.
  touch(c, now);
}

/// Signals end_connection once per connection.
void end_connection(Connection& c, StepResult& r, EndReason why) {
  if (c.has(conn_flag::ended)) return;
  c.flags |= conn_flag::ended;
  c.end = why;
  r.events |= tcp_event::end_connection;
  r.end = why;
}

void finish(Connection& c, StepResult& r) {
  if (c.state != State::finish) {
    c.state = State::finish;
    r.events |= tcp_event::state_changed;
  }
  r.events |= tcp_event::finished;
}

/// A segment the state table does not allow: its policy decides about the
/// segment; the connection ends only with close_on_unexpected (Haka's fail).
StepResult refuse(Connection& c, SegmentOutcome o, const TrackerConfig& cfg) {
  StepResult r = make(o);
  if (cfg.close_on_unexpected) {
    end_connection(c, r, EndReason::error);
    finish(c, r);
  }
  return r;
}

StepResult restart(Connection& c) {
  StepResult r = make(SegmentOutcome::restart);
  r.restart = true;
  end_connection(c, r, EndReason::restart);
  finish(c, r);
  return r;
}

/// Records the SYN (or SYN+ACK) that starts endpoint e's sequence space.
void init_from_syn(Endpoint& e, const SegmentView& s) {
  e = Endpoint{};
  e.isn = s.seq;
  e.next = s.seq + s.seq_len();
  e.window = s.window; // never scaled in a SYN (RFC 7323 §2.2)
  e.max_window = s.window;
  e.mss = (s.options & seg_opt::mss) ? s.mss : 0;
  e.flags = ep_flag::seen | (s.has(tcp_flag::ack) ? ep_flag::synack : ep_flag::syn);
  if (s.options & seg_opt::wscale) {
    e.flags |= ep_flag::wscale_offered;
    e.wscale = std::min(s.wscale, kMaxWindowShift);
  }
  if (s.options & seg_opt::sack_permitted) e.flags |= ep_flag::sack_ok;
  if (s.options & seg_opt::timestamps) e.flags |= ep_flag::ts_ok;
  if (s.has(tcp_flag::fin)) {
    e.flags |= ep_flag::fin;
    e.fin_seq = s.seq + 1 + s.len;
  }
}

/// Both SYNs are known: scaling applies only if both offered it (RFC 7323 §2.2).
void settle_scaling(Connection& c) {
  Endpoint& up = c.endpoint(Dir::up);
  Endpoint& down = c.endpoint(Dir::down);
  if (up.has(ep_flag::wscale_offered) && down.has(ep_flag::wscale_offered)) {
    c.flags |= conn_flag::scaling;
  } else {
    c.flags &= static_cast<uint8_t>(~conn_flag::scaling);
    up.wscale = 0;
    down.wscale = 0;
  }
}

using detail::record_ack;

/// Each side has acknowledged the other's SYN: the handshake is complete
/// (for a normal open, that is the initiator's ACK of the SYN+ACK).
bool handshake_done(const Connection& c) {
  const Endpoint& up = c.endpoint(Dir::up);
  const Endpoint& down = c.endpoint(Dir::down);
  return up.has(ep_flag::acked) && down.has(ep_flag::acked) && up.max_ack > down.isn && down.max_ack > up.isn;
}

void become_established(Connection& c, StepResult& r, uint64_t now) {
  set_state(c, State::established, r, now);
  if (!c.has(conn_flag::established_once)) {
    c.flags |= conn_flag::established_once;
    r.events |= tcp_event::established;
  }
}

bool refreshes(SegmentOutcome o) {
  switch (o) {
  case SegmentOutcome::accepted:
  case SegmentOutcome::retransmission:
  case SegmentOutcome::keepalive:
  case SegmentOutcome::syn_retransmitted:
  case SegmentOutcome::synack_retransmitted:
    return true;
  default:
    return false;
  }
}

/// Idle timers restart on segments that passed the checks, except in the
/// states that time out from entry.
void touch_live(Connection& c, const StepResult& r, uint64_t now) {
  if (c.state != State::timed_wait && c.state != State::reset && refreshes(r.outcome)) touch(c, now);
}

StepResult on_rst(Connection& c, Dir d, const SegmentView& s, uint64_t now, const TrackerConfig& cfg) {
  const Endpoint& S = c.endpoint(d);
  const Endpoint& R = c.endpoint(opposite(d));
  EndReason why = EndReason::rst;

  if (!cfg.window_checks) {
    // Haka: any RST with the tuple resets.
  } else if (c.state == State::syn_sent) {
    bool ok;
    if (d == Dir::down) {
      // RFC 9293 §3.10.7.3 (SYN-SENT): acceptable only if it ACKs our SYN
      // (ISS < SEG.ACK =< SND.NXT); the peer refused the connection.
      ok = s.has(tcp_flag::ack) && acks_syn(R, s.ack);
      why = EndReason::refused;
    } else {
      ok = s.seq == S.next;
    }
    if (!ok) return make(SegmentOutcome::rst_out_of_window);
  } else {
    RstClass k = classify_rst(S, R, s.seq);
    // Midstream: windows unknown; exact still resets, the rest is the receiver's call.
    if (k == RstClass::out_of_window && c.has(conn_flag::liberal)) k = RstClass::in_window;
    if (k == RstClass::in_window) return make(SegmentOutcome::rst_in_window);
    if (k == RstClass::out_of_window) return make(SegmentOutcome::rst_out_of_window);
  }

  StepResult r = make(SegmentOutcome::rst_accepted);
  end_connection(c, r, why);
  set_state(c, State::reset, r, now);
  return r;
}

/// A SYN that is not a retransmission, once the responder has answered
/// (RFC 5961 §4): forwarded for the challenge ACK unless it falls inside the
/// receiver's window.
StepResult foreign_syn(const Connection& c, Dir d, const SegmentView& s, const TrackerConfig& cfg) {
  const Endpoint& R = c.endpoint(opposite(d));
  if (cfg.window_checks && !c.has(conn_flag::liberal) && in_receive_window(R, s.seq))
    return make(SegmentOutcome::syn_in_window);
  return make(SegmentOutcome::syn_in_established);
}

StepResult on_syn(Connection& c, Dir d, const SegmentView& s, uint64_t now, const TrackerConfig& cfg) {
  Endpoint& S = c.endpoint(d);
  Endpoint& R = c.endpoint(opposite(d));
  const bool ack = s.has(tcp_flag::ack);

  if (c.state == State::syn_sent) {
    if (d == Dir::up) {
      if (ack) return refuse(c, SegmentOutcome::invalid_handshake, cfg);
      if (s.seq == S.isn) {
        StepResult r = make(SegmentOutcome::syn_retransmitted);
        touch(c, now);
        return r;
      }
      return restart(c); // the client tried again with a new ISN
    }
    if (!ack) {
      // Simultaneous open (RFC 9293 §3.5, Figure 8): both SYNs are out.
      init_from_syn(S, s);
      c.flags |= conn_flag::simultaneous;
      settle_scaling(c);
      StepResult r = make(SegmentOutcome::simultaneous_open);
      set_state(c, State::syn_received, r, now);
      return r;
    }
    if (cfg.window_checks && !acks_syn(R, s.ack)) return make(SegmentOutcome::bad_ack);
    init_from_syn(S, s);
    settle_scaling(c);
    record_ack(S, s, false);
    StepResult r = make(SegmentOutcome::accepted);
    set_state(c, State::syn_received, r, now);
    return r;
  }

  // The same SYN or SYN+ACK again, in any later state.
  if (S.has(ep_flag::seen) && s.seq == S.isn) {
    if (!ack && S.has(ep_flag::syn)) {
      StepResult r = make(SegmentOutcome::syn_retransmitted);
      touch_live(c, r, now);
      return r;
    }
    if (ack && S.has(ep_flag::synack) && acks_syn(R, s.ack)) {
      StepResult r = make(SegmentOutcome::synack_retransmitted);
      touch_live(c, r, now);
      return r;
    }
  }

  if (c.state == State::syn_received) {
    // Simultaneous open: each side's SYN+ACK acknowledges the other's SYN.
    if (ack && c.has(conn_flag::simultaneous) && S.has(ep_flag::syn) && !S.has(ep_flag::synack) && s.seq == S.isn) {
      if (cfg.window_checks && !acks_syn(R, s.ack)) return make(SegmentOutcome::bad_ack);
      S.flags |= ep_flag::synack;
      record_ack(S, s, false);
      StepResult r = make(SegmentOutcome::accepted);
      touch(c, now);
      if (handshake_done(c)) become_established(c, r, now);
      return r;
    }
    // The initiator's new SYN once the responder answered: as in a
    // synchronized state (the responder's answer, an ACK, makes a client that
    // restarted send an RST that resets this entry). Anything else is not a
    // handshake.
    if (!ack && d == Dir::up) return foreign_syn(c, d, s, cfg);
    return refuse(c, SegmentOutcome::invalid_handshake, cfg);
  }

  if (c.state == State::timed_wait && !ack) return restart(c);
  return foreign_syn(c, d, s, cfg);
}

/// A segment without SYN or RST, with ACK, in syn_received or later.
StepResult on_segment(Connection& c, Dir d, const SegmentView& s, uint64_t now, const TrackerConfig& cfg) {
  Endpoint& S = c.endpoint(d);
  Endpoint& R = c.endpoint(opposite(d));
  const bool liberal = c.has(conn_flag::liberal);
  const bool checks = cfg.window_checks && !liberal;

  if (c.state == State::syn_received && d == Dir::down && !c.has(conn_flag::simultaneous))
    return refuse(c, SegmentOutcome::invalid_handshake, cfg); // the responder may not talk before the handshake completes

  if (!S.has(ep_flag::seen)) {
    // Only with midstream pickup: the first segment seen from this side.
    S.isn = s.seq - 1;
    S.next = s.seq;
    S.flags |= ep_flag::seen;
  }

  const SeqClass k = classify_seq(S, R, s, checks);
  if (k == SeqClass::out_of_window) return make(SegmentOutcome::out_of_window);
  if (k == SeqClass::fin_moved) return refuse(c, SegmentOutcome::unexpected, cfg);
  if (checks && !ack_acceptable(S, R, s.ack)) return make(SegmentOutcome::bad_ack);

  StepResult r = make(k == SeqClass::retransmission ? SegmentOutcome::retransmission
                      : k == SeqClass::keepalive    ? SegmentOutcome::keepalive
                                                    : SegmentOutcome::accepted);

  const bool new_fin = s.has(tcp_flag::fin) && !S.has(ep_flag::fin);
  S.next = seq_max(S.next, s.seq + s.seq_len());
  if (new_fin) {
    S.flags |= ep_flag::fin;
    S.fin_seq = s.seq + s.len;
  }
  record_ack(S, s, c.has(conn_flag::scaling));
  touch_live(c, r, now);

  if (c.state == State::syn_received) {
    if (!handshake_done(c)) return r;
    become_established(c, r, now);
  }

  // Haka's closing table (input = first closer A, output = B).
  const bool from_input = d == c.input();
  switch (c.state) {
  case State::established:
    if (new_fin) {
      if (!from_input) c.flags ^= conn_flag::swapped; // the responder closes first: swap input/output
      set_state(c, State::fin_wait_1, r, now);
    }
    break;
  case State::fin_wait_1:
    if (!from_input) {
      if (new_fin) {
        set_state(c, State::closing, r, now);
      } else if (S.max_ack > R.fin_seq) {
        set_state(c, State::fin_wait_2, r, now); // B acknowledged A's FIN
      }
    }
    break;
  case State::fin_wait_2:
    if (!from_input && new_fin) {
      end_connection(c, r, EndReason::fin);
      set_state(c, State::timed_wait, r, now);
    }
    break;
  case State::closing:
    if (from_input && R.has(ep_flag::fin) && S.max_ack > R.fin_seq) {
      end_connection(c, r, EndReason::fin); // A acknowledged B's FIN
      set_state(c, State::timed_wait, r, now);
    }
    break;
  default:
    break;
  }
  return r;
}

} // namespace

bool opens_connection(const SegmentView& first, const TrackerConfig& cfg) {
  if (first.has(tcp_flag::rst)) return false;
  if (first.has(tcp_flag::syn) && !first.has(tcp_flag::ack)) return true;
  return cfg.midstream;
}

StepResult open(Connection& c, const SegmentView& first, uint64_t now, const TrackerConfig& cfg) {
  (void)cfg;
  c = Connection{};
  c.last_seen = now;
  Endpoint& up = c.endpoint(Dir::up);

  if (first.has(tcp_flag::syn) && !first.has(tcp_flag::ack)) {
    init_from_syn(up, first);
    StepResult r = make(SegmentOutcome::opened);
    r.events = tcp_event::opened;
    set_state(c, State::syn_sent, r, now);
    return r;
  }

  // Midstream pickup: we missed the handshake, so the window scale is
  // unknown and the window checks stay off for this connection.
  c.flags |= conn_flag::liberal;
  up.flags = ep_flag::seen;
  if (first.has(tcp_flag::syn)) {
    init_from_syn(up, first);
  } else {
    up.isn = first.seq - 1;
    up.next = first.seq + first.seq_len();
    if (first.has(tcp_flag::fin)) {
      up.flags |= ep_flag::fin;
      up.fin_seq = first.seq + first.len;
    }
  }
  if (first.has(tcp_flag::ack)) record_ack(up, first, false);
  StepResult r = make(SegmentOutcome::midstream_opened);
  r.events = tcp_event::opened;
  become_established(c, r, now);
  return r;
}

StepResult step_general(Connection& c, Dir d, const SegmentView& s, uint64_t now, const TrackerConfig& cfg) {
  switch (c.state) {
  case State::finish:
  case State::count_:
    return make(SegmentOutcome::after_close);
  case State::reset:
    // Haka: a dropped entry is silent, but a new SYN replaces it.
    if (s.has(tcp_flag::syn) && !s.has(tcp_flag::ack) && !s.has(tcp_flag::rst)) return restart(c);
    return make(SegmentOutcome::after_close);
  case State::syn:
    // Haka's initial state, when open() was not used.
    if (d == Dir::up && s.has(tcp_flag::syn) && !s.has(tcp_flag::ack) && !s.has(tcp_flag::rst))
      return open(c, s, now, cfg);
    return refuse(c, SegmentOutcome::invalid_handshake, cfg);
  default:
    break;
  }

  if (s.has(tcp_flag::rst)) return on_rst(c, d, s, now, cfg);
  if (s.has(tcp_flag::syn)) return on_syn(c, d, s, now, cfg);
  if (c.state == State::syn_sent) return refuse(c, SegmentOutcome::invalid_handshake, cfg);
  if (!s.has(tcp_flag::ack))
    return refuse(c, c.state == State::syn_received ? SegmentOutcome::invalid_handshake : SegmentOutcome::no_ack, cfg);
  return on_segment(c, d, s, now, cfg);
}

uint64_t deadline(const Connection& c, const TrackerConfig& cfg) { return c.last_seen + cfg.timeout_for(c.state); }

StepResult expire(Connection& c, uint64_t now, const TrackerConfig& cfg) {
  if (now < deadline(c, cfg)) return make(SegmentOutcome::timer_not_due);
  StepResult r = make(SegmentOutcome::timed_out);
  switch (c.state) {
  case State::reset:
  case State::timed_wait:
  case State::finish:
    break; // end_connection fired on entry
  default: {
    const bool both_closed = c.endpoint(Dir::up).has(ep_flag::fin) && c.endpoint(Dir::down).has(ep_flag::fin);
    end_connection(c, r, both_closed ? EndReason::fin : EndReason::timeout);
    break;
  }
  }
  finish(c, r);
  return r;
}

StepResult drop(Connection& c, uint64_t now, EndReason why) {
  StepResult r = make(SegmentOutcome::dropped);
  if (c.state == State::reset || c.state == State::finish) return r;
  c.flags |= conn_flag::dropped;
  end_connection(c, r, why);
  set_state(c, State::reset, r, now);
  touch(c, now);
  return r;
}

StepResult drop(Connection& c) { return drop(c, c.last_seen); }

} // namespace haka::tcp
