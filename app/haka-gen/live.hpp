// haka-gen's live output: replays a generated capture (held in memory) into a
// DPDK net_memif port, for end-to-end benches of a haka-dpdk in another process.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace haka::gen {

/// Where and how often to replay.
struct LiveOptions {
  std::string memif_socket;  // net_memif control socket (haka-gen is the server)
  std::string eal;           // extra EAL arguments, space separated
  uint64_t loops = 1;        // times the capture is sent
  double wait_link_s = 30;   // how long to wait for the peer to connect
};

/// Sends every frame of `pcap` (a file as haka-gen writes it) `loops` times;
/// prints what was sent. 0 on success, else an exit status (message on stderr).
int replay_memif(std::span<const uint8_t> pcap, const LiveOptions& o);

} // namespace haka::gen
