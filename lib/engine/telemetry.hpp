// DPDK telemetry commands (dpdk-telemetry.py, /var/run/dpdk/<prefix>/dpdk_telemetry.v2).
#pragma once

#include <vector>

#include "engine/counters.hpp"

namespace haka::engine {

/// Publishes the live workers' counters as telemetry commands while it
/// lives: /haka/stats (totals and per worker: packets, bytes, held,
/// connections), /haka/drops (drops by reason). The commands read the same
/// relaxed counters as the stats line; they are registered once per process
/// and answer "not running" when no engine is live.
class TelemetryPublisher {
 public:
  explicit TelemetryPublisher(std::vector<const WorkerCounters*> workers);
  ~TelemetryPublisher();
  TelemetryPublisher(const TelemetryPublisher&) = delete;
  TelemetryPublisher& operator=(const TelemetryPublisher&) = delete;
  /// False when EAL runs without telemetry (--no-telemetry) or registration failed.
  bool registered() const { return registered_; }

 private:
  std::vector<const WorkerCounters*> workers_;
  bool registered_ = false;
};

} // namespace haka::engine
