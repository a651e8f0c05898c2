// The packets a worker sends out while it processes one lane's burst.
#pragma once

#include <array>
#include <cstdint>

#include <rte_mbuf.h>

#include "engine/counters.hpp"
#include "engine/lane.hpp"

namespace haka::engine {

/// Per-burst totals, added to the shared WorkerCounters once per burst.
struct BurstTally {
  uint64_t tx_packets = 0, tx_bytes = 0, injected = 0;
  std::array<uint64_t, drop_reason_count> dropped_by{};
  void drop(DropReason r, uint64_t n = 1) { dropped_by[static_cast<std::size_t>(r)] += n; }
};

/// Collects the verdicts of one lane's burst and transmits them. Packets go
/// `forward` (to the lane's peer port) or `back` (out the port they came in by,
/// e.g. a RST toward the sender); when both are one port (offline) they share
/// one queue, so the output keeps the order in which verdicts were given.
/// Takes ownership of every packet handed to it.
template <class Io>
class TxBatch {
 public:
  static constexpr uint16_t capacity = 64;

  TxBatch(Io& io, const Lane& lane, BurstTally& tally)
      : io_(io), tally_(tally), port_{lane.tx_port, lane.rx_port}, queue_{lane.tx_queue, lane.rx_queue},
        back_slot_(lane.rx_port == lane.tx_port && lane.rx_queue == lane.tx_queue ? 0 : 1) {}
  TxBatch(const TxBatch&) = delete;
  TxBatch& operator=(const TxBatch&) = delete;
  ~TxBatch() { flush(); }

  void forward(rte_mbuf* m) { push(0, m); }
  /// Forwards a whole burst straight from the caller's array when nothing is
  /// queued before it: the forward-only path copies no pointer.
  /// `bytes` is the burst's total pkt_len, which the caller already summed.
  void forward_burst(rte_mbuf** pkts, uint16_t n, uint64_t bytes) {
    if (count_[0] != 0) {
      for (uint16_t i = 0; i < n; ++i) push(0, pkts[i]);
      return;
    }
    transmit(0, pkts, n, bytes);
  }
  void back(rte_mbuf* m) { push(back_slot_, m); }
  /// A packet the engine made (RST, forged packet): counted as injected.
  void inject_forward(rte_mbuf* m) { ++tally_.injected; push(0, m); }
  void inject_back(rte_mbuf* m) { ++tally_.injected; push(back_slot_, m); }
  /// A packet the engine made that does not leave (a reassembled datagram
  /// refused or re-fragmented): counted in as injected and out as dropped.
  void inject_drop(rte_mbuf* m, DropReason r) {
    ++tally_.injected;
    drop(m, r);
  }
  void drop(rte_mbuf* m, DropReason r) {
    tally_.drop(r);
    rte_pktmbuf_free(m);
  }

  /// Counts packets that left the engine's hands without an mbuf to free here
  /// (fragments merged into a datagram, freed by the fragment table).
  void count_dropped(DropReason r, uint64_t n) { tally_.drop(r, n); }
  /// Counts packets the engine made whose verdicts are given separately.
  void count_injected(uint64_t n) { tally_.injected += n; }

  void flush() {
    send(0);
    send(1);
  }

 private:
  void push(unsigned slot, rte_mbuf* m) {
    if (count_[slot] == capacity) send(slot);
    pkts_[slot][count_[slot]++] = m;
  }

  void send(unsigned slot) {
    if (count_[slot] == 0) return;
    rte_mbuf** p = pkts_[slot].data();
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < count_[slot]; ++i) bytes += p[i]->pkt_len;
    transmit(slot, p, count_[slot], bytes);
    count_[slot] = 0;
  }

  void transmit(unsigned slot, rte_mbuf** p, uint16_t n, uint64_t bytes) {
    uint16_t sent = io_.tx(port_[slot], queue_[slot], p, n);
    if (sent < n) [[unlikely]] {
      for (uint16_t i = sent; i < n; ++i) bytes -= p[i]->pkt_len;
      tally_.drop(DropReason::tx_full, n - sent);
      rte_pktmbuf_free_bulk(p + sent, n - sent);
    }
    tally_.tx_packets += sent;
    tally_.tx_bytes += bytes;
  }

  Io& io_;
  BurstTally& tally_;
  uint16_t port_[2];
  uint16_t queue_[2];
  unsigned back_slot_;
  uint16_t count_[2] = {0, 0};
  std::array<std::array<rte_mbuf*, capacity>, 2> pkts_;
};

} // namespace haka::engine
