#include "io/ethdev_port.hpp"

#include <rte_errno.h>

namespace haka::io {

const uint8_t symmetric_rss_key[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

namespace {
std::string port_error(uint16_t port, const char* what, int rc) {
  return "port " + std::to_string(port) + ": " + what + ": " + rte_strerror(rc < 0 ? -rc : rc);
}
} // namespace

bool start_port(uint16_t port, const PortSettings& s, rte_mempool* pool, PortCaps& caps, std::string& err) {
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port, &info);
  if (rc != 0) {
    err = port_error(port, "cannot read device info", rc);
    return false;
  }
  caps.driver = info.driver_name != nullptr ? info.driver_name : "?";
  if (s.queues > info.max_rx_queues || s.queues > info.max_tx_queues) {
    err = "port " + std::to_string(port) + " (" + caps.driver + "): " + std::to_string(s.queues) +
          " workers need as many queues, the port has " + std::to_string(info.max_rx_queues) + " RX and " +
          std::to_string(info.max_tx_queues) + " TX (use fewer lcores or a driver with more queues)";
    return false;
  }

  rte_eth_conf conf{};
  if (s.queues > 1) {
    uint64_t want = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
    uint64_t hf = want & info.flow_type_rss_offloads;
    if (hf == 0) {
      err = "port " + std::to_string(port) + " (" + caps.driver +
            "): several workers need RSS and the port offers none; run one worker";
      return false;
    }
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(symmetric_rss_key);
    conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size == 40 ? 40 : 0;
    conf.rx_adv_conf.rss_conf.rss_hf = hf;
    caps.rss = true;
  }
  if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) == RTE_ETH_RX_OFFLOAD_CHECKSUM) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_CHECKSUM;
    caps.rx_l4_checksum = true;
  }
  constexpr uint64_t tx_cksum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  if ((info.tx_offload_capa & tx_cksum) == tx_cksum) {
    conf.txmode.offloads |= tx_cksum;
    caps.tx_l4_checksum = true;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;

  rc = rte_eth_dev_configure(port, s.queues, s.queues, &conf);
  if (rc != 0) {
    err = port_error(port, "cannot configure", rc);
    return false;
  }
  uint16_t rx_desc = s.rx_desc, tx_desc = s.tx_desc;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);
  if (rc != 0) {
    err = port_error(port, "cannot adjust descriptor counts", rc);
    return false;
  }
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (uint16_t q = 0; q < s.queues; ++q) {
    rte_eth_rxconf rxc = info.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    rc = rte_eth_rx_queue_setup(port, q, rx_desc, static_cast<unsigned>(socket), &rxc, pool);
    if (rc != 0) {
      err = port_error(port, "cannot set up RX queue", rc);
      return false;
    }
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(port, q, tx_desc, static_cast<unsigned>(socket), &txc);
    if (rc != 0) {
      err = port_error(port, "cannot set up TX queue", rc);
      return false;
    }
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) {
    err = port_error(port, "cannot start", rc);
    return false;
  }
  if (s.promiscuous) {
    rc = rte_eth_promiscuous_enable(port);
    // Some vdevs have no such notion (net_null, net_ring): they see everything anyway.
    if (rc != 0 && rc != -ENOTSUP) {
      err = port_error(port, "cannot enable promiscuous mode", rc);
      return false;
    }
  }
  uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(port, &mtu) == 0) caps.mtu = mtu;
  return true;
}

void stop_port(uint16_t port) {
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
}

} // namespace haka::io
