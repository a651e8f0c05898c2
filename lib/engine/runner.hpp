// Runs the engine offline (capture to capture) or live (ethdev port pairs).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/counters.hpp"

namespace haka::engine {

/// One port as seen at the end of a live run.
struct PortReport {
  uint16_t port = 0;
  std::string driver;
  uint64_t ipackets = 0, opackets = 0, imissed = 0, ierrors = 0, oerrors = 0;
};

/// What a run did: the final counters and the shutdown checks.
struct RunReport {
  std::string mode; // "offline" or "live"
  std::string input, output;
  double seconds = 0;
  std::vector<CounterSnapshot> workers;
  CounterSnapshot total;
  std::vector<PortReport> ports;
  std::vector<CounterGroup> groups; // per-layer counters (connections, decode, tcp, ...), summed
  uint64_t alerts = 0;
  unsigned pool_size = 0, pool_available = 0;
  bool zero_copy = false;    // offline: the capture was mapped, not copied
  std::string input_problem; // offline: why reading stopped early, if it did

  bool pool_full() const { return pool_available == pool_size; }
  /// The shutdown invariants: counts balance, nothing held, every mbuf back.
  bool accounting_ok() const { return total.balanced() && total.held == 0 && pool_full(); }
};

/// Offline: reads cfg.pcap_in, writes cfg.pcap_out. Returns false with `err`
/// on a setup failure; the report is filled whenever packets flowed.
bool run_offline(const Config& cfg, const std::atomic<bool>& stop, RunReport& report, std::string& err);

/// Live: every available ethdev port, in pairs (0<->1, 2<->3...), one queue per
/// worker lcore. Runs until `stop` or cfg.duration_s.
bool run_live(const Config& cfg, const std::atomic<bool>& stop, RunReport& report, std::string& err);

/// The report as one JSON object (for --summary-json).
std::string report_json(const RunReport& r);
/// The report as a few readable lines (printed at exit).
std::string report_text(const RunReport& r);
/// A one-line error when the accounting invariants fail, else empty.
std::string accounting_error(const RunReport& r);

} // namespace haka::engine
