// FragmentReassembler and re-fragmentation tests.
#include <gtest/gtest.h>

#include <cerrno>

#include "net/fragments.hpp"
#include "packet_builder.hpp"

namespace haka::net::test {
namespace {

using O = DecodeOutcome;

/// A whole IPv4 TCP datagram and its pieces.
struct Datagram4 {
  Ip4 ip;
  Bytes l4; // TCP header + payload, checksum filled
  Bytes whole() const { return eth(0x0800, ipv4(ip, l4, false)); }
  /// A fragment carrying l4[off, off + len).
  Bytes piece(uint32_t off, uint32_t len, bool more) const {
    Ip4 h = ip;
    h.frag = static_cast<uint16_t>((more ? 0x2000 : 0) | off / 8);
    return eth(0x0800, ipv4(h, Bytes(l4.begin() + off, l4.begin() + off + len), false));
  }
};

Datagram4 datagram4(std::size_t payload, uint16_t id = 0x4242) {
  Datagram4 d;
  d.ip.id = id;
  Bytes full = ipv4(d.ip, tcp_bytes(Tcp{.flags = 0x18, .payload = Bytes(payload, 'd')}));
  d.l4.assign(full.begin() + 20, full.end()); // with the TCP checksum computed
  return d;
}

/// A whole IPv6 TCP datagram and its pieces.
struct Datagram6 {
  Ip6 ip;
  Bytes l4;
  uint32_t id = 0x01020304;
  Bytes whole() const { return eth(0x86dd, ipv6(ip, l4, false)); }
  Bytes piece(uint32_t off, uint32_t len, bool more) const {
    Ip6 h = ip;
    uint16_t fd = static_cast<uint16_t>(off | (more ? 1 : 0));
    // Body: after the (next header, reserved) pair.
    h.ext = {{44, {static_cast<uint8_t>(fd >> 8), static_cast<uint8_t>(fd), static_cast<uint8_t>(id >> 24),
                   static_cast<uint8_t>(id >> 16), static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)}}};
    return eth(0x86dd, ipv6(h, Bytes(l4.begin() + off, l4.begin() + off + len), false));
  }
};

Datagram6 datagram6(std::size_t payload) {
  Datagram6 d;
  Bytes full = ipv6(d.ip, tcp_bytes(Tcp{.flags = 0x18, .payload = Bytes(payload, 'e')}));
  d.l4.assign(full.begin() + 40, full.end());
  return d;
}

class Reassembly : public ::testing::Test {
 protected:
  void SetUp() override { make(FragmentConfig{.capacity = 64, .timeout = 1000}); }
  void make(const FragmentConfig& cfg) {
    r_.reset();
    std::string err;
    r_ = FragmentReassembler::create(cfg, err);
    ASSERT_NE(r_, nullptr) << err;
  }
  void TearDown() override {
    if (r_) {
      r_->flush();
      EXPECT_EQ(r_->held(), 0u);
      expect_balanced();
    }
    r_.reset();
    // Every mbuf came back.
    EXPECT_EQ(rte_mempool_avail_count(pool()), pool()->size);
  }

  rte_mbuf* fragment(const Bytes& b, uint64_t ts, std::vector<std::size_t> cuts = {}) {
    rte_mbuf* m = make_mbuf(b, std::move(cuts));
    meta(m).timestamp_ns = ts;
    meta(m).in_port = 1;
    EXPECT_EQ(decode(m, dc_), O::fragment) << outcome_name(outcome(meta(m)));
    return m;
  }
  /// Adds a fragment with time = ts.
  rte_mbuf* add(const Bytes& b, uint64_t ts, std::vector<std::size_t> cuts = {}) {
    rte_mbuf* out = r_->add(fragment(b, ts, std::move(cuts)), dc_, ts);
    expect_balanced();
    return out;
  }
  void expect_balanced() {
    const FragmentCounters& c = r_->counters();
    EXPECT_EQ(c.taken, c.merged + c.freed() + r_->held());
  }
  void expect_whole(rte_mbuf* out, const Bytes& want, uint64_t ts) {
    ASSERT_NE(out, nullptr);
    const PacketMeta& pm = meta(out);
    EXPECT_EQ(outcome(pm), O::tcp);
    EXPECT_TRUE(pm.flags & meta_flag::reassembled);
    EXPECT_EQ(pm.flags & meta_flag::fragment, 0);
    EXPECT_EQ(pm.timestamp_ns, ts);
    EXPECT_EQ(pm.in_port, 1);
    EXPECT_EQ(mbuf_bytes(out), want);
    rte_pktmbuf_free(out);
  }

  DecodeConfig dc_;
  std::unique_ptr<FragmentReassembler> r_;
};

TEST_F(Reassembly, Ipv4InOrder) {
  Datagram4 d = datagram4(200); // 220 bytes of TCP
  EXPECT_EQ(add(d.piece(0, 64, true), 10), nullptr);
  EXPECT_EQ(add(d.piece(64, 64, true), 11), nullptr);
  EXPECT_EQ(r_->held(), 2u);
  expect_whole(add(d.piece(128, 92, false), 12), d.whole(), 12);
  const FragmentCounters& c = r_->counters();
  EXPECT_EQ(c.taken, 3u);
  EXPECT_EQ(c.merged, 3u);
  EXPECT_EQ(c.reassembled, 1u);
  EXPECT_EQ(c.freed(), 0u);
  EXPECT_EQ(r_->held(), 0u);
  FragmentCounters since = r_->drain();
  EXPECT_EQ(since.merged, 3u);
  EXPECT_EQ(r_->drain().merged, 0u);
}

TEST_F(Reassembly, Ipv4OutOfOrderWithPadding) {
  Datagram4 d = datagram4(200);
  Bytes last = d.piece(128, 92, false);
  Bytes first = d.piece(0, 64, true);
  first.resize(first.size() + 5, 0x77); // link padding is trimmed
  EXPECT_EQ(add(last, 1), nullptr);
  EXPECT_EQ(add(first, 2), nullptr);
  expect_whole(add(d.piece(64, 64, true), 3), d.whole(), 3);
}

TEST_F(Reassembly, Ipv4MultiSegmentFragments) {
  Datagram4 d = datagram4(300);
  EXPECT_EQ(add(d.piece(0, 104, true), 1, {40, 41, 90}), nullptr);
  EXPECT_EQ(add(d.piece(104, 104, true), 2, {34, 35}), nullptr);
  expect_whole(add(d.piece(208, 112, false), 3, {60}), d.whole(), 3);
  EXPECT_EQ(r_->counters().merged, 3u);
}

TEST_F(Reassembly, OverlapIsInvalid) {
  Datagram4 d = datagram4(200);
  EXPECT_EQ(add(d.piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(d.piece(56, 72, true), 2), nullptr); // bytes 56..63 twice
  EXPECT_EQ(add(d.piece(128, 92, false), 3), nullptr);
  EXPECT_EQ(r_->counters().invalid, 3u);
  EXPECT_EQ(r_->held(), 0u);
  EXPECT_EQ(r_->drain().invalid, 3u);
}

TEST_F(Reassembly, DuplicateFirstIsInvalid) {
  Datagram4 d = datagram4(200);
  EXPECT_EQ(add(d.piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(d.piece(0, 64, true), 2), nullptr);
  EXPECT_EQ(r_->counters().invalid, 2u);
  EXPECT_EQ(r_->held(), 0u);
}

TEST_F(Reassembly, HoleFreesChainedFragmentsCountedOneByOne) {
  // first [0,24) A [32,40) B [32,40) last [40,48): sizes add up, a hole at 24.
  // rte_ip_frag chains last onto B before finding the hole, so the death row
  // holds 3 mbuf chains for 4 fragments (B itself in two segments).
  Datagram4 d = datagram4(28);
  EXPECT_EQ(add(d.piece(0, 24, true), 1), nullptr);
  EXPECT_EQ(add(d.piece(32, 8, true), 2), nullptr);
  EXPECT_EQ(add(d.piece(32, 8, true), 3, {36}), nullptr);
  EXPECT_EQ(add(d.piece(40, 8, false), 4), nullptr);
  EXPECT_EQ(r_->counters().invalid, 4u);
  EXPECT_EQ(r_->held(), 0u);
}

TEST_F(Reassembly, Timeout) {
  Datagram4 d = datagram4(200);
  EXPECT_EQ(add(d.piece(0, 64, true), 100), nullptr);
  r_->expire(1100); // exactly the timeout: still alive
  EXPECT_EQ(r_->held(), 1u);
  r_->expire(1101);
  EXPECT_EQ(r_->held(), 0u);
  EXPECT_EQ(r_->counters().timed_out, 1u);
  // Expired during add(): the old datagram goes, the new fragment stays.
  Datagram4 e = datagram4(200, 7);
  EXPECT_EQ(add(d.piece(0, 64, true), 2000), nullptr);
  EXPECT_EQ(add(d.piece(64, 64, true), 2001), nullptr);
  EXPECT_EQ(add(e.piece(0, 64, true), 5000), nullptr);
  EXPECT_EQ(r_->counters().timed_out, 3u);
  EXPECT_EQ(r_->held(), 1u);
  // A clock going back (reordered capture) counts as the latest time seen.
  EXPECT_EQ(add(e.piece(128, 92, false), 10), nullptr);
  expect_whole(add(e.piece(64, 64, true), 20), e.whole(), 20);
}

TEST_F(Reassembly, TableFull) {
  make(FragmentConfig{.capacity = 2, .bucket_entries = 2, .timeout = 1000});
  EXPECT_EQ(add(datagram4(200, 1).piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(datagram4(200, 2).piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(datagram4(200, 3).piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(r_->counters().table_full, 1u);
  EXPECT_EQ(r_->held(), 2u);
  r_->flush();
  EXPECT_EQ(r_->counters().flushed, 2u);
  EXPECT_EQ(r_->held(), 0u);
}

TEST_F(Reassembly, Ipv6InOrderAndOutOfOrder) {
  Datagram6 d = datagram6(150); // 170 bytes of TCP
  EXPECT_EQ(add(d.piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(d.piece(64, 64, true), 2), nullptr);
  rte_mbuf* out = add(d.piece(128, 42, false), 3);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(meta(out).l4_offset, 14 + 40);
  EXPECT_EQ(meta(out).payload_len, 150);
  expect_whole(out, d.whole(), 3);

  d.id = 99;
  EXPECT_EQ(add(d.piece(128, 42, false), 4), nullptr);
  EXPECT_EQ(add(d.piece(64, 64, true), 5), nullptr);
  expect_whole(add(d.piece(0, 64, true), 6), d.whole(), 6);
  EXPECT_EQ(r_->counters().merged, 6u);
}

TEST_F(Reassembly, Ipv6OverlapAndTimeout) {
  Datagram6 d = datagram6(150);
  EXPECT_EQ(add(d.piece(0, 64, true), 1), nullptr);
  EXPECT_EQ(add(d.piece(48, 80, true), 2), nullptr);
  EXPECT_EQ(add(d.piece(128, 42, false), 3), nullptr);
  EXPECT_EQ(r_->counters().invalid, 3u);
  d.id = 5;
  EXPECT_EQ(add(d.piece(64, 64, true), 10), nullptr);
  r_->expire(2000);
  EXPECT_EQ(r_->counters().timed_out, 1u);
}

TEST_F(Reassembly, FlushOnDestruction) {
  Datagram4 d = datagram4(200);
  EXPECT_EQ(add(d.piece(0, 64, true), 1), nullptr);
  r_.reset(); // the destructor frees what is held (TearDown checks the pool)
}

TEST(ReassemblerConfig, RejectsBadSettings) {
  std::string err;
  EXPECT_EQ(FragmentReassembler::create(FragmentConfig{.capacity = 0, .timeout = 1}, err), nullptr);
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(FragmentReassembler::create(FragmentConfig{.bucket_entries = 3, .timeout = 1}, err), nullptr);
  EXPECT_EQ(FragmentReassembler::create(FragmentConfig{.timeout = 0}, err), nullptr);
}

// --- re-fragmentation -------------------------------------------------------

class Refragment : public Reassembly {};

TEST_F(Refragment, Ipv4RoundTrip) {
  Datagram4 d = datagram4(1400); // 1420 bytes of TCP
  Bytes whole = d.whole();
  whole.resize(whole.size() + 4, 0); // padding must not become data
  rte_mbuf* m = make_mbuf(whole, {700});
  meta(m).timestamp_ns = 55;
  meta(m).in_port = 1;
  ASSERT_EQ(decode(m, dc_), O::tcp);
  rte_mbuf* out[8];
  int n = fragment_ipv4(m, 576, out, pool(), pool(), dc_);
  rte_pktmbuf_free(m);
  ASSERT_EQ(n, 3); // 552 + 552 + 316 bytes of data
  rte_mbuf* back = nullptr;
  for (int i = 0; i < n; ++i) {
    EXPECT_LE(rte_pktmbuf_pkt_len(out[i]), 14u + 576u);
    EXPECT_EQ(outcome(meta(out[i])), O::fragment); // decoded, header checksum valid
    EXPECT_EQ(meta(out[i]).timestamp_ns, 55u);
    back = r_->add(out[i], dc_, 100 + static_cast<uint64_t>(i));
  }
  expect_whole(back, d.whole(), 55);
}

TEST_F(Refragment, Ipv6RoundTrip) {
  Datagram6 d = datagram6(3000); // 3020 bytes of TCP: 1232 + 1232 + 556
  rte_mbuf* m = make_mbuf(d.whole(), {1500});
  meta(m).in_port = 1;
  ASSERT_EQ(decode(m, dc_), O::tcp);
  rte_mbuf* out[8];
  EXPECT_EQ(fragment_ipv6(m, 1279, out, pool(), pool(), dc_, 1), -EINVAL);
  int n = fragment_ipv6(m, 1280, out, pool(), pool(), dc_, 0xabcdef01);
  rte_pktmbuf_free(m);
  ASSERT_EQ(n, 3);
  d.id = 0xabcdef01;
  rte_mbuf* back = nullptr;
  for (int i = 0; i < n; ++i) {
    EXPECT_LE(rte_pktmbuf_pkt_len(out[i]), 14u + 1280u);
    ASSERT_EQ(outcome(meta(out[i])), O::fragment);
    Bytes b = mbuf_bytes(out[i]);
    EXPECT_EQ(b[14 + 40 + 4], 0xab); // our identification, not 0
    EXPECT_EQ(b[14 + 40 + 7], 0x01);
    back = r_->add(out[i], dc_, 100 + static_cast<uint64_t>(i));
  }
  expect_whole(back, d.whole(), 0);
}

TEST_F(Refragment, Refusals) {
  Datagram4 d = datagram4(1000);
  d.ip.frag = 0x4000; // DF
  Bytes df = eth(0x0800, ipv4(d.ip, d.l4, false));
  rte_mbuf* m = make_mbuf(df);
  ASSERT_EQ(decode(m, dc_), O::tcp);
  rte_mbuf* out[8];
  EXPECT_EQ(fragment_ipv4(m, 576, out, pool(), pool(), dc_), -ENOTSUP);
  EXPECT_EQ(fragment_ipv4(m, 20, out, pool(), pool(), dc_), -EINVAL);
  EXPECT_EQ(fragment_ipv6(m, 1280, out, pool(), pool(), dc_, 1), -EINVAL); // not IPv6
  EXPECT_EQ(mbuf_bytes(m), df);                                             // left as it was
  rte_pktmbuf_free(m);
  Datagram4 big = datagram4(1400);
  m = make_mbuf(big.whole());
  ASSERT_EQ(decode(m, dc_), O::tcp);
  EXPECT_EQ(fragment_ipv4(m, 576, std::span<rte_mbuf*>(out, 2), pool(), pool(), dc_), -EINVAL); // out too small
  rte_pktmbuf_free(m);
}

} // namespace
} // namespace haka::net::test
