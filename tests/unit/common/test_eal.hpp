// DPDK set-up shared by the unit tests that need mbufs.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace haka::test {

/// Initialises the EAL once per test binary (one lcore, no hugepages, no PCI,
/// no shared files) and aborts the test run if it cannot.
void init_eal_once();

/// A pktmbuf pool whose mbufs carry net::PacketMeta, as the engine's do.
rte_mempool* make_pool(const char* name, unsigned count, uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE);

} // namespace haka::test
