// Per-worker tracker counters.
#include "tcp/counters.hpp"

#include <algorithm>

namespace haka::tcp {

void TcpCounters::add_policy_and_events(const StepResult& r) {
  if (r.policy != Policy::none) ++policy_applied[static_cast<std::size_t>(r.policy)];
  if (r.has(tcp_event::opened)) {
    ++opened;
    ++active;
    active_peak = std::max(active_peak, active);
  }
  if (r.has(tcp_event::established)) ++established;
  if (r.has(tcp_event::end_connection)) ++ended[static_cast<std::size_t>(r.end)];
  if (r.has(tcp_event::finished)) {
    ++finished;
    if (active > 0) --active;
  }
}

TcpCounters& TcpCounters::operator+=(const TcpCounters& o) {
  for (std::size_t i = 0; i < outcomes.size(); ++i) outcomes[i] += o.outcomes[i];
  for (std::size_t i = 0; i < ended.size(); ++i) ended[i] += o.ended[i];
  for (std::size_t i = 0; i < std::size(policy_applied); ++i) policy_applied[i] += o.policy_applied[i];
  opened += o.opened;
  established += o.established;
  finished += o.finished;
  active += o.active;
  active_peak += o.active_peak;
  return *this;
}

} // namespace haka::tcp
