// A scripted Io for worker tests: bursts to hand out, a TX capacity, what left.
#pragma once

#include <deque>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

namespace haka::engine {

/// Scripted I/O: bursts to hand out, a TX capacity per call, what was sent where.
struct FakeIo {
  static constexpr bool stamps_packets = true;
  std::deque<std::vector<rte_mbuf*>> bursts;
  uint16_t tx_capacity = UINT16_MAX;
  std::vector<std::pair<uint16_t, uint8_t>> sent; // (port, first byte)
  std::vector<rte_mbuf*>* keep = nullptr;         // when set, sent packets are kept here, not freed
  uint16_t rx(uint16_t, uint16_t, rte_mbuf** pkts, uint16_t n) {
    if (bursts.empty()) return 0;
    auto b = bursts.front();
    bursts.pop_front();
    EXPECT_LE(b.size(), n);
    for (std::size_t i = 0; i < b.size(); ++i) pkts[i] = b[i];
    return static_cast<uint16_t>(b.size());
  }
  uint16_t tx(uint16_t port, uint16_t, rte_mbuf** pkts, uint16_t n) {
    uint16_t k = n < tx_capacity ? n : tx_capacity;
    for (uint16_t i = 0; i < k; ++i) {
      sent.emplace_back(port, *rte_pktmbuf_mtod(pkts[i], uint8_t*));
      if (keep != nullptr) keep->push_back(pkts[i]);
      else rte_pktmbuf_free(pkts[i]);
    }
    return k;
  }
  bool done() const { return bursts.empty(); }
};

} // namespace haka::engine
