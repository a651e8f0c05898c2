// net/rewrite: in-place seq/ack and SACK edits (incremental checksum equal to a
// full recompute), and rebuilt segments, decoded back with checksums verified,
// on IPv4 and IPv6 (extension headers, routing header), VLAN, cooked and raw
// links, split at the MSS, options kept, offload, refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "net/decode.hpp"
#include "net/rewrite.hpp"
#include "packet_builder.hpp"

namespace haka::net::test {
namespace {

using Blocks = std::vector<std::pair<uint32_t, uint32_t>>;

/// TCP options: NOP NOP timestamps, then a SACK option; with `odd`, the SACK
/// option follows a single NOP so its blocks start at an odd offset.
Bytes options(const Blocks& sack, bool odd = false) {
  Bytes o{1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 9};
  if (sack.empty()) return o;
  o.push_back(1);
  if (!odd) o.push_back(1);
  o.push_back(5);
  o.push_back(static_cast<uint8_t>(2 + 8 * sack.size()));
  for (auto [l, r] : sack) {
    Bytes b(8);
    put32(b, 0, l);
    put32(b, 4, r);
    o = cat(o, b);
  }
  return o;
}

/// A whole test frame, described.
struct Frame {
  LinkType link = LinkType::ethernet;
  bool v6 = false;
  std::vector<uint16_t> vlans{};
  Ip4 ip4{};
  Ip6 ip6{};
  Tcp tcp{};
};

Bytes frame_bytes(const Frame& f) {
  Bytes ip = f.v6 ? ipv6(f.ip6, tcp_bytes(f.tcp)) : ipv4(f.ip4, tcp_bytes(f.tcp));
  const uint16_t type = f.v6 ? 0x86dd : 0x0800;
  switch (f.link) {
    case LinkType::ethernet: return eth(type, ip, f.vlans);
    case LinkType::linux_sll: return sll(type, ip);
    case LinkType::linux_sll2: return sll2(type, ip);
    default: return ip;
  }
}

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
  Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

DecodeOutcome decode_verified(rte_mbuf* m, LinkType link) {
  DecodeConfig dc;
  dc.link = link;
  return decode(m, dc);
}

rte_mbuf* decoded(const Frame& f, std::vector<std::size_t> cuts = {}) {
  rte_mbuf* m = make_mbuf(frame_bytes(f), std::move(cuts));
  EXPECT_EQ(decode_verified(m, f.link), DecodeOutcome::tcp) << outcome_name(outcome(meta(m)));
  return m;
}

/// The frame variants every in-place test runs on.
std::vector<Frame> variants(std::mt19937& rng) {
  std::vector<Frame> out;
  Frame base;
  base.tcp.flags = 0x18;
  base.tcp.seq = 0xfffffff0u;
  base.tcp.ack = 5000;
  base.tcp.options = options({{100, 200}, {0xfffffff0u, 0x10}});
  base.tcp.payload = random_bytes(rng, 37);
  out.push_back(base); // Ethernet IPv4
  Frame vlan = base;
  vlan.vlans = {0x88a8, 0x8100};
  out.push_back(vlan); // QinQ IPv4
  Frame opt4 = base;
  opt4.ip4.options = {1, 1, 1, 0};
  opt4.link = LinkType::linux_sll;
  out.push_back(opt4); // cooked capture, IPv4 options
  Frame v6 = base;
  v6.v6 = true;
  v6.ip6.ext = {Ext{0, {1, 4, 0, 0, 0, 0}}, Ext{60, {1, 4, 0, 0, 0, 0}}};
  v6.vlans = {0x8100};
  out.push_back(v6); // VLAN IPv6 with hop-by-hop and destination options
  Frame raw6 = base;
  raw6.v6 = true;
  raw6.link = LinkType::raw_ip;
  raw6.tcp.options = options({{1, 2}}, true);
  out.push_back(raw6); // raw IPv6, SACK at an odd offset
  Frame sll2v4 = base;
  sll2v4.link = LinkType::linux_sll2;
  sll2v4.tcp.options = {};
  out.push_back(sll2v4); // no options at all
  return out;
}

TEST(Rewrite, SetSeqAckEqualsFullRecompute) {
  std::mt19937 rng(7);
  for (Frame f : variants(rng)) {
    rte_mbuf* m = decoded(f);
    ASSERT_NE(m, nullptr);
    for (int i = 0; i < 300; ++i) {
      // Random values, and the ones'-complement corner values.
      uint32_t seq = i == 0 ? 0 : i == 1 ? 0xffffffffu : static_cast<uint32_t>(rng());
      uint32_t ack = i == 2 ? 0 : i == 3 ? 0xffffffffu : static_cast<uint32_t>(rng());
      ASSERT_TRUE(set_seq_ack(m, seq, ack, false));
      EXPECT_EQ(meta(m).tcp_seq, seq);
      EXPECT_EQ(meta(m).tcp_ack, ack);
      f.tcp.seq = seq;
      f.tcp.ack = ack;
      ASSERT_EQ(mbuf_bytes(m), frame_bytes(f)) << "link " << int(f.link) << " v6 " << f.v6 << " i " << i;
    }
    ASSERT_EQ(decode_verified(m, f.link), DecodeOutcome::tcp);
    EXPECT_EQ(meta(m).tcp_seq, f.tcp.seq);
    rte_pktmbuf_free(m);
  }
}

TEST(Rewrite, SetSeqAckWithOffloadLeavesTheChecksum) {
  std::mt19937 rng(8);
  Frame f = variants(rng)[0];
  rte_mbuf* m = decoded(f);
  const Bytes before = mbuf_bytes(m);
  const unsigned ck_at = meta(m).l4_offset + 16u;
  ASSERT_TRUE(set_seq_ack(m, 1, 2, true));
  const Bytes after = mbuf_bytes(m);
  EXPECT_EQ(after[ck_at], before[ck_at]);
  EXPECT_EQ(after[ck_at + 1], before[ck_at + 1]);
  f.tcp.seq = 1;
  f.tcp.ack = 2;
  Bytes want = frame_bytes(f);
  want[ck_at] = before[ck_at];
  want[ck_at + 1] = before[ck_at + 1];
  EXPECT_EQ(after, want);
  rte_pktmbuf_free(m);
}

TEST(Rewrite, InPlaceEditsRefuseSplitHeadersAndNonTcp) {
  std::mt19937 rng(9);
  Frame f = variants(rng)[0];
  // Cut inside the TCP header: the decoder reads it across segments, the rewrite refuses.
  rte_mbuf* m = decoded(f, {14 + 20 + 10});
  const Bytes before = mbuf_bytes(m);
  EXPECT_FALSE(set_seq_ack(m, 1, 2, false));
  EXPECT_FALSE(translate_sack(m, [](uint32_t x) { return x + 1; }, false));
  EXPECT_EQ(mbuf_bytes(m), before);
  rte_pktmbuf_free(m);
  // A cut in the payload is fine.
  m = decoded(f, {static_cast<std::size_t>(frame_bytes(f).size() - 5)});
  EXPECT_TRUE(set_seq_ack(m, 1, 2, false));
  EXPECT_EQ(decode_verified(m, f.link), DecodeOutcome::tcp);
  rte_pktmbuf_free(m);
  // UDP.
  Ip4 udp;
  udp.proto = 17;
  m = make_mbuf(eth(0x0800, ipv4(udp, Bytes(12, 0))));
  decode_verified(m, LinkType::ethernet);
  EXPECT_FALSE(set_seq_ack(m, 1, 2, false));
  rte_pktmbuf_free(m);
  // Never decoded.
  m = make_mbuf(frame_bytes(f));
  EXPECT_FALSE(set_seq_ack(m, 1, 2, false));
  rte_pktmbuf_free(m);
}

TEST(Rewrite, TranslateSack) {
  std::mt19937 rng(10);
  auto map = [](uint32_t x) { return x - 0x12345u; };
  for (bool odd : {false, true}) {
    for (bool v6 : {false, true}) {
      const Blocks blocks = {{0xfffffff0u, 0x20}, {0x100, 0x200}, {0x7fffffffu, 0x80000010u}};
      Frame f = variants(rng)[0];
      f.v6 = v6;
      f.tcp.options = options(blocks, odd);
      rte_mbuf* m = decoded(f);
      ASSERT_EQ(meta(m).sack_count, 3);
      ASSERT_TRUE(translate_sack(m, map, false));
      Blocks mapped;
      for (auto [l, r] : blocks) mapped.emplace_back(map(l), map(r));
      f.tcp.options = options(mapped, odd);
      EXPECT_EQ(mbuf_bytes(m), frame_bytes(f)) << "odd " << odd << " v6 " << v6;
      ASSERT_EQ(decode_verified(m, f.link), DecodeOutcome::tcp);
      uint32_t l = 0, r = 0;
      ASSERT_TRUE(sack_block(m, 2, l, r));
      EXPECT_EQ(l, map(0x7fffffffu));
      EXPECT_EQ(r, map(0x80000010u));
      rte_pktmbuf_free(m);
    }
  }
  // No SACK blocks: nothing to do, true.
  Frame f = variants(rng)[5];
  rte_mbuf* m = decoded(f);
  const Bytes before = mbuf_bytes(m);
  EXPECT_TRUE(translate_sack(m, map, false));
  EXPECT_EQ(mbuf_bytes(m), before);
  rte_pktmbuf_free(m);
}

/// Checks one rebuilt segment against the template frame `f` and the payload
/// it should carry, and that the meta written by build_segments is exactly
/// what the decoder finds.
void check_segment(rte_mbuf* s, const Frame& f, const rte_mbuf* templ, uint32_t seq, uint32_t ack, uint8_t flags,
                   uint16_t ip_id, const Bytes& payload) {
  const PacketMeta built = meta(s);
  ASSERT_EQ(decode_verified(s, f.link), DecodeOutcome::tcp) << outcome_name(outcome(meta(s)));
  const PacketMeta& pm = meta(s);
  EXPECT_EQ(std::memcmp(&built, &pm, sizeof pm), 0) << "meta differs from the decoder's";
  EXPECT_EQ(pm.tcp_seq, seq);
  EXPECT_EQ(pm.tcp_ack, ack);
  EXPECT_EQ(pm.tcp_flags, flags);
  EXPECT_EQ(pm.payload_len, payload.size());
  const Bytes got = mbuf_bytes(s);
  const Bytes tb = mbuf_bytes(templ);
  const PacketMeta& tm = meta(templ);
  ASSERT_EQ(got.size(), tm.payload_offset + payload.size());
  EXPECT_EQ(Bytes(got.begin() + tm.payload_offset, got.end()), payload);
  // Link header and IP addresses/extensions as in the template.
  EXPECT_EQ(Bytes(got.begin(), got.begin() + tm.l3_offset), Bytes(tb.begin(), tb.begin() + tm.l3_offset));
  const unsigned l3 = tm.l3_offset;
  if (f.v6) {
    EXPECT_EQ(Bytes(got.begin() + l3 + 6, got.begin() + tm.l4_offset), Bytes(tb.begin() + l3 + 6, tb.begin() + tm.l4_offset));
    EXPECT_EQ(pm.ip_total_len, 40u + (got[l3 + 4] << 8 | got[l3 + 5]));
  } else {
    EXPECT_EQ((got[l3 + 4] << 8 | got[l3 + 5]), ip_id);
    EXPECT_EQ(got[l3 + 6], tb[l3 + 6]); // DF
    EXPECT_EQ(Bytes(got.begin() + l3 + 8, got.begin() + l3 + 10), Bytes(tb.begin() + l3 + 8, tb.begin() + l3 + 10));
    EXPECT_EQ(Bytes(got.begin() + l3 + 12, got.begin() + tm.l4_offset), Bytes(tb.begin() + l3 + 12, tb.begin() + tm.l4_offset));
  }
  // Ports, window, options as in the template.
  const unsigned l4 = tm.l4_offset;
  EXPECT_EQ(Bytes(got.begin() + l4, got.begin() + l4 + 4), Bytes(tb.begin() + l4, tb.begin() + l4 + 4));
  EXPECT_EQ(Bytes(got.begin() + l4 + 12, got.begin() + l4 + 13), Bytes(tb.begin() + l4 + 12, tb.begin() + l4 + 13));
  EXPECT_EQ(Bytes(got.begin() + l4 + 14, got.begin() + l4 + 16), Bytes(tb.begin() + l4 + 14, tb.begin() + l4 + 16));
  EXPECT_EQ(Bytes(got.begin() + l4 + 18, got.begin() + tm.payload_offset),
            Bytes(tb.begin() + l4 + 18, tb.begin() + tm.payload_offset));
}

struct BuildCase {
  Frame f;
  std::vector<std::size_t> piece_sizes;
  uint16_t mss;
};

TEST(Rewrite, BuildSegmentsSplitsAndKeepsHeaders) {
  std::mt19937 rng(11);
  std::vector<Frame> frames = variants(rng);
  Frame rh = frames[3]; // IPv6 with a routing header with segments left: pseudo-header uses the final address
  rh.ip6.ext = {Ext{43, cat(Bytes{0, 1, 0, 0, 0, 0}, Bytes(16, 0x77))}};
  static const Ip6Addr final_dst = [] {
    Ip6Addr a;
    a.fill(0x77);
    return a;
  }();
  rh.ip6.pseudo_dst = &final_dst;
  frames.push_back(rh);
  for (Frame& f : frames) {
    f.tcp.flags = 0x19; // FIN PSH ACK
    f.ip4.frag = 0x4000; // DF
    rte_mbuf* templ = decoded(f);
    ASSERT_NE(templ, nullptr);
    const PacketMeta& tm = meta(templ);
    for (const auto& [sizes, mss] : std::vector<std::pair<std::vector<std::size_t>, uint16_t>>{
             {{100, 0, 250, 1}, 100}, // 351 bytes: 100 100 100 51
             {{300}, 100},           // exactly three full segments
             {{150, 150}, 100},      // pieces across segment boundaries
             {{99, 1, 1}, 100},      // one byte past the boundary
             {{1460}, 1460},         // one full segment
             {{}, 1460},             // no payload: a pure FIN/ACK
             {{0, 0}, 0}}) {         // empty pieces, max_payload 0: still one segment
      std::vector<Bytes> data;
      std::vector<std::span<const uint8_t>> pieces;
      Bytes all;
      for (std::size_t n : sizes) data.push_back(random_bytes(rng, n));
      for (const Bytes& d : data) {
        pieces.emplace_back(d);
        all = cat(all, d);
      }
      rte_mbuf* out[8] = {};
      const uint32_t seq = 0xffffff00u, ack = 0x1234;
      int n = build_segments(pool(), templ, seq, ack, pieces, mss, false, out);
      const std::size_t want = all.empty() ? 1 : (all.size() + mss - 1) / mss;
      ASSERT_EQ(n, static_cast<int>(want)) << rewrite_error_name(rewrite_error_of(n));
      for (int k = 0; k < n; ++k) {
        const bool last = k + 1 == n;
        const std::size_t from = std::size_t(k) * mss;
        Bytes payload(all.begin() + static_cast<long>(std::min(from, all.size())),
                      all.begin() + static_cast<long>(std::min(from + mss, all.size())));
        const uint16_t id = static_cast<uint16_t>(0x1234 + k);
        SCOPED_TRACE(testing::Message() << "link " << int(f.link) << " v6 " << f.v6 << " seg " << k << "/" << n);
        check_segment(out[k], f, templ, seq + static_cast<uint32_t>(from), ack, last ? 0x19 : 0x10, id, payload);
        EXPECT_EQ(out[k]->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM, 0u);
        rte_pktmbuf_free(out[k]);
      }
      (void)tm;
    }
    rte_pktmbuf_free(templ);
  }
}

TEST(Rewrite, BuildSegmentsChainsWhenASegmentOutgrowsAnMbuf) {
  std::mt19937 rng(12);
  Frame f = variants(rng)[3]; // IPv6, VLAN, extension headers
  rte_mbuf* templ = decoded(f);
  const Bytes a = random_bytes(rng, 5001), b = random_bytes(rng, 3000);
  const std::span<const uint8_t> pieces[] = {a, b};
  rte_mbuf* out[4] = {};
  int n = build_segments(pool(), templ, 7, 8, pieces, 4000, false, out);
  ASSERT_EQ(n, 3);
  EXPECT_GT(out[0]->nb_segs, 1);
  const Bytes all = cat(a, b);
  for (int k = 0; k < n; ++k) {
    Bytes payload(all.begin() + k * 4000, all.begin() + std::min<long>((k + 1) * 4000, static_cast<long>(all.size())));
    SCOPED_TRACE(k);
    check_segment(out[k], f, templ, 7 + static_cast<uint32_t>(k) * 4000, 8, k == 2 ? 0x18 : 0x10, 0, payload);
    rte_pktmbuf_free(out[k]);
  }
  rte_pktmbuf_free(templ);
}

TEST(Rewrite, BuildSegmentsWithOffloadWritesThePseudoHeaderSum) {
  std::mt19937 rng(13);
  for (int v = 0; v < 2; ++v) {
    Frame f = variants(rng)[v == 0 ? 1 : 3];
    rte_mbuf* templ = decoded(f);
    const PacketMeta& tm = meta(templ);
    const Bytes p = random_bytes(rng, 150);
    const std::span<const uint8_t> pieces[] = {p};
    rte_mbuf* out[2] = {};
    ASSERT_EQ(build_segments(pool(), templ, 100, 200, pieces, 100, true, out), 2);
    for (int k = 0; k < 2; ++k) {
      rte_mbuf* s = out[k];
      EXPECT_NE(s->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM, 0u);
      EXPECT_NE(s->ol_flags & (f.v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4), 0u);
      EXPECT_EQ(s->l2_len, tm.l3_offset);
      EXPECT_EQ(s->l3_len, tm.ip_hdr_len);
      EXPECT_EQ(s->l4_len, tm.tcp_hdr_len);
      const Bytes got = mbuf_bytes(s);
      const uint32_t l4_len = static_cast<uint32_t>(got.size() - tm.l4_offset);
      Bytes pseudo;
      if (f.v6) {
        pseudo.assign(got.begin() + tm.l3_offset + 8, got.begin() + tm.l3_offset + 40);
        pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(l4_len >> 8), static_cast<uint8_t>(l4_len), 0, 0, 0, 6});
      } else {
        pseudo.assign(got.begin() + tm.l3_offset + 12, got.begin() + tm.l3_offset + 20);
        pseudo.insert(pseudo.end(), {0, 6, static_cast<uint8_t>(l4_len >> 8), static_cast<uint8_t>(l4_len)});
      }
      EXPECT_EQ(got[tm.l4_offset + 16] << 8 | got[tm.l4_offset + 17], inet_sum(pseudo));
      // What a NIC would do: complement the sum over the segment with the field as is.
      Bytes seg(got.begin() + tm.l4_offset, got.end());
      const uint16_t ck = static_cast<uint16_t>(~inet_sum(seg));
      Bytes fixed = got;
      put16(fixed, tm.l4_offset + 16, ck);
      rte_mbuf* nic = make_mbuf(fixed);
      EXPECT_EQ(decode_verified(nic, f.link), DecodeOutcome::tcp);
      rte_pktmbuf_free(nic);
      DecodeConfig lax;
      lax.link = f.link;
      lax.verify_tcp_checksum = false;
      EXPECT_EQ(decode(s, lax), DecodeOutcome::tcp); // IPv4 header checksum still verified
      rte_pktmbuf_free(s);
    }
    rte_pktmbuf_free(templ);
  }
}

TEST(Rewrite, BuildSegmentsRefusals) {
  std::mt19937 rng(14);
  Frame f = variants(rng)[0];
  rte_mbuf* templ = decoded(f);
  const Bytes p = random_bytes(rng, 1000);
  const std::span<const uint8_t> pieces[] = {p};
  rte_mbuf* out[4] = {};
  const unsigned avail = rte_mempool_avail_count(pool());
  EXPECT_EQ(rewrite_error_of(build_segments(pool(), templ, 1, 2, pieces, 100, false, out)), RewriteError::out_too_small);
  EXPECT_EQ(rewrite_error_of(build_segments(pool(), templ, 1, 2, pieces, 0, false, out)), RewriteError::bad_max_payload);
  const Bytes huge(70000, 0x5a);
  const std::span<const uint8_t> huge_pieces[] = {huge};
  EXPECT_EQ(rewrite_error_of(build_segments(pool(), templ, 1, 2, huge_pieces, 65535, false, out)),
            RewriteError::too_large);
  EXPECT_EQ(rte_mempool_avail_count(pool()), avail);
  EXPECT_STREQ(rewrite_error_name(RewriteError::pool_empty), "rewrite_pool_empty");

  // A pool with room for three mbufs: the fourth segment fails, all are freed.
  rte_mempool* tiny =
      rte_pktmbuf_pool_create("rewrite_tiny", 3, 0, sizeof(PacketMeta), RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(tiny, nullptr);
  EXPECT_EQ(rewrite_error_of(build_segments(tiny, templ, 1, 2, pieces, 250, false, out)), RewriteError::pool_empty);
  EXPECT_EQ(rte_mempool_avail_count(tiny), 3u);
  for (rte_mbuf* m : out) EXPECT_EQ(m, nullptr);
  rte_mempool_free(tiny);

  // Headers split across segments; not TCP.
  rte_mbuf* split = decoded(f, {20});
  EXPECT_EQ(rewrite_error_of(build_segments(pool(), split, 1, 2, pieces, 500, false, out)), RewriteError::headers_split);
  rte_pktmbuf_free(split);
  Ip4 udp;
  udp.proto = 17;
  rte_mbuf* u = make_mbuf(eth(0x0800, ipv4(udp, Bytes(12, 0))));
  decode_verified(u, LinkType::ethernet);
  EXPECT_EQ(rewrite_error_of(build_segments(pool(), u, 1, 2, pieces, 500, false, out)), RewriteError::not_tcp);
  rte_pktmbuf_free(u);
  EXPECT_EQ(rte_mempool_avail_count(pool()), avail); // nothing leaked
  rte_pktmbuf_free(templ);
}

} // namespace
} // namespace haka::net::test
