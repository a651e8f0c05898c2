// Fixture of the vbuffer tests: an mbuf pool, a BufferPool, packets with a
// fake header before their payload, and the check that every mbuf and chunk
// node went back at the end of each test.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_eal.hpp"
#include "vbuffer/stream.hpp"

namespace haka::vbuffer::test {

inline constexpr uint16_t kHeader = 54; // bytes before the payload, as Ethernet+IPv4+TCP

inline std::string str(const Buffer& b) {
  std::string s(b.size(), '\0');
  b.copy_to({reinterpret_cast<uint8_t*>(s.data()), s.size()});
  return s;
}

inline std::string str(const Sub& sub) {
  std::size_t n = 0;
  EXPECT_EQ(sub.size(n), Error::ok);
  std::string s(n, '\0');
  EXPECT_EQ(sub.read({reinterpret_cast<uint8_t*>(s.data()), s.size()}, n), Error::ok);
  s.resize(n);
  return s;
}

inline std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class VbufferTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (mempool_ == nullptr) mempool_ = haka::test::make_pool("vbuf_test", kMbufs);
  }

  void SetUp() override { pool_ = std::make_unique<BufferPool>(mempool_, 1 << 14); }

  void TearDown() override {
    for (rte_mbuf* m : held_) rte_pktmbuf_free(m);
    held_.clear();
    EXPECT_EQ(pool_->chunks_in_use(), 0u) << "chunk nodes leaked";
    pool_->release_arena();
    EXPECT_EQ(rte_mempool_avail_count(mempool_), kMbufs) << "mbufs leaked";
    pool_.reset();
  }

  /// A packet: kHeader bytes of 'H' then `payload`. The test's reference is
  /// dropped at TearDown (keep = true) or by the caller.
  rte_mbuf* packet(const std::string& payload, bool keep = true) {
    rte_mbuf* m = rte_pktmbuf_alloc(mempool_);
    EXPECT_NE(m, nullptr);
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(kHeader + payload.size())));
    EXPECT_NE(p, nullptr);
    std::memset(p, 'H', kHeader);
    std::memcpy(p + kHeader, payload.data(), payload.size());
    if (keep) held_.push_back(m);
    return m;
  }

  /// The payload bytes as they are in the mbuf now.
  static std::string wire(rte_mbuf* m) {
    return std::string(rte_pktmbuf_mtod_offset(m, const char*, kHeader), m->pkt_len - kHeader);
  }

  /// Pushes `payload` as a packet (user = index); the test's mbuf reference is
  /// kept in held_.
  void push(Stream& s, const std::string& payload, Iterator* cur = nullptr) {
    rte_mbuf* m = packet(payload);
    ASSERT_EQ(s.push(m, kHeader, static_cast<uint32_t>(payload.size()), m, cur), Error::ok);
  }

  /// Pops one push and returns its bytes as a string (fails the test if held).
  std::string pop(Stream& s, bool* modified = nullptr) {
    Popped p;
    Error e = s.pop(p);
    EXPECT_EQ(e, Error::ok) << message(e);
    if (e != Error::ok) return "<held>";
    if (modified != nullptr) *modified = p.bytes.is_modified();
    return str(p.bytes);
  }

  static constexpr unsigned kMbufs = 1023;
  static inline rte_mempool* mempool_ = nullptr;
  std::unique_ptr<BufferPool> pool_;
  std::vector<rte_mbuf*> held_;
};

} // namespace haka::vbuffer::test
