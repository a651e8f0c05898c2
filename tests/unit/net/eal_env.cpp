// Initialises the EAL once (no hugepages, no PCI) and creates the test pool.
// (--in-memory is refused with --no-huge by DPDK 22.11; --no-shconf instead.)
#include "eal_env.hpp"

#include <cstdlib>

#include <gtest/gtest.h>
#include <rte_eal.h>

#include "net/packet_meta.hpp"

namespace haka::net::test {

namespace {
rte_mempool* g_pool = nullptr;

/// Brings DPDK up before the first test and down after the last.
class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* argv[] = {"test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
                          "-l", "0", "--log-level=*:error"};
    int argc = static_cast<int>(std::size(argv));
    ASSERT_GE(rte_eal_init(argc, const_cast<char**>(argv)), 0);
    g_pool = rte_pktmbuf_pool_create("test_net", 4095, 0, sizeof(haka::net::PacketMeta), RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY);
    ASSERT_NE(g_pool, nullptr);
  }
  void TearDown() override {
    rte_mempool_free(g_pool);
    g_pool = nullptr;
    rte_eal_cleanup();
  }
};

[[maybe_unused]] ::testing::Environment* const env = ::testing::AddGlobalTestEnvironment(new EalEnvironment);
} // namespace

rte_mempool* pool() { return g_pool; }

} // namespace haka::net::test
