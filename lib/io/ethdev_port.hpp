// DPDK ethdev ports set up for inline forwarding.
#pragma once

#include <cstdint>
#include <string>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "net/packet_meta.hpp"

namespace haka::io {

/// How to configure one port: queue counts and depths, and the pool its RX
/// queues fill from. One RX and one TX queue per worker.
struct PortSettings {
  uint16_t queues = 1;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  bool promiscuous = true; // a bump in the wire must see every frame
};

/// What a started port can do, as the engine needs to know it.
struct PortCaps {
  std::string driver;
  bool rss = false;             // queues > 1 and symmetric RSS configured
  bool rx_l4_checksum = false;  // the NIC verifies L3/L4 checksums (ol_flags)
  bool tx_l4_checksum = false;  // the NIC can fill TCP checksums on transmit
  uint16_t mtu = 1500;
};

/// The 40-byte Toeplitz key made of one repeated 16-bit word: with it the RSS
/// hash of (a, b) equals that of (b, a), so both directions of a connection
/// land on the same queue, hence the same worker.
extern const uint8_t symmetric_rss_key[40];

/// Configures and starts `port`; false with `err` naming the port and problem.
bool start_port(uint16_t port, const PortSettings& s, rte_mempool* pool, PortCaps& caps, std::string& err);
/// Stops and closes `port`, returning every mbuf its rings held to the pool.
void stop_port(uint16_t port);

/// Packet I/O on ethdev queues, for the worker loop. Live packets are stamped
/// by the decoder with the burst's receive time, not here: forwarding alone
/// never touches the packet metadata.
struct EthdevIo {
  static constexpr bool stamps_packets = false;
  uint16_t rx(uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n) {
    return rte_eth_rx_burst(port, queue, pkts, n);
  }
  uint16_t tx(uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n) {
    return rte_eth_tx_burst(port, queue, pkts, n);
  }
  bool done() const { return false; }
};

} // namespace haka::io
