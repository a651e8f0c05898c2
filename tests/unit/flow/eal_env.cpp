// Initialises DPDK's EAL once for the tests that use DPDK memory. (--in-memory
// is refused together with --no-huge by DPDK 22.11: "--legacy-mem is not
// compatible with --in-memory"; --no-shconf keeps runs independent instead.)
#include <gtest/gtest.h>

#include <rte_eal.h>

namespace {

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* argv[] = {"test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                          "--no-telemetry", "-l", "0", "--log-level=*:error"};
    ASSERT_GE(rte_eal_init(static_cast<int>(std::size(argv)), const_cast<char**>(argv)), 0);
  }
  void TearDown() override { rte_eal_cleanup(); }
};

const auto* const env = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

} // namespace
