// What the engine was asked to do, as parsed from the command line.
#pragma once

#include <cstdint>
#include <string>

#include "tcp/tcp_stream.hpp"

namespace haka::engine {

/// The engine's settings; app/ fills it, run_offline/run_live read it.
struct Config {
  std::string pcap_in;        // offline input; empty means live mode on ethdev ports
  std::string pcap_out;       // offline output; empty: forwarded packets are counted and freed
  std::string rules;          // Lua rule file
  std::string summary_json;   // where to write the final counters
  std::string alerts_json;    // where to write alerts, one JSON object per line
  bool pass_through = false;  // observe only: never alter or drop traffic
  bool force_libpcap = false; // offline: read through libpcap even for classic pcap
  bool quiet = false;         // no summary text on stdout
  bool forward_only = false;  // no decoding or tracking: plain forwarding (benchmarks)
  bool midstream = false;     // pick up connections whose handshake was not seen
  bool verify_checksums = true; // verify IPv4/TCP checksums the NIC did not
  uint32_t flows = 1u << 18;  // IPv4 connections per worker (IPv6: a quarter)
  double stats_interval_s = 1.0; // live: seconds between stats lines (0: none)
  double duration_s = 0;      // live: stop after this many seconds (0: until a signal)
  uint32_t mbufs = 0;         // pool size; 0 picks one from ports, queues and caps
  bool reassemble = true;     // reassemble streams (--no-reassembly: tracking only)
  std::string dump_streams;   // directory for --dump-streams
  std::string patterns;       // --patterns file: alert on every match in every stream
  tcp::StreamConfig stream;   // overlap policy, caps (held_packets/max_kept_chunks 0: sized from the pool)
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
};

} // namespace haka::engine
