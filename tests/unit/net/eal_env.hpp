// Shared DPDK set-up for the net unit tests.
#pragma once

#include <rte_mbuf.h>

namespace haka::net::test {

/// The pool every test allocates from (created once with the EAL).
rte_mempool* pool();

} // namespace haka::net::test
