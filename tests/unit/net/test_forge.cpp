// forge_tcp: every link type and family decodes back to what was asked, checksums verified.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "eal_env.hpp"
#include "net/decode.hpp"
#include "net/forge.hpp"

namespace haka::net::test {
namespace {

TcpEndpoints endpoints(L3Kind l3) {
  TcpEndpoints ep;
  ep.l3 = l3;
  for (int i = 0; i < 16; ++i) {
    ep.src[i] = static_cast<uint8_t>(i + 1);
    ep.dst[i] = static_cast<uint8_t>(0xa0 + i);
  }
  ep.sport = 40001;
  ep.dport = 443;
  return ep;
}

TEST(Forge, DecodesBackOnEveryLinkType) {
  const std::vector<uint8_t> payload = {'h', 'e', 'l', 'l', 'o', '!', '\n'};
  for (LinkType link : {LinkType::ethernet, LinkType::raw_ip, LinkType::linux_sll, LinkType::linux_sll2}) {
    for (L3Kind l3 : {L3Kind::ipv4, L3Kind::ipv6}) {
      TcpSegmentSpec s;
      s.seq = 0xfffffff0u;
      s.ack = 77;
      s.flags = 0x18;
      s.window = 1234;
      s.mss = 1460;
      s.payload = payload;
      rte_mbuf* m = forge_tcp(pool(), link, endpoints(l3), s);
      ASSERT_NE(m, nullptr);
      DecodeConfig dc;
      dc.link = link;
      ASSERT_EQ(decode(m, dc), DecodeOutcome::tcp) << outcome_name(outcome(meta(m)));
      const PacketMeta& pm = meta(m);
      EXPECT_EQ(pm.tcp_seq, 0xfffffff0u);
      EXPECT_EQ(pm.tcp_ack, 77u);
      EXPECT_EQ(pm.tcp_flags, 0x18);
      EXPECT_EQ(pm.tcp_window, 1234);
      EXPECT_EQ(pm.tcp_mss, 1460);
      EXPECT_EQ(pm.payload_len, payload.size());
      EXPECT_EQ(pm.l3_kind, static_cast<uint8_t>(l3));
      uint16_t sp = 0, dp = 0;
      ASSERT_TRUE(tcp_ports(m, sp, dp));
      EXPECT_EQ(sp, 40001);
      EXPECT_EQ(dp, 443);
      EXPECT_EQ(std::memcmp(rte_pktmbuf_mtod_offset(m, uint8_t*, pm.payload_offset), payload.data(), payload.size()),
                0);
      EXPECT_EQ(m->pkt_len, forged_header_len(link, l3, true) + payload.size());
      rte_pktmbuf_free(m);
    }
  }
}

TEST(Forge, RefusesWhatDoesNotFit) {
  std::vector<uint8_t> big(70000);
  TcpSegmentSpec s;
  s.payload = big;
  EXPECT_EQ(forge_tcp(pool(), LinkType::ethernet, endpoints(L3Kind::ipv4), s), nullptr);
  std::vector<uint8_t> medium(4000); // more than one mbuf's data room
  s.payload = medium;
  EXPECT_EQ(forge_tcp(pool(), LinkType::ethernet, endpoints(L3Kind::ipv4), s), nullptr);
}

} // namespace
} // namespace haka::net::test
