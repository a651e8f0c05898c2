#include "flow/flow_table.hpp"

#include <random>

namespace haka::flow {

const char* flow_outcome_name(FlowOutcome o) {
  static constexpr const char* names[] = {
#define X(id, name, text) name,
#include "flow/flow_outcomes.def"
#undef X
  };
  const auto i = static_cast<std::size_t>(o);
  return i < flow_outcome_count ? names[i] : "unknown";
}

uint64_t random_seed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

template class FlowTable<FlowKey4>;
template class FlowTable<FlowKey6>;

} // namespace haka::flow
