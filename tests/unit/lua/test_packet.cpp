// The tcp packet object: fields read and written, checksums, drop, stale
// handles, pass-through, the tcp events and packet policies.
#include "lua_test_util.hpp"

#include "tcp/connection.hpp"

namespace haka::lua::test {
namespace {

using PacketTest = LuaTest;

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08, kFin = 0x01, kUrg = 0x20;

TEST_F(PacketTest, ReadsEveryField) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  print(p.srcport, p.dstport, p.seq, p.ack_seq, p.res, p.hdr_len, p.flags.all,\n"
                     "        p.flags.syn, p.flags.ack, p.flags.fin, p.window_size, p.urgent_pointer,\n"
                     "        tostring(p.src), tostring(p.dst), p.ip.ttl, p.ip.proto, p.len, p:verify_checksum())\n"
                     "end }\n");
  rte_mbuf* m = packet(kSyn | kAck, "abc", 40000, 80, 0xd5735925u, 0x243faef2u);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "40000 80 3581106469 608153330 0 20 18 true true false 512 0 "
                             "192.168.10.1 192.168.20.1 64 6 23 true");
}

TEST_F(PacketTest, SendPacketEventIsSeparate) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.send_packet, eval = function (p) print('send', p.dstport) end }\n");
  EXPECT_FALSE(rt.wants(Event::tcp_receive_packet));
  EXPECT_TRUE(rt.wants(Event::tcp_send_packet));
  rte_mbuf* m = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok);
  EXPECT_TRUE(host_.prints.empty());
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, true), Status::ok);
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "send 80");
}

TEST_F(PacketTest, WritesReachTheHeaderAndTheChecksumIsRecomputed) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  p.srcport = 3; p.dstport = 65535; p.seq = 123456; p.ack_seq = 654321\n"
                     "  p.flags.fin = true; p.flags.urg = true; p.window_size = 32; p.urgent_pointer = 15\n"
                     "  print(p.srcport, p.dstport, p.seq, p.ack_seq, p.flags.all, p.window_size, p.urgent_pointer)\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck, "data");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "3 65535 123456 654321 49 32 15");
  const auto* t = rte_pktmbuf_mtod_offset(m, const uint8_t*, net::meta(m).l4_offset);
  EXPECT_EQ(t[0] << 8 | t[1], 3);
  EXPECT_EQ(t[13], kAck | kFin | kUrg);
  EXPECT_EQ(net::meta(m).tcp_seq, 123456u);
  // The checksum was recomputed when the packet was handed back: it decodes clean.
  net::DecodeConfig dc;
  EXPECT_EQ(net::decode(m, dc), net::DecodeOutcome::tcp);
}

TEST_F(PacketTest, BadValuesAndUnknownFieldsRaise) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  print(pcall(function () p.srcport = 70000 end))\n"
                     "  print(pcall(function () return p.nosuch end))\n"
                     "  print(pcall(function () p.flags.nosuch = true end))\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok);
  ASSERT_EQ(host_.prints.size(), 3u);
  EXPECT_EQ(host_.prints[0], "false value out of range for the field");
  EXPECT_NE(host_.prints[1].find("unknown field 'nosuch' of tcp"), std::string::npos) << host_.prints[1];
  EXPECT_NE(host_.prints[2].find("unknown tcp flag 'nosuch'"), std::string::npos) << host_.prints[2];
}

TEST_F(PacketTest, PassThroughWritesFailWithReadOnlyBuffer) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  print(pcall(function () p.seq = 1 end))\n"
                     "  print(pcall(function () p.flags.syn = true end))\n"
                     "  print(pcall(function () p:compute_checksum() end))\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck);
  uint32_t seq = net::meta(m).tcp_seq;
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, false}, false), Status::ok);
  ASSERT_EQ(host_.prints.size(), 3u);
  for (auto& p : host_.prints) EXPECT_EQ(p, "false read only buffer"); // Haka's print: a space between values
  EXPECT_EQ(net::meta(m).tcp_seq, seq);
}

TEST_F(PacketTest, ChecksumVerifyAndCompute) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  local good = p:verify_checksum()\n"
                     "  p.checksum = 0x1234\n"
                     "  local bad = p:verify_checksum()\n"
                     "  p:compute_checksum()\n"
                     "  print(good, bad, p:verify_checksum())\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck | kPsh, "hello world");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "true false true");
}

TEST_F(PacketTest, ExplicitChecksumIsKept) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  p.seq = 5; p.checksum = 0xbeef\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok);
  const auto* t = rte_pktmbuf_mtod_offset(m, const uint8_t*, net::meta(m).l4_offset);
  EXPECT_EQ(t[16] << 8 | t[17], 0xbeef);
}

TEST_F(PacketTest, DropReachesTheHost) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  if p.flags.psh and p.flags.fin and p.flags.urg then p:drop() end\n"
                     "end }\n");
  rte_mbuf* xmas = packet(kFin | kPsh | kUrg);
  rte_mbuf* ok = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{ok, true}, false), Status::ok);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{xmas, true}, false), Status::ok);
  ASSERT_EQ(host_.packet_calls.size(), 1u);
  EXPECT_EQ(host_.packet_calls[0].first, xmas);
  EXPECT_EQ(host_.packet_calls[0].second, PacketAction::drop);
}

TEST_F(PacketTest, KeptPacketIsStaleLater) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "kept = nil\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  if kept then print(kept.seq) end\n"
                     "  kept = p\n"
                     "end }\n");
  rte_mbuf* a = packet(kAck);
  rte_mbuf* b = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{a, true}, false), Status::ok);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{b, true}, false), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:4: packet handle used after the packet left the rule"), std::string::npos)
      << host_.all_logs();
  EXPECT_EQ(rt.counters().errors, 1u);
  EXPECT_GE(rt.counters().stale_handles, 1u);
}

TEST_F(PacketTest, RuleErrorIsLoggedWithFileLineAndTheNextCallWorks) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "n = 0\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  n = n + 1\n"
                     "  if n == 1 then error('first fails') end\n"
                     "  print('second runs')\n"
                     "end }\n");
  rte_mbuf* m = packet(kAck);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::error);
  EXPECT_NE(host_.all_logs().find("error lua: " + dir_ + "/rules.lua:5: first fails"), std::string::npos)
      << host_.all_logs();
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok);
  ASSERT_EQ(host_.prints.size(), 1u);
}

TEST_F(PacketTest, InfiniteLoopInARuleIsBoundedAndCounted) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 2'000'000;
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  if p.dstport == 81 then local x = 0; while true do x = x + 1 end end\n"
                     "  print('fine')\n"
                     "end }\n",
                     cfg);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(kAck, "", 40000, 81), true}, false), Status::limit);
  EXPECT_EQ(rt.counters().limits, 1u);
  EXPECT_NE(host_.all_logs().find("instruction limit exceeded"), std::string::npos) << host_.all_logs();
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(kAck), true}, false), Status::ok);
  ASSERT_EQ(host_.prints.size(), 1u);
}

TEST_F(PacketTest, AbortStopsSilently) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p) haka.abort() end }\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p) print('not reached') end }\n");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(kAck), true}, false), Status::ok);
  EXPECT_TRUE(host_.prints.empty());
  EXPECT_TRUE(host_.logs.empty()) << host_.all_logs();
}

TEST_F(PacketTest, DefaultPacketPoliciesAlertAndDrop) {
  Runtime& rt = load("-- no rules\n");
  rte_mbuf* m = packet(kAck, "", 1363, 0);
  EXPECT_EQ(rt.apply_policy(tcp::Policy::no_connection_found, PacketRef{m, true}), PolicyVerdict::drop);
  ASSERT_EQ(host_.alerts.size(), 1u);
  EXPECT_EQ(host_.alerts[0],
            "alert: id = = <>\n\tseverity = low\n\tdescription = no connection found for tcp packet\n"
            "\tsources = {\n\t\taddress: 192.168.10.1\n\t\tservice: tcp/1363\n\t}\n"
            "\ttargets = {\n\t\taddress: 192.168.20.1\n\t\tservice: tcp/0\n\t}\n");
  EXPECT_NE(host_.all_logs().find("debug core: applying policy default action for no connection found for tcp packet"),
            std::string::npos);
  EXPECT_EQ(rt.apply_policy(tcp::Policy::unexpected_packet, PacketRef{m, true}), PolicyVerdict::drop);
  EXPECT_EQ(rt.apply_policy(tcp::Policy::invalid_handshake, PacketRef{m, true}), PolicyVerdict::drop);
  ASSERT_EQ(host_.alerts.size(), 3u);
  EXPECT_NE(host_.alerts[1].find("description = unexpected tcp packet"), std::string::npos);
  EXPECT_NE(host_.alerts[2].find("description = invalid tcp handshake"), std::string::npos);
}

TEST_F(PacketTest, LastEligiblePolicyEntryWins) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.policy{ on = tc.policies.no_connection_found, name = 'web ok', dstport = 80,\n"
                     "  action = haka.policy.accept }\n"
                     "haka.policy{ on = tc.policies.unexpected_packet, name = 'ignore', action = haka.policy.accept }\n"
                     "haka.policy{ on = tc.policies.unexpected_packet, name = 'never', dstport = 1,\n"
                     "  action = haka.policy.drop }\n");
  EXPECT_EQ(rt.apply_policy(tcp::Policy::no_connection_found, PacketRef{packet(kAck, "", 1, 80), true}),
            PolicyVerdict::accept);
  EXPECT_EQ(rt.apply_policy(tcp::Policy::no_connection_found, PacketRef{packet(kAck, "", 1, 81), true}),
            PolicyVerdict::drop);
  // The later non-matching entry does not hide the earlier catch-all.
  EXPECT_EQ(rt.apply_policy(tcp::Policy::unexpected_packet, PacketRef{packet(kAck, "", 1, 80), true}),
            PolicyVerdict::accept);
  EXPECT_EQ(host_.alerts.size(), 1u);
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using ForgeTest = LuaTest;

TEST_F(ForgeTest, CreateAndInjectLikeHakasCreateTest) {
  RuntimeConfig cfg;
  cfg.forge_pool = mp_;
  Runtime& rt = load("require('protocol/ipv4')\nrequire('protocol/tcp')\n"
                     "haka.rule{ on = haka.dissectors.tcp.events.receive_packet, eval = function (pkt)\n"
                     "  local npkt = haka.dissectors.packet.create()\n"
                     "  npkt = haka.dissectors.ipv4.create(npkt)\n"
                     "  npkt.ttl = pkt.ttl; npkt.dst = pkt.dst; npkt.src = pkt.src\n"
                     "  npkt = haka.dissectors.tcp.create(npkt)\n"
                     "  npkt.window_size = pkt.window_size\n"
                     "  npkt.seq = pkt.seq + 1000\n"
                     "  if pkt.ack_seq ~= 0 then npkt.ack_seq = pkt.ack_seq + 1000 end\n"
                     "  npkt.flags.all = pkt.flags.all\n"
                     "  npkt.dstport = pkt.dstport + 10; npkt.srcport = pkt.srcport + 10\n"
                     "  npkt.payload:append(pkt.payload:clone())\n"
                     "  npkt:inject()\n"
                     "end }\n",
                     cfg);
  rte_mbuf* m = packet(0x18, "payload!", 34003, 4444, 5000, 7000);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{m, true}, false), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.injected.size(), 1u);
  rte_mbuf* f = host_.injected[0];
  net::DecodeConfig dc;
  ASSERT_EQ(net::decode(f, dc), net::DecodeOutcome::tcp); // checksums verified by the decoder
  const net::PacketMeta& pm = net::meta(f);
  EXPECT_EQ(pm.tcp_seq, 6000u);
  EXPECT_EQ(pm.tcp_ack, 8000u);
  EXPECT_EQ(pm.tcp_flags, 0x18);
  EXPECT_EQ(pm.tcp_window, 512);
  uint16_t sp = 0, dp = 0;
  ASSERT_TRUE(net::tcp_ports(f, sp, dp));
  EXPECT_EQ(sp, 34013);
  EXPECT_EQ(dp, 4454);
  ASSERT_EQ(pm.payload_len, 8);
  EXPECT_EQ(std::string(rte_pktmbuf_mtod_offset(f, const char*, pm.payload_offset), 8), "payload!");
  EXPECT_EQ(rt.counters().injected, 1u);
}

TEST_F(ForgeTest, InjectWithoutPoolRaises) {
  Runtime& rt = load("require('protocol/tcp')\n"
                     "haka.rule{ on = haka.dissectors.tcp.events.receive_packet, eval = function (pkt)\n"
                     "  local n = haka.dissectors.tcp.create(haka.dissectors.ipv4.create(haka.dissectors.packet.create()))\n"
                     "  n:inject()\n"
                     "end }\n");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10), true}, false), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:4: packet injection is not available"), std::string::npos)
      << host_.all_logs();
  EXPECT_TRUE(host_.injected.empty());
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

class BoundTest : public LuaTest, public ::testing::WithParamInterface<const char*> {};

// Every way to loop for ever, in a rule whose other code the JIT compiles:
// each must end at the instruction bound, and the worker go on.
TEST_P(BoundTest, EveryLoopKindIsBounded) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 3'000'000;
  std::string rules = std::string("local tcp = require('protocol/tcp')\n"
                                  "local function spin(p)\n") +
                      GetParam() +
                      "\nend\n"
                      "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                      "  if p.dstport == 81 then spin(p) end\n"
                      "  n = (n or 0) + p.srcport\n"
                      "end }\n"
                      "print(haka._guard_fallbacks())\n";
  Runtime& rt = load(rules, cfg);
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "0"); // the loop guard applied, no jit.off fallback
  rte_mbuf* ok = packet(0x10);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(rt.on_tcp_packet(PacketRef{ok, true}, false), Status::ok);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10, "", 40000, 81), true}, false), Status::limit) << GetParam();
  EXPECT_EQ(rt.counters().limits, 3u);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{ok, true}, false), Status::ok);
}

INSTANTIATE_TEST_SUITE_P(
    Loops, BoundTest,
    ::testing::Values("local x = 0 while true do x = x + 1 end",
                      "local x = 0 repeat x = x + 1 until false",
                      "local x = 0 for i = 1, math.huge do x = x + i end",
                      "local x = 0 for i = 1, 1e300 do x = x + p.seq end",
                      "local function it(s, c) return c + 1 end local x = 0 for v in it, nil, 0 do x = x + v end",
                      "local t = setmetatable({}, {}) local x = 0 while true do for k, v in pairs({1, 2, 3}) do x = x + v end end",
                      "local function f(n) return f(n + 1) end return f(0)",
                      "local g local function f(n) return g(n + 1) end g = function (n) return f(n + 1) end return f(0)",
                      "local x = 0 ::top:: x = x + 1 goto top",
                      "local f = loadstring('local x = 0 while true do x = x + 1 end') f()",
                      "local x = 0 while true do x = x + p.dstport end"));

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using SwallowTest = LuaTest;

TEST_F(SwallowTest, CatchingTheLimitErrorDoesNotEscapeTheBound) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 2'000'000;
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ on = tcp.events.receive_packet, eval = function (p)\n"
                     "  while true do pcall(function () local x = 0 while true do x = x + 1 end end) end\n"
                     "end }\n",
                     cfg);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10), true}, false), Status::limit);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10), true}, false), Status::limit);
}

} // namespace
} // namespace haka::lua::test
