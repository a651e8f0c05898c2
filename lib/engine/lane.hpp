// One direction of traffic served by a worker.
#pragma once

#include <cstdint>

namespace haka::engine {

/// Packets received on (rx_port, rx_queue) are forwarded to (tx_port,
/// tx_queue); replies to their sender (forged RSTs) leave by rx_port on the
/// same queue index. Offline, rx and tx are the same port.
struct Lane {
  uint16_t rx_port = 0;
  uint16_t rx_queue = 0;
  uint16_t tx_port = 0;
  uint16_t tx_queue = 0;
};

} // namespace haka::engine
