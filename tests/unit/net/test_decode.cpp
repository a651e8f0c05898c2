// Decoder tests: every outcome of decode_outcomes.def that decode() produces.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "net/decode.hpp"
#include "packet_builder.hpp"

namespace haka::net::test {
namespace {

using O = DecodeOutcome;

/// The result of decoding one packet: outcome, metadata, and the accessors' view.
struct Decoded {
  O outcome;
  PacketMeta pm;
  Bytes addrs;                // src then dst
  uint16_t sport = 0, dport = 0;
  std::vector<std::pair<uint32_t, uint32_t>> sacks;
};

Decoded run(const Bytes& b, DecodeConfig cfg = {}, std::vector<std::size_t> cuts = {}, uint64_t ol = 0) {
  rte_mbuf* m = make_mbuf(b, std::move(cuts));
  m->ol_flags = ol;
  meta(m).timestamp_ns = 77;
  meta(m).in_port = 3;
  Decoded d;
  d.outcome = decode(m, cfg);
  d.pm = meta(m);
  uint8_t scratch[32];
  if (const uint8_t* a = ip_addresses(m, scratch)) d.addrs.assign(a, a + 2 * ip_address_len(d.pm));
  tcp_ports(m, d.sport, d.dport);
  for (unsigned i = 0; i < d.pm.sack_count; ++i) {
    uint32_t l = 0, r = 0;
    EXPECT_TRUE(sack_block(m, i, l, r));
    d.sacks.emplace_back(l, r);
  }
  rte_pktmbuf_free(m);
  return d;
}

O outcome_of(const Bytes& b, DecodeConfig cfg = {}) { return run(b, cfg).outcome; }

Bytes v4_tcp(const Tcp& t = {}, const Ip4& ip = {}) { return eth(0x0800, ipv4(ip, tcp_bytes(t))); }
Bytes v6_tcp(const Tcp& t = {}, const Ip6& ip = {}) { return eth(0x86dd, ipv6(ip, tcp_bytes(t))); }

Tcp with_options(Bytes opts) {
  Tcp t;
  t.options = std::move(opts);
  return t;
}

TEST(DecodeTable, EveryOutcomeHasANameMeaningAndVerdict) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < decode_outcome_count; ++i) {
    auto o = static_cast<O>(i);
    ASSERT_NE(outcome_name(o), nullptr);
    EXPECT_TRUE(names.insert(outcome_name(o)).second) << outcome_name(o);
    EXPECT_GT(std::string(outcome_meaning(o)).size(), 10u);
  }
  EXPECT_EQ(outcome_verdict(O::tcp), OutcomeVerdict::track);
  EXPECT_EQ(outcome_verdict(O::ip_other), OutcomeVerdict::forward);
  EXPECT_EQ(outcome_verdict(O::non_ip), OutcomeVerdict::forward);
  EXPECT_EQ(outcome_verdict(O::fragment), OutcomeVerdict::reassemble);
  EXPECT_EQ(outcome_verdict(O::tcp_bad_checksum), OutcomeVerdict::drop);
  EXPECT_STREQ(outcome_name(O::tcp_opt_bad_sack), "tcp_opt_bad_sack");
}

TEST(Decode, Ipv4TcpFields) {
  Tcp t;
  t.seq = 0xfffffff0;
  t.ack = 0x01020304;
  t.flags = 0x18;
  t.window = 0x1234;
  t.payload = Bytes(100, 'x');
  Decoded d = run(v4_tcp(t));
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.decoded, 1);
  EXPECT_EQ(outcome(d.pm), O::tcp);
  EXPECT_EQ(d.pm.timestamp_ns, 77u); // left alone
  EXPECT_EQ(d.pm.in_port, 3);
  EXPECT_EQ(d.pm.l3_kind, static_cast<uint8_t>(L3Kind::ipv4));
  EXPECT_EQ(d.pm.l4_proto, 6);
  EXPECT_EQ(d.pm.l3_offset, 14);
  EXPECT_EQ(d.pm.l4_offset, 34);
  EXPECT_EQ(d.pm.ip_hdr_len, 20);
  EXPECT_EQ(d.pm.ip_total_len, 140);
  EXPECT_EQ(d.pm.tcp_hdr_len, 20);
  EXPECT_EQ(d.pm.payload_offset, 54);
  EXPECT_EQ(d.pm.payload_len, 100);
  EXPECT_EQ(d.pm.tcp_seq, 0xfffffff0u);
  EXPECT_EQ(d.pm.tcp_ack, 0x01020304u);
  EXPECT_EQ(d.pm.tcp_flags, 0x18);
  EXPECT_EQ(d.pm.tcp_window, 0x1234);
  EXPECT_EQ(d.pm.tcp_options, 0);
  EXPECT_EQ(d.pm.flags & meta_flag::fragment, 0);
  EXPECT_NE(d.pm.flow_hash, 0u);
  EXPECT_EQ(d.addrs, (Bytes{10, 0, 0, 1, 10, 0, 0, 2}));
  EXPECT_EQ(d.sport, 40000);
  EXPECT_EQ(d.dport, 80);
}

TEST(Decode, OverwritesStaleMetadata) {
  rte_mbuf* m = make_mbuf(v4_tcp());
  PacketMeta& pm = meta(m);
  std::memset(&pm, 0xab, sizeof pm);
  ASSERT_EQ(decode(m, {}), O::tcp);
  EXPECT_EQ(pm.tcp_options, 0);
  EXPECT_EQ(pm.sack_count, 0);
  EXPECT_EQ(pm.frag_offset, 0);
  EXPECT_EQ(pm.timestamp_ns, 0xababababababababull);
  rte_pktmbuf_free(m);
}

TEST(Decode, EthernetPaddingIsIgnored) {
  Tcp t;
  t.payload = {};
  Bytes b = v4_tcp(t);
  b.resize(b.size() + 6, 0xee); // 54 + 6 = 60-byte minimum frame, with junk padding
  Decoded d = run(b);
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.payload_len, 0);
  EXPECT_EQ(d.pm.ip_total_len, 40);
}

TEST(Decode, TcpOptionsParsed) {
  Bytes sack{5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 5};
  Bytes opts{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  Decoded d = run(v4_tcp(with_options(cat(opts, cat({1, 1}, sack)))));
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.tcp_hdr_len, 60);
  EXPECT_EQ(d.pm.tcp_options, tcp_opt::mss | tcp_opt::wscale | tcp_opt::sack_permitted | tcp_opt::timestamps |
                                  tcp_opt::sack);
  EXPECT_EQ(d.pm.tcp_mss, 1460);
  EXPECT_EQ(d.pm.tcp_wscale, 7);
  EXPECT_EQ(d.pm.tcp_tsval, 1u);
  EXPECT_EQ(d.pm.tcp_tsecr, 2u);
  EXPECT_EQ(d.pm.sack_count, 2);
  EXPECT_EQ(d.pm.sack_offset, 34 + 20 + 20 + 2 + 2);
  ASSERT_EQ(d.sacks.size(), 2u);
  EXPECT_EQ(d.sacks[0], std::make_pair(10u, 20u));
  EXPECT_EQ(d.sacks[1], std::make_pair(0xfffffff0u, 5u));
}

TEST(Decode, TcpOptionsAfterEolAndUnknownKindsAreSkipped) {
  EXPECT_EQ(outcome_of(v4_tcp(with_options({0, 3, 0, 9}))), O::tcp); // junk after EOL
  Decoded d = run(v4_tcp(with_options({30, 4, 0, 0, 2, 4, 1, 0})));  // MPTCP-like, then MSS
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.tcp_mss, 256);
  Decoded w = run(v4_tcp(with_options({3, 3, 15, 1}))); // wscale above 14 kept raw
  ASSERT_EQ(w.outcome, O::tcp);
  EXPECT_EQ(w.pm.tcp_wscale, 15);
  Decoded s4 = run(v4_tcp(with_options(cat({1, 1, 5, 34}, Bytes(32, 1)))));
  ASSERT_EQ(s4.outcome, O::tcp);
  EXPECT_EQ(s4.pm.sack_count, 4);
}

struct BadOption {
  const char* name;
  Bytes options;
  O expected;
};

class DecodeBadTcpOption : public ::testing::TestWithParam<BadOption> {};

TEST_P(DecodeBadTcpOption, IsRefused) {
  EXPECT_EQ(outcome_of(v4_tcp(with_options(GetParam().options))), GetParam().expected);
  // Same over IPv6.
  Tcp t = with_options(GetParam().options);
  EXPECT_EQ(outcome_of(v6_tcp(t)), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DecodeBadTcpOption,
    ::testing::Values(BadOption{"kind_without_length", {1, 1, 1, 2}, O::tcp_opt_truncated},
                      BadOption{"length_past_header", {1, 1, 8, 10}, O::tcp_opt_truncated},
                      BadOption{"sack_past_40_bytes", {5, 42, 0, 0}, O::tcp_opt_truncated},
                      BadOption{"length_zero", {3, 0, 1, 1}, O::tcp_opt_bad_length},
                      BadOption{"length_one", {9, 1, 1, 1}, O::tcp_opt_bad_length},
                      BadOption{"mss_length_3", {2, 3, 1, 1}, O::tcp_opt_bad_length},
                      BadOption{"mss_length_6", {2, 6, 1, 1, 1, 1, 1, 1}, O::tcp_opt_bad_length},
                      BadOption{"wscale_length_4", {3, 4, 7, 1}, O::tcp_opt_bad_length},
                      BadOption{"sackok_length_3", {4, 3, 0, 1}, O::tcp_opt_bad_length},
                      BadOption{"timestamps_length_8", {8, 8, 0, 0, 0, 1, 0, 0}, O::tcp_opt_bad_length},
                      BadOption{"sack_length_2", {5, 2, 1, 1}, O::tcp_opt_bad_sack},
                      BadOption{"sack_length_9", {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}, O::tcp_opt_bad_sack},
                      BadOption{"sack_length_26_plus_1", cat({5, 27}, Bytes(26, 0)), O::tcp_opt_bad_sack}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Decode, TcpDataOffsetAndTruncation) {
  Tcp t;
  t.doff_words = 4;
  EXPECT_EQ(outcome_of(v4_tcp(t)), O::tcp_bad_data_offset);
  t.doff_words = 6; // says 24 bytes, segment has 20
  EXPECT_EQ(outcome_of(v4_tcp(t)), O::tcp_bad_data_offset);
  t.doff_words = 15;
  t.payload = Bytes(39, 0); // 59 bytes of segment
  EXPECT_EQ(outcome_of(v4_tcp(t)), O::tcp_bad_data_offset);
  // Ten bytes of TCP only.
  Bytes seg = tcp_bytes(Tcp{});
  seg.resize(10);
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{}, seg))), O::tcp_truncated);
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(Ip6{}, seg))), O::tcp_truncated);
}

TEST(Decode, Ipv4HeaderErrors) {
  Ip4 ip;
  ip.ihl_words = 4;
  EXPECT_EQ(outcome_of(v4_tcp({}, ip)), O::ipv4_bad_ihl);

  Bytes short_hdr = eth(0x0800, Bytes(19, 0x45));
  EXPECT_EQ(outcome_of(short_hdr), O::ipv4_truncated);
  // IHL 15 (60 bytes) with only 40 bytes there.
  Bytes b = v4_tcp();
  b[14] = 0x4f;
  b.resize(14 + 40);
  EXPECT_EQ(outcome_of(b), O::ipv4_truncated);

  Ip4 big;
  big.total = 400; // beyond the captured bytes
  EXPECT_EQ(outcome_of(v4_tcp({}, big)), O::ipv4_bad_total_length);
  Ip4 small;
  small.total = 16; // below the header length
  EXPECT_EQ(outcome_of(v4_tcp({}, small)), O::ipv4_bad_total_length);

  Ip4 v6ver;
  Bytes w = v4_tcp({}, v6ver);
  w[14] = 0x65;
  EXPECT_EQ(outcome_of(w), O::ip_bad_version);
}

TEST(Decode, Ipv4Options) {
  Ip4 ip;
  ip.options = {1, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0}; // NOP NOP, record route (len 7 pointer 4)
  Decoded d = run(v4_tcp({}, ip));
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.ip_hdr_len, 32);
  EXPECT_EQ(d.pm.l4_offset, 14 + 32);
  EXPECT_TRUE(d.pm.flags & meta_flag::ip_options);
  ip.options = {1, 7, 0, 0};
  EXPECT_EQ(outcome_of(v4_tcp({}, ip)), O::ipv4_bad_option); // length 0
  ip.options = {1, 1, 1, 7};
  EXPECT_EQ(outcome_of(v4_tcp({}, ip)), O::ipv4_bad_option); // no room for the length
  ip.options = {7, 12, 4, 0};
  EXPECT_EQ(outcome_of(v4_tcp({}, ip)), O::ipv4_bad_option); // past the header
}

TEST(Decode, Ipv4Checksum) {
  Ip4 bad;
  bad.bad_checksum = true;
  EXPECT_EQ(outcome_of(v4_tcp({}, bad)), O::ipv4_bad_checksum);
  // The NIC's word wins either way; no verification when switched off.
  EXPECT_EQ(run(v4_tcp({}, bad), {}, {}, RTE_MBUF_F_RX_IP_CKSUM_GOOD).outcome, O::tcp);
  EXPECT_EQ(run(v4_tcp(), {}, {}, RTE_MBUF_F_RX_IP_CKSUM_BAD).outcome, O::ipv4_bad_checksum);
  DecodeConfig off;
  off.verify_ipv4_checksum = false;
  EXPECT_EQ(outcome_of(v4_tcp({}, bad), off), O::tcp);
  EXPECT_EQ(run(v4_tcp(), off, {}, RTE_MBUF_F_RX_IP_CKSUM_BAD).outcome, O::ipv4_bad_checksum);
}

TEST(Decode, TcpChecksum) {
  Tcp t;
  t.payload = Bytes(333, 'p'); // odd length
  Bytes good4 = v4_tcp(t), good6 = v6_tcp(t);
  ASSERT_EQ(outcome_of(good4), O::tcp);
  ASSERT_EQ(outcome_of(good6), O::tcp);
  Bytes bad4 = good4, bad6 = good6;
  bad4.back() ^= 1;
  bad6.back() ^= 1;
  EXPECT_EQ(outcome_of(bad4), O::tcp_bad_checksum);
  EXPECT_EQ(outcome_of(bad6), O::tcp_bad_checksum);
  EXPECT_EQ(run(bad4, {}, {}, RTE_MBUF_F_RX_L4_CKSUM_GOOD).outcome, O::tcp);
  EXPECT_EQ(run(good4, {}, {}, RTE_MBUF_F_RX_L4_CKSUM_BAD).outcome, O::tcp_bad_checksum);
  DecodeConfig off;
  off.verify_tcp_checksum = false;
  EXPECT_EQ(outcome_of(bad6, off), O::tcp);
  // Ethernet padding is not part of the segment's sum.
  Tcp e;
  Bytes padded = v4_tcp(e);
  padded.resize(padded.size() + 6, 0x5a);
  EXPECT_EQ(outcome_of(padded), O::tcp);
}

TEST(Decode, NonTcpAndNonIp) {
  Decoded udp = run(eth(0x0800, ipv4(Ip4{.proto = 17}, Bytes(12, 1))));
  EXPECT_EQ(udp.outcome, O::ip_other);
  EXPECT_EQ(udp.pm.l4_proto, 17);
  EXPECT_EQ(udp.pm.payload_len, 12);
  EXPECT_NE(udp.pm.flow_hash, 0u);
  EXPECT_EQ(outcome_of(eth(0x0806, Bytes(28, 0))), O::non_ip); // ARP
  EXPECT_EQ(outcome_of(eth(0x0026, Bytes(46, 0))), O::non_ip); // 802.3 length field
  Ip6 icmp;
  icmp.upper = 58;
  EXPECT_EQ(run(eth(0x86dd, ipv6(icmp, Bytes(8, 0)))).pm.l4_proto, 58);
}

TEST(Decode, LinkLayerTruncation) {
  EXPECT_EQ(outcome_of(Bytes(10, 0)), O::l2_truncated);
  EXPECT_EQ(outcome_of(Bytes{}), O::l2_truncated);
  Bytes tag = eth(0x8100, {});
  tag.resize(tag.size() + 2); // half a tag
  EXPECT_EQ(outcome_of(tag), O::l2_truncated);
  DecodeConfig s;
  s.link = LinkType::linux_sll;
  EXPECT_EQ(outcome_of(Bytes(15, 0), s), O::l2_truncated);
  s.link = LinkType::linux_sll2;
  EXPECT_EQ(outcome_of(Bytes(19, 0), s), O::l2_truncated);
  s.link = LinkType::raw_ip;
  EXPECT_EQ(outcome_of(Bytes{}, s), O::l2_truncated);
}

TEST(Decode, VlanAndQinQ) {
  Bytes inner = ipv4(Ip4{}, tcp_bytes(Tcp{}));
  Decoded one = run(eth(0x0800, inner, {0x8100}));
  EXPECT_EQ(one.outcome, O::tcp);
  EXPECT_EQ(one.pm.l3_offset, 18);
  for (uint16_t outer : {0x88a8, 0x9100, 0x8100}) {
    Decoded two = run(eth(0x0800, inner, {outer, 0x8100}));
    EXPECT_EQ(two.outcome, O::tcp) << outer;
    EXPECT_EQ(two.pm.l3_offset, 22);
  }
  Decoded v6 = run(eth(0x86dd, ipv6(Ip6{}, tcp_bytes(Tcp{})), {0x88a8, 0x8100}));
  EXPECT_EQ(v6.outcome, O::tcp);
  EXPECT_EQ(v6.pm.l3_offset, 22);
  EXPECT_EQ(outcome_of(eth(0x0800, inner, {0x88a8, 0x8100, 0x8100})), O::vlan_too_deep);
  EXPECT_EQ(outcome_of(eth(0x0806, Bytes(28, 0), {0x8100})), O::non_ip);
}

TEST(Decode, CookedAndRawLinkTypes) {
  Bytes ip4 = ipv4(Ip4{}, tcp_bytes(Tcp{}));
  Bytes ip6 = ipv6(Ip6{}, tcp_bytes(Tcp{}));
  DecodeConfig c;
  c.link = LinkType::linux_sll;
  Decoded s1 = run(sll(0x0800, ip4), c);
  EXPECT_EQ(s1.outcome, O::tcp);
  EXPECT_EQ(s1.pm.l3_offset, 16);
  EXPECT_EQ(run(sll(0x86dd, ip6), c).outcome, O::tcp);
  EXPECT_EQ(run(sll(0x8100, cat({0, 5, 0x08, 0x00}, ip4)), c).pm.l3_offset, 20);
  EXPECT_EQ(run(sll(0x0806, Bytes(28, 0)), c).outcome, O::non_ip);
  c.link = LinkType::linux_sll2;
  Decoded s2 = run(sll2(0x86dd, ip6), c);
  EXPECT_EQ(s2.outcome, O::tcp);
  EXPECT_EQ(s2.pm.l3_offset, 20);
  EXPECT_EQ(run(sll2(0x0800, ip4), c).outcome, O::tcp);
  c.link = LinkType::raw_ip;
  EXPECT_EQ(run(ip4, c).pm.l3_kind, static_cast<uint8_t>(L3Kind::ipv4));
  EXPECT_EQ(run(ip4, c).outcome, O::tcp);
  EXPECT_EQ(run(ip6, c).pm.l3_kind, static_cast<uint8_t>(L3Kind::ipv6));
  EXPECT_EQ(run(ip6, c).outcome, O::tcp);
  Bytes v5 = ip4;
  v5[0] = 0x55;
  EXPECT_EQ(run(v5, c).outcome, O::ip_bad_version);
  c.link = LinkType::ipv4;
  EXPECT_EQ(run(ip4, c).outcome, O::tcp);
  EXPECT_EQ(run(ip6, c).outcome, O::ip_bad_version);
  c.link = LinkType::ipv6;
  EXPECT_EQ(run(ip6, c).outcome, O::tcp);
  EXPECT_EQ(run(ip4, c).outcome, O::ip_bad_version);
}

TEST(Decode, Ipv6Plain) {
  Tcp t;
  t.payload = Bytes(10, 'a');
  Decoded d = run(v6_tcp(t));
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.l3_kind, static_cast<uint8_t>(L3Kind::ipv6));
  EXPECT_EQ(d.pm.l4_offset, 54);
  EXPECT_EQ(d.pm.ip_hdr_len, 40);
  EXPECT_EQ(d.pm.ip_total_len, 70);
  EXPECT_EQ(d.pm.payload_len, 10);
  ASSERT_EQ(d.addrs.size(), 32u);
  EXPECT_EQ(d.addrs[15], 1);
  EXPECT_EQ(d.addrs[31], 2);
}

TEST(Decode, Ipv6ExtensionChain) {
  Ip6 ip;
  ip.ext = {{0, Bytes(6, 1)}, {60, Bytes(14, 1)}, {43, {0, 0, 0, 0, 0, 0}}, {51, Bytes(10, 0)}};
  Decoded d = run(v6_tcp({}, ip));
  ASSERT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.ip_hdr_len, 40 + 8 + 16 + 8 + 12);
  EXPECT_EQ(d.pm.l4_offset, 14 + d.pm.ip_hdr_len);
  EXPECT_TRUE(d.pm.flags & meta_flag::ip_options);

  // Routing type 2 with one segment left: the pseudo header uses its address.
  Ip6Addr home{0x20, 0x01, 0x0d, 0xb8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  Ip6 rt;
  Bytes body{2, 1, 0, 0, 0, 0};
  body.insert(body.end(), home.begin(), home.end());
  rt.ext = {{43, body}};
  rt.pseudo_dst = &home;
  EXPECT_EQ(outcome_of(v6_tcp({}, rt)), O::tcp);
  rt.pseudo_dst = nullptr; // a checksum over the header destination is now wrong
  EXPECT_EQ(outcome_of(v6_tcp({}, rt)), O::tcp_bad_checksum);
}

TEST(Decode, Ipv6ExtensionErrors) {
  Ip6 late_hbh;
  late_hbh.ext = {{60, {}}, {0, {}}};
  EXPECT_EQ(outcome_of(v6_tcp({}, late_hbh)), O::ipv6_hbh_not_first);

  Ip6 eight, nine;
  for (int i = 0; i < 8; ++i) eight.ext.push_back({60, {}});
  nine = eight;
  nine.ext.push_back({60, {}});
  EXPECT_EQ(outcome_of(v6_tcp({}, eight)), O::tcp);
  EXPECT_EQ(outcome_of(v6_tcp({}, nine)), O::ipv6_ext_chain_too_long);

  // A destination-options header claiming 16 bytes with 6 left in the payload.
  Ip6 trunc;
  trunc.upper = 59;
  trunc.ext = {{60, {}}};
  Bytes b = eth(0x86dd, ipv6(trunc, {}));
  b[14 + 40 + 1] = 1;
  EXPECT_EQ(outcome_of(b), O::ipv6_ext_truncated);
  Bytes two = eth(0x86dd, ipv6(Ip6{.upper = 60}, {6}));
  EXPECT_EQ(outcome_of(two), O::ipv6_ext_truncated); // no room for the length byte

  Ip6 long_payload;
  long_payload.payload_len = 500;
  EXPECT_EQ(outcome_of(v6_tcp({}, long_payload)), O::ipv6_bad_payload_length);
  EXPECT_EQ(outcome_of(eth(0x86dd, Bytes(39, 0x60))), O::ipv6_truncated);
  Bytes v4ver = v6_tcp();
  v4ver[14] = 0x45;
  EXPECT_EQ(outcome_of(v4ver), O::ip_bad_version);
}

TEST(Decode, Ipv6StopsAtEspAndNoNext) {
  Ip6 esp;
  esp.upper = 50;
  esp.ext = {{0, {}}};
  Decoded d = run(eth(0x86dd, ipv6(esp, Bytes(40, 0))));
  EXPECT_EQ(d.outcome, O::ip_other);
  EXPECT_EQ(d.pm.l4_proto, 50);
  EXPECT_EQ(d.pm.l4_offset, 14 + 48);
  EXPECT_EQ(run(eth(0x86dd, ipv6(Ip6{.upper = 59}, {}))).outcome, O::ip_other);
}

TEST(Decode, Ipv6AtomicFragmentIsAWholePacket) {
  Ip6 ip;
  ip.ext = {{44, {0, 0, 0, 0, 0, 7}}}; // offset 0, M 0
  Decoded d = run(v6_tcp({}, ip));
  EXPECT_EQ(d.outcome, O::tcp);
  EXPECT_EQ(d.pm.flags & meta_flag::fragment, 0);
  EXPECT_EQ(d.pm.l4_offset, 14 + 48);
}

// --- fragments as seen by the decoder --------------------------------------

TEST(DecodeFragments, Ipv4) {
  Bytes seg = tcp_bytes(Tcp{.payload = Bytes(100, 'f')});
  Bytes first(seg.begin(), seg.begin() + 48);
  Decoded d = run(eth(0x0800, ipv4(Ip4{.frag = 0x2000}, first, false)));
  EXPECT_EQ(d.outcome, O::fragment);
  EXPECT_EQ(d.pm.flags & (meta_flag::fragment | meta_flag::more_fragments),
            meta_flag::fragment | meta_flag::more_fragments);
  EXPECT_EQ(d.pm.frag_offset, 0);
  EXPECT_NE(d.pm.flow_hash, 0u);
  Decoded last = run(eth(0x0800, ipv4(Ip4{.frag = 6}, Bytes(seg.begin() + 48, seg.end()), false)));
  EXPECT_EQ(last.outcome, O::fragment);
  EXPECT_EQ(last.pm.frag_offset, 48);
  EXPECT_EQ(last.pm.flags & meta_flag::more_fragments, 0);
  EXPECT_EQ(last.pm.flow_hash, d.pm.flow_hash);

  // UDP fragments pass untouched.
  Decoded udp = run(eth(0x0800, ipv4(Ip4{.proto = 17, .frag = 0x2000}, Bytes(16, 0))));
  EXPECT_EQ(udp.outcome, O::ip_other);
  EXPECT_TRUE(udp.pm.flags & meta_flag::fragment);

  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x2000}, Bytes(seg.begin(), seg.begin() + 16), false))),
            O::frag_tiny_first);
  // First fragment of 24 bytes whose TCP header says 32.
  Bytes opt = tcp_bytes(Tcp{.options = Bytes(12, 1)});
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x2000}, Bytes(opt.begin(), opt.begin() + 24), false))),
            O::frag_tiny_first);
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x2001}, Bytes(16, 0), false))), O::frag_l4_header_overlap);
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x2003}, Bytes(17, 0), false))), O::frag_bad_length);
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x0003}, Bytes{}, false))), O::frag_bad_length);
  EXPECT_EQ(outcome_of(eth(0x0800, ipv4(Ip4{.frag = 0x1fff}, Bytes(16, 0), false))), O::frag_oversized);
  // Headers split across segments: rte_ip_frag could not take it.
  EXPECT_EQ(run(eth(0x0800, ipv4(Ip4{.frag = 0x2000}, first, false)), {}, {20}).outcome, O::frag_split_header);
  // More segments than the reassembler's 8-bit bookkeeping: refused too.
  Bytes many = eth(0x0800, ipv4(Ip4{.frag = 0x2000}, cat(first, Bytes(256, 0)), false));
  std::vector<std::size_t> cuts;
  for (std::size_t c = 40; c < 40 + 256; ++c) cuts.push_back(c);
  EXPECT_EQ(run(many, {}, cuts).outcome, O::frag_split_header);
  cuts.resize(250);
  EXPECT_EQ(run(many, {}, cuts).outcome, O::fragment);
}

TEST(DecodeFragments, Ipv6) {
  Bytes seg = tcp_bytes(Tcp{.payload = Bytes(100, 'f')});
  Ip6 ip;
  ip.ext = {{44, {0, 1, 0, 0, 0, 9}}}; // offset 0, M 1
  Decoded d = run(eth(0x86dd, ipv6(ip, Bytes(seg.begin(), seg.begin() + 48), false)));
  EXPECT_EQ(d.outcome, O::fragment);
  EXPECT_EQ(d.pm.frag_hdr_offset, 14 + 40);
  EXPECT_EQ(d.pm.l4_offset, 14 + 48);
  EXPECT_EQ(d.pm.flags & meta_flag::more_fragments, meta_flag::more_fragments);

  Ip6 tiny = ip;
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(tiny, Bytes(seg.begin(), seg.begin() + 16), false))), O::frag_tiny_first);
  // The first fragment ends inside a destination-options header (RFC 7112).
  Ip6 chain;
  chain.ext = {{44, {0, 1, 0, 0, 0, 9}}, {60, Bytes(30, 0)}};
  Bytes c = eth(0x86dd, ipv6(chain, {}, false));
  c.resize(14 + 40 + 8 + 16);
  put16(c, 14 + 4, 8 + 16);
  EXPECT_EQ(outcome_of(c), O::frag_tiny_first);

  Ip6 second;
  second.ext = {{44, {0, 0x09, 0, 0, 0, 9}}}; // offset 1 (8 bytes), M 1
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(second, Bytes(16, 0), false))), O::frag_l4_header_overlap);
  Ip6 later;
  later.ext = {{44, {0, 0x30, 0, 0, 0, 9}}}; // offset 6 (48 bytes), M 0
  Decoded l = run(eth(0x86dd, ipv6(later, Bytes(seg.begin() + 48, seg.end()), false)));
  EXPECT_EQ(l.outcome, O::fragment);
  EXPECT_EQ(l.pm.frag_offset, 48);

  Ip6 udp = ip;
  udp.upper = 17;
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(udp, Bytes(16, 0), false))), O::ip_other);

  Ip6 behind;
  behind.ext = {{60, {}}, {44, {0, 1, 0, 0, 0, 9}}};
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(behind, Bytes(seg.begin(), seg.begin() + 48), false))),
            O::frag_ipv6_unsupported);
  Ip6 twice;
  twice.ext = {{44, {0, 1, 0, 0, 0, 9}}, {44, {0, 1, 0, 0, 0, 9}}};
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(twice, Bytes(seg.begin(), seg.begin() + 48), false))),
            O::frag_ipv6_unsupported);
  Ip6 odd = ip;
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(odd, Bytes(seg.begin(), seg.begin() + 44), false))), O::frag_bad_length);
  Ip6 big;
  big.ext = {{44, {0xff, 0xf8, 0, 0, 0, 9}}};
  EXPECT_EQ(outcome_of(eth(0x86dd, ipv6(big, Bytes(16, 0), false))), O::frag_oversized);
}

// --- multi-segment mbufs ----------------------------------------------------

void expect_same_meta(const PacketMeta& a, const PacketMeta& b, std::size_t cut) {
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "cut at " << cut;
}

TEST(DecodeMultiSegment, HeadersSplitAtEveryOffset) {
  Tcp t;
  t.options = {2, 4, 5, 0xb4, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  t.payload = Bytes(77, 'm');
  Ip4 ip;
  ip.options = {1, 1, 1, 0};
  Ip6 ip6;
  ip6.ext = {{0, Bytes(6, 1)}, {60, Bytes(14, 1)}};
  for (const Bytes& pkt : {eth(0x0800, ipv4(ip, tcp_bytes(t)), {0x8100}), eth(0x86dd, ipv6(ip6, tcp_bytes(t)))}) {
    Decoded whole = run(pkt);
    ASSERT_EQ(whole.outcome, O::tcp);
    for (std::size_t cut = 1; cut < pkt.size(); ++cut) {
      Decoded d = run(pkt, {}, {cut});
      ASSERT_EQ(d.outcome, O::tcp) << "cut at " << cut;
      expect_same_meta(d.pm, whole.pm, cut);
      EXPECT_EQ(d.addrs, whole.addrs);
      EXPECT_EQ(d.sacks, whole.sacks);
    }
    // Three segments, with single-byte and odd-sized pieces.
    Decoded d = run(pkt, {}, {13, 14, 35, 36, 61});
    EXPECT_EQ(d.outcome, O::tcp);
    expect_same_meta(d.pm, whole.pm, 0);
    Bytes bad = pkt;
    bad.back() ^= 0x40;
    EXPECT_EQ(run(bad, {}, {13, 14, 35, 36, 61}).outcome, O::tcp_bad_checksum);
  }
}

// The one-pass path for plain Ethernet/IPv4/TCP frames must give the same
// outcome and byte-identical metadata as the general path, which decodes the
// same frame when its headers are split over two segments.
TEST(DecodeFastPath, SameMetaAsTheGeneralPath) {
  Tcp data{.seq = 0xfffffff0, .ack = 77, .flags = 0x18, .payload = Bytes(10, 'd')};
  Tcp syn{.flags = 0x02, .options = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0}};
  Tcp sack{.flags = 0x10, .options = {1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4}};
  Tcp bad_opt{.flags = 0x10, .options = {2, 3, 5, 0}};
  Tcp ports_swapped{.sport = 80, .dport = 40000, .flags = 0x11};
  Bytes padded = v4_tcp(Tcp{.flags = 0x10});
  padded.resize(60, 0);
  Bytes bad_tcp_sum = v4_tcp(data);
  bad_tcp_sum.back() ^= 1;
  std::vector<Bytes> frames = {v4_tcp(data),
                               v4_tcp(syn),
                               v4_tcp(sack),
                               v4_tcp(bad_opt),
                               v4_tcp(ports_swapped, Ip4{.src = a4(192, 168, 0, 1), .dst = a4(10, 0, 0, 1)}),
                               v4_tcp(data, Ip4{.frag = 0x4000}),
                               v4_tcp(data, Ip4{.bad_checksum = true}),
                               padded,
                               bad_tcp_sum};
  const uint64_t ol_cases[] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                               RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
                               RTE_MBUF_F_RX_IP_CKSUM_NONE | RTE_MBUF_F_RX_L4_CKSUM_NONE};
  std::set<O> seen;
  for (std::size_t f = 0; f < frames.size(); ++f)
    for (uint64_t ol : ol_cases)
      for (int c = 0; c < 4; ++c) {
        DecodeConfig cfg;
        cfg.flow_hash = (c & 1) != 0;
        cfg.verify_ipv4_checksum = cfg.verify_tcp_checksum = (c & 2) != 0;
        Decoded one = run(frames[f], cfg, {}, ol);
        Decoded split = run(frames[f], cfg, {20}, ol);
        ASSERT_EQ(one.outcome, split.outcome) << "frame " << f << " ol " << ol << " config " << c;
        EXPECT_EQ(std::memcmp(&one.pm, &split.pm, sizeof one.pm), 0) << "frame " << f << " ol " << ol << " config " << c;
        seen.insert(one.outcome);
      }
  // The cases above reach every outcome the fast path can give, and a fallback.
  for (O o : {O::tcp, O::tcp_bad_checksum, O::tcp_opt_bad_length, O::ipv4_bad_checksum}) EXPECT_TRUE(seen.count(o));
}

TEST(DecodeMultiSegment, EveryTruncationIsRefusedWithoutReadingPast) {
  Tcp t;
  t.options = {2, 4, 5, 0xb4, 1, 1, 4, 2};
  t.payload = Bytes(5, 'x');
  Ip6 ip6;
  ip6.ext = {{0, Bytes(6, 1)}};
  for (const Bytes& pkt : {v4_tcp(t), eth(0x86dd, ipv6(ip6, tcp_bytes(t)), {0x88a8, 0x8100})}) {
    for (std::size_t len = 0; len < pkt.size(); ++len) {
      Bytes cut(pkt.begin(), pkt.begin() + static_cast<long>(len));
      O o = run(cut, {}, len > 3 ? std::vector<std::size_t>{len / 2} : std::vector<std::size_t>{}).outcome;
      EXPECT_NE(o, O::tcp) << "length " << len;
      EXPECT_EQ(outcome_verdict(o), OutcomeVerdict::drop) << "length " << len << " " << outcome_name(o);
    }
  }
}

// --- flow hash --------------------------------------------------------------

TEST(FlowHash, DirectionFree) {
  Tcp ab{.sport = 1111, .dport = 80};
  Tcp ba{.sport = 80, .dport = 1111};
  Ip4 fwd{.src = a4(192, 168, 1, 1), .dst = a4(10, 0, 0, 9)};
  Ip4 rev{.src = a4(10, 0, 0, 9), .dst = a4(192, 168, 1, 1)};
  Decoded x = run(v4_tcp(ab, fwd)), y = run(v4_tcp(ba, rev));
  ASSERT_EQ(x.outcome, O::tcp);
  EXPECT_EQ(x.pm.flow_hash, y.pm.flow_hash);
  EXPECT_NE(x.pm.flags & meta_flag::flow_reversed, y.pm.flags & meta_flag::flow_reversed);
  // Same addresses, ports alone decide the order.
  Ip4 same{.src = a4(1, 1, 1, 1), .dst = a4(1, 1, 1, 1)};
  EXPECT_EQ(run(v4_tcp(ab, same)).pm.flow_hash, run(v4_tcp(ba, same)).pm.flow_hash);
  // Another port, another hash (CRC32C: no collision for this pair).
  Tcp other{.sport = 1112, .dport = 80};
  EXPECT_NE(run(v4_tcp(other, fwd)).pm.flow_hash, x.pm.flow_hash);

  Ip6 f6, r6;
  r6.src = f6.dst;
  r6.dst = f6.src;
  Decoded p = run(v6_tcp(ab, f6)), q = run(v6_tcp(ba, r6));
  ASSERT_EQ(q.outcome, O::tcp);
  EXPECT_EQ(p.pm.flow_hash, q.pm.flow_hash);
  EXPECT_NE(p.pm.flags & meta_flag::flow_reversed, q.pm.flags & meta_flag::flow_reversed);

  bool rev1 = false, rev2 = false;
  uint8_t s[4] = {1, 2, 3, 4}, d[4] = {5, 6, 7, 8};
  EXPECT_EQ(flow_hash(s, d, 4, 10, 20, 6, rev1), flow_hash(d, s, 4, 20, 10, 6, rev2));
  EXPECT_NE(rev1, rev2);
}

TEST(DecodeBurst, TalliesOutcomes) {
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < 5; ++i) pkts.push_back(make_mbuf(v4_tcp()));
  pkts.push_back(make_mbuf(eth(0x0806, Bytes(28, 0))));
  pkts.push_back(make_mbuf(Bytes(3, 0)));
  DecodeTally tally;
  decode_burst(pkts, {}, tally);
  EXPECT_EQ(tally.count(O::tcp), 5u);
  EXPECT_EQ(tally.count(O::non_ip), 1u);
  EXPECT_EQ(tally.count(O::l2_truncated), 1u);
  for (rte_mbuf* m : pkts) {
    EXPECT_EQ(meta(m).decoded, 1);
    rte_pktmbuf_free(m);
  }
}

} // namespace
} // namespace haka::net::test
