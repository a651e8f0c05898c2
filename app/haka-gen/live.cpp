// Replay into net_memif: frames are copied into mbufs in bursts of 32 and sent
// with retries while the peer's ring is full (memif applies back-pressure; no
// frame is dropped by the sender).
#include "live.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

namespace haka::gen {

namespace {

constexpr uint16_t burst = 32;

/// One frame's place in the capture.
struct Frame {
  uint32_t off, len;
};

bool index_frames(std::span<const uint8_t> pcap, std::vector<Frame>& out) {
  if (pcap.size() < 24) return false;
  std::size_t pos = 24;
  while (pos + 16 <= pcap.size()) {
    uint32_t caplen;
    std::memcpy(&caplen, pcap.data() + pos + 8, 4);
    if (pos + 16 + caplen > pcap.size()) return false;
    out.push_back({uint32_t(pos + 16), caplen});
    pos += 16 + caplen;
  }
  return pos == pcap.size();
}

} // namespace

int replay_memif(std::span<const uint8_t> pcap, const LiveOptions& o) {
  std::vector<Frame> frames;
  if (!index_frames(pcap, frames) || pcap.size() >= (uint64_t{1} << 32)) {
    std::fprintf(stderr, "haka-gen: generated capture too large to replay (4 GiB at most)\n");
    return 1;
  }
  std::vector<std::string> args = {"haka-gen"};
  for (std::size_t i = 0, j; i < o.eal.size(); i = j + 1) {
    j = o.eal.find(' ', i);
    if (j == std::string::npos) j = o.eal.size();
    if (j > i) args.push_back(o.eal.substr(i, j - i));
  }
  args.push_back("--vdev");
  args.push_back("net_memif0,role=server,socket=" + o.memif_socket);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "haka-gen: EAL: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  int rc = 1;
  uint16_t port = 0;
  do {
    if (rte_eth_dev_get_port_by_name("net_memif0", &port) != 0) {
      std::fprintf(stderr, "haka-gen: no net_memif0 port\n");
      break;
    }
    rte_mempool* pool = rte_pktmbuf_pool_create("haka_gen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE + 8192,
                                                int(rte_socket_id()));
    if (!pool) {
      std::fprintf(stderr, "haka-gen: mbuf pool: %s\n", rte_strerror(rte_errno));
      break;
    }
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr) != 0 ||
        rte_eth_dev_start(port) != 0) {
      std::fprintf(stderr, "haka-gen: cannot start the memif port\n");
      break;
    }
    // Wait for the peer (the client side) to connect.
    const auto t_wait = std::chrono::steady_clock::now();
    rte_eth_link link{};
    for (;;) {
      rte_eth_link_get_nowait(port, &link);
      if (link.link_status == RTE_ETH_LINK_UP) break;
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t_wait).count() > o.wait_link_s) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (link.link_status != RTE_ETH_LINK_UP) {
      std::fprintf(stderr, "haka-gen: no peer on %s after %.0f s\n", o.memif_socket.c_str(), o.wait_link_s);
      rte_eth_dev_stop(port);
      break;
    }
    uint64_t sent = 0, bytes = 0, retries = 0;
    bool peer_gone = false;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t loop = 0; loop < o.loops && !peer_gone; ++loop) {
      for (std::size_t i = 0; i < frames.size() && !peer_gone;) {
        rte_mbuf* m[burst];
        const uint16_t n = uint16_t(std::min<std::size_t>(burst, frames.size() - i));
        if (rte_pktmbuf_alloc_bulk(pool, m, n) != 0) {
          ++retries; // mbufs still in flight: wait for the driver to free them
          continue;
        }
        for (uint16_t k = 0; k < n; ++k) {
          const Frame& f = frames[i + k];
          char* d = rte_pktmbuf_append(m[k], uint16_t(f.len));
          std::memcpy(d, pcap.data() + f.off, f.len);
          bytes += f.len;
        }
        uint16_t done = 0;
        while (done < n) {
          done = uint16_t(done + rte_eth_tx_burst(port, 0, m + done, uint16_t(n - done)));
          if (done < n) {
            ++retries;
            rte_eth_link_get_nowait(port, &link);
            if (link.link_status != RTE_ETH_LINK_UP) {
              peer_gone = true;
              rte_pktmbuf_free_bulk(m + done, uint16_t(n - done));
              break;
            }
          }
        }
        sent += done;
        i += n;
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "haka-gen: memif %s: sent %" PRIu64 " frames (%" PRIu64 " bytes) in %.3f s: %.2f Mpps, %.2f Gbit/s"
                 " (%" PRIu64 " full-ring retries)%s\n",
                 o.memif_socket.c_str(), sent, bytes, secs, secs > 0 ? double(sent) / secs / 1e6 : 0.0,
                 secs > 0 ? double(bytes) * 8 / secs / 1e9 : 0.0, retries, peer_gone ? "; the peer went away" : "");
    // Let the peer drain the ring before the link goes down.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    rc = peer_gone ? 1 : 0;
  } while (false);
  rte_eal_cleanup();
  return rc;
}

} // namespace haka::gen
