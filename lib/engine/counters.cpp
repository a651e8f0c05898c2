#include "engine/counters.hpp"

namespace haka::engine {

namespace {
constexpr const char* reason_names[] = {
#define X(id, name, text) name,
#include "engine/drop_reasons.def"
#undef X
};
static_assert(std::size(reason_names) == drop_reason_count);
} // namespace

const char* drop_reason_name(DropReason r) { return reason_names[static_cast<std::size_t>(r)]; }

uint64_t CounterSnapshot::dropped() const {
  uint64_t n = 0;
  for (uint64_t d : dropped_by) n += d;
  return n;
}

CounterSnapshot& CounterSnapshot::operator+=(const CounterSnapshot& o) {
  rx_packets += o.rx_packets;
  rx_bytes += o.rx_bytes;
  tx_packets += o.tx_packets;
  tx_bytes += o.tx_bytes;
  injected += o.injected;
  held += o.held;
  connections += o.connections;
  for (std::size_t i = 0; i < drop_reason_count; ++i) dropped_by[i] += o.dropped_by[i];
  return *this;
}

CounterSnapshot WorkerCounters::snapshot() const {
  CounterSnapshot s;
  s.rx_packets = rx_packets.get();
  s.rx_bytes = rx_bytes.get();
  s.tx_packets = tx_packets.get();
  s.tx_bytes = tx_bytes.get();
  s.injected = injected.get();
  s.held = held.get();
  s.connections = connections.get();
  for (std::size_t i = 0; i < drop_reason_count; ++i) s.dropped_by[i] = dropped_by[i].get();
  return s;
}

void merge_groups(std::vector<CounterGroup>& into, const std::vector<CounterGroup>& groups) {
  for (const CounterGroup& g : groups) {
    CounterGroup* dst = nullptr;
    for (auto& d : into)
      if (d.name == g.name) dst = &d;
    if (dst == nullptr) {
      into.push_back(g);
      continue;
    }
    for (const auto& [k, v] : g.values) {
      bool found = false;
      for (auto& [dk, dv] : dst->values)
        if (dk == k) {
          dv += v;
          found = true;
        }
      if (!found) dst->values.emplace_back(k, v);
    }
  }
}

} // namespace haka::engine
