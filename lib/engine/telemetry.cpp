#include "engine/telemetry.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include <rte_telemetry.h>

namespace haka::engine {

namespace {

// The publisher the commands read (one live engine per process). The
// telemetry thread loads it; the main lcore sets and clears it around the
// run, and clears it before the workers' counters die. A reader that loaded
// it just before the clear could still be reading, so the destructor waits
// for readers to leave (readers_ counts them).
std::atomic<const std::vector<const WorkerCounters*>*> g_workers{nullptr};
std::atomic<int> g_readers{0};

struct ReadGuard {
  const std::vector<const WorkerCounters*>* w;
  ReadGuard() {
    g_readers.fetch_add(1);
    w = g_workers.load();
  }
  ~ReadGuard() { g_readers.fetch_sub(1); }
};

void add_u64(rte_tel_data* d, const char* name, uint64_t v) { rte_tel_data_add_dict_u64(d, name, v); }

void fill_packets(rte_tel_data* d, const CounterSnapshot& s) {
  add_u64(d, "rx_packets", s.rx_packets);
  add_u64(d, "rx_bytes", s.rx_bytes);
  add_u64(d, "tx_packets", s.tx_packets);
  add_u64(d, "tx_bytes", s.tx_bytes);
  add_u64(d, "injected", s.injected);
  add_u64(d, "dropped", s.dropped());
  add_u64(d, "held", s.held);
  add_u64(d, "connections", s.connections);
}

int cmd_stats(const char*, const char*, rte_tel_data* d) {
  ReadGuard g;
  rte_tel_data_start_dict(d);
  if (g.w == nullptr) {
    rte_tel_data_add_dict_string(d, "state", "not running");
    return 0;
  }
  CounterSnapshot total;
  for (const WorkerCounters* w : *g.w) total += w->snapshot();
  fill_packets(d, total);
  add_u64(d, "workers", g.w->size());
  // Per worker, as nested dicts named worker0, worker1, ...
  for (std::size_t i = 0; i < g.w->size(); ++i) {
    rte_tel_data* wd = rte_tel_data_alloc();
    if (wd == nullptr) break;
    rte_tel_data_start_dict(wd);
    fill_packets(wd, (*g.w)[i]->snapshot());
    char name[32];
    std::snprintf(name, sizeof name, "worker%zu", i);
    if (rte_tel_data_add_dict_container(d, name, wd, 0) != 0) rte_tel_data_free(wd);
  }
  return 0;
}

int cmd_drops(const char*, const char*, rte_tel_data* d) {
  ReadGuard g;
  rte_tel_data_start_dict(d);
  if (g.w == nullptr) {
    rte_tel_data_add_dict_string(d, "state", "not running");
    return 0;
  }
  CounterSnapshot total;
  for (const WorkerCounters* w : *g.w) total += w->snapshot();
  for (std::size_t r = 0; r < drop_reason_count; ++r)
    add_u64(d, drop_reason_name(static_cast<DropReason>(r)), total.dropped_by[r]);
  return 0;
}

bool register_once() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    ok = rte_telemetry_register_cmd("/haka/stats", cmd_stats,
                                    "Packets, bytes, held packets and connections: total and per worker") == 0 &&
         rte_telemetry_register_cmd("/haka/drops", cmd_drops, "Dropped packets by reason") == 0;
  });
  return ok;
}

} // namespace

TelemetryPublisher::TelemetryPublisher(std::vector<const WorkerCounters*> workers) : workers_(std::move(workers)) {
  registered_ = register_once();
  g_workers.store(&workers_);
}

TelemetryPublisher::~TelemetryPublisher() {
  g_workers.store(nullptr);
  while (g_readers.load() != 0) {
  }
}

} // namespace haka::engine
