// Names and tables of the tracker's enums (one place, from tcp_outcomes.def).
#include <array>

#include "tcp/connection.hpp"

namespace haka::tcp {

namespace {

struct OutcomeInfo {
  const char* name;
  const char* meaning;
};

constexpr std::array<OutcomeInfo, outcome_count> kOutcomes{{
#define X(id, name, verdict, text) {name, text},
#include "tcp/tcp_outcomes.def"
#undef X
}};

constexpr std::array<const char*, state_count> kStates{
    "syn", "syn_sent", "syn_received", "established", "fin_wait_1",
    "fin_wait_2", "closing", "timed_wait", "reset", "finish"};

constexpr std::array<const char*, static_cast<std::size_t>(Policy::count_)> kPolicies{
    "none", "no_connection_found", "unexpected_packet", "invalid_handshake", "new_connection"};

constexpr std::array<const char*, end_reason_count> kEndReasons{
    "none", "fin", "rst", "refused", "timeout", "dropped", "error", "restart"};

} // namespace

const char* state_name(State s) {
  const auto i = static_cast<std::size_t>(s);
  return i < kStates.size() ? kStates[i] : "invalid";
}

const char* outcome_name(SegmentOutcome o) {
  const auto i = static_cast<std::size_t>(o);
  return i < kOutcomes.size() ? kOutcomes[i].name : "tcp_invalid_outcome";
}

const char* outcome_meaning(SegmentOutcome o) {
  const auto i = static_cast<std::size_t>(o);
  return i < kOutcomes.size() ? kOutcomes[i].meaning : "";
}

const char* policy_name(Policy p) {
  const auto i = static_cast<std::size_t>(p);
  return i < kPolicies.size() ? kPolicies[i] : "invalid";
}

const char* end_reason_name(EndReason r) {
  const auto i = static_cast<std::size_t>(r);
  return i < kEndReasons.size() ? kEndReasons[i] : "invalid";
}

uint64_t TrackerConfig::timeout_for(State s) const {
  switch (s) {
  case State::syn:
  case State::syn_sent:
  case State::syn_received:
    return handshake_ns;
  case State::established:
    return established_ns;
  case State::fin_wait_1:
  case State::fin_wait_2:
  case State::closing:
    return closing_ns;
  case State::timed_wait:
    return timed_wait_ns;
  case State::reset:
    return reset_ns;
  case State::finish:
  case State::count_:
    break;
  }
  return 0;
}

} // namespace haka::tcp
