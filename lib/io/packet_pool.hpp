// The mbuf pool every packet of a worker comes from.
#pragma once

#include <memory>
#include <string>

#include <rte_mempool.h>

namespace haka::io {

/// An owned pktmbuf pool whose mbufs carry a net::PacketMeta in their private
/// area. Freed on destruction; `all_returned()` is the shutdown leak check.
class PacketPool {
 public:
  /// Creates a pool of `count` mbufs; returns nullptr and sets `err` on failure.
  static std::unique_ptr<PacketPool> create(const std::string& name, unsigned count, unsigned cache,
                                            uint16_t data_room, int socket, std::string& err);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  rte_mempool* get() const { return pool_; }
  unsigned size() const { return pool_->size; }
  unsigned available() const { return rte_mempool_avail_count(pool_); }
  bool all_returned() const { return available() == size(); }

 private:
  explicit PacketPool(rte_mempool* p) : pool_(p) {}
  rte_mempool* pool_;
};

} // namespace haka::io
