#include "test_eal.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "net/packet_meta.hpp"

namespace haka::test {

void init_eal_once() {
  static bool done = false;
  if (done) return;
  std::string prefix = "--file-prefix=haka-test-" + std::to_string(getpid());
  std::vector<std::string> args = {"test", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                   "--no-telemetry", "--log-level=*:error", prefix};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    std::abort();
  }
  done = true;
}

rte_mempool* make_pool(const char* name, unsigned count, uint16_t data_room) {
  init_eal_once();
  rte_mempool* p =
      rte_pktmbuf_pool_create(name, count, 0, sizeof(net::PacketMeta), data_room, SOCKET_ID_ANY);
  if (p == nullptr) {
    std::fprintf(stderr, "pool %s: %s\n", name, rte_strerror(rte_errno));
    std::abort();
  }
  return p;
}

} // namespace haka::test
