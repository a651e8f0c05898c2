// Packet I/O over capture files, for the worker loop.
#pragma once

#include <rte_mbuf.h>

#include "io/pcap_file.hpp"

namespace haka::io {

/// The offline counterpart of EthdevIo: receives from a PcapReader and
/// transmits to a PcapWriter (or nowhere), on a single port whose peer is
/// itself. Transmit takes ownership like rte_eth_tx_burst and never refuses.
struct OfflineIo {
  static constexpr bool stamps_packets = true;

  PcapReader* reader = nullptr;
  PcapWriter* writer = nullptr; // nullptr: packets are counted and freed
  bool stalled = false;         // the pool ran dry before the end of the capture

  uint16_t rx(uint16_t, uint16_t, rte_mbuf** pkts, uint16_t n) {
    uint16_t got = reader->read_burst(pkts, n);
    // Nothing read yet the file goes on: every mbuf is in the engine. Offline
    // nothing else will free one, so waiting would spin for ever.
    if (got == 0 && !reader->done()) stalled = true;
    return got;
  }
  uint16_t tx(uint16_t, uint16_t, rte_mbuf** pkts, uint16_t n) {
    // Packets still in the reader's mapping are written from there (the writer
    // is closed before the reader goes).
    if (writer != nullptr) writer->write_burst(pkts, n, reader->mapped());
    rte_pktmbuf_free_bulk(pkts, n);
    return n;
  }
  bool done() const { return reader->done() || stalled; }
};

} // namespace haka::io
