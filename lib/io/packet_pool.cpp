#include "io/packet_pool.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include "net/packet_meta.hpp"

namespace haka::io {

std::unique_ptr<PacketPool> PacketPool::create(const std::string& name, unsigned count, unsigned cache,
                                               uint16_t data_room, int socket, std::string& err) {
  rte_mempool* p = rte_pktmbuf_pool_create(name.c_str(), count, cache, sizeof(net::PacketMeta), data_room,
                                           socket);
  if (p == nullptr) {
    err = "cannot create mbuf pool '" + name + "' of " + std::to_string(count) +
          " mbufs: " + rte_strerror(rte_errno);
    return nullptr;
  }
  return std::unique_ptr<PacketPool>(new PacketPool(p));
}

PacketPool::~PacketPool() { rte_mempool_free(pool_); }

} // namespace haka::io
