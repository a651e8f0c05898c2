// The run-to-completion worker loop.
#pragma once

#include <atomic>
#include <span>
#include <vector>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "engine/counters.hpp"
#include "engine/lane.hpp"
#include "engine/tx_batch.hpp"

namespace haka::engine {

inline constexpr uint16_t burst_size = 32;

/// The stage that gives every packet of a burst its verdict. Later layers
/// (decode, flows, streams, rules) plug in as processors; this one forwards
/// everything untouched.
struct ForwardAll {
  template <class Io>
  void process(std::span<rte_mbuf*> pkts, uint64_t bytes, const Lane&, TxBatch<Io>& out) {
    out.forward_burst(pkts.data(), static_cast<uint16_t>(pkts.size()), bytes);
  }
  /// At shutdown: give up whatever is still held (nothing, here).
  template <class Io>
  void finish(TxBatch<Io>&) {}
  uint64_t held() const { return 0; }
  uint64_t connections() const { return 0; }
};

/// One lcore's loop: for each lane, receive a burst, let the processor give
/// verdicts, transmit, and publish the burst's counts. Io is EthdevIo or
/// OfflineIo, chosen at start-up, so the loop has a single path.
template <class Io, class Processor>
class Worker {
 public:
  Worker(Io& io, Processor& proc, std::vector<Lane> lanes, WorkerCounters& counters)
      : io_(io), proc_(proc), lanes_(std::move(lanes)), counters_(counters) {}

  /// One pass over every lane; returns the number of packets received.
  uint32_t poll() {
    uint32_t total = 0;
    for (const Lane& lane : lanes_) {
      rte_mbuf* pkts[burst_size];
      uint16_t n = io_.rx(lane.rx_port, lane.rx_queue, pkts, burst_size);
      if (n == 0) continue;
      total += n;
      uint64_t rx_bytes = 0;
      for (uint16_t i = 0; i < n; ++i) rx_bytes += pkts[i]->pkt_len;
      BurstTally tally;
      {
        TxBatch<Io> out(io_, lane, tally);
        proc_.process(std::span<rte_mbuf*>(pkts, n), rx_bytes, lane, out);
      }
      publish(n, rx_bytes, tally);
    }
    return total;
  }

  /// Polls until `stop` is set or the input is exhausted, then lets the
  /// processor release what it still holds.
  void run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed) && !io_.done()) poll();
    finish();
  }

  void finish() {
    for (const Lane& lane : lanes_) {
      BurstTally tally;
      {
        TxBatch<Io> out(io_, lane, tally);
        proc_.finish(out);
      }
      publish(0, 0, tally);
    }
  }

 private:
  void publish(uint16_t rx, uint64_t rx_bytes, const BurstTally& t) {
    if (rx != 0) {
      counters_.rx_packets.add(rx);
      counters_.rx_bytes.add(rx_bytes);
    }
    counters_.tx_packets.add(t.tx_packets);
    counters_.tx_bytes.add(t.tx_bytes);
    if (t.injected != 0) counters_.injected.add(t.injected);
    for (std::size_t i = 0; i < drop_reason_count; ++i)
      if (t.dropped_by[i] != 0) counters_.dropped_by[i].add(t.dropped_by[i]);
    counters_.held.set(proc_.held());
    counters_.connections.set(proc_.connections());
  }

  Io& io_;
  Processor& proc_;
  std::vector<Lane> lanes_;
  WorkerCounters& counters_;
};

} // namespace haka::engine
