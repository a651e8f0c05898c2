// Flow objects: attributes, actions, new_connection policy, events, stale handles.
#include "lua_test_util.hpp"

namespace haka::lua::test {
namespace {

using FlowTest = LuaTest;

constexpr uint8_t kSyn = 0x02, kAck = 0x10;

TEST_F(FlowTest, AttributesAndEvents) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.new_connection, eval = function (flow, pkt)\n"
                     "  haka.log('new tcp connection %s:%d -> %s:%d', pkt.src, pkt.srcport, pkt.dst, pkt.dstport)\n"
                     "end }\n"
                     "haka.rule{ on = tc.events.receive_packet, eval = function (flow, pkt, dir)\n"
                     "  print(dir, pkt.seq, flow.dstport)\n"
                     "end }\n"
                     "haka.rule{ on = tc.events.end_connection, eval = function (flow)\n"
                     "  haka.log('end tcp connection %s:%d -> %s:%d', flow.srcip, flow.srcport, flow.dstip, flow.dstport)\n"
                     "end }\n");
  EXPECT_TRUE(rt.wants(Event::new_connection));
  EXPECT_TRUE(rt.wants(Event::receive_packet));
  EXPECT_TRUE(rt.wants(Event::end_connection));
  EXPECT_FALSE(rt.wants(Event::receive_data));
  int cookie = 0;
  FlowRef f = rt.open_flow(flow_info(), &cookie);
  ASSERT_TRUE(rt.valid(f));
  rte_mbuf* syn = packet(kSyn, "", 40000, 80, 77);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{syn, true}), Status::ok) << host_.all_logs();
  EXPECT_EQ(rt.on_receive_packet(f, PacketRef{syn, true}, tcp::Dir::up), Status::ok);
  EXPECT_EQ(rt.on_receive_packet(f, PacketRef{packet(kSyn | kAck, "", 80, 40000, 500), true}, tcp::Dir::down),
            Status::ok);
  EXPECT_EQ(rt.on_end_connection(f), Status::ok);
  EXPECT_EQ(rt.close_flow(f), Status::ok);
  EXPECT_FALSE(rt.valid(f));
  ASSERT_EQ(host_.logs.size(), 2u) << host_.all_logs();
  EXPECT_EQ(host_.logs[0], "info external: new tcp connection 192.168.10.1:40000 -> 192.168.20.1:80");
  EXPECT_EQ(host_.logs[1], "info external: end tcp connection 192.168.10.1:40000 -> 192.168.20.1:80");
  ASSERT_EQ(host_.prints.size(), 2u);
  EXPECT_EQ(host_.prints[0], "up 77 80");
  EXPECT_EQ(host_.prints[1], "down 500 80");
  // A stale reference is refused without calling Lua.
  EXPECT_EQ(rt.on_end_connection(f), Status::error);
}

TEST_F(FlowTest, ActionsReachTheHostWithTheCookie) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_packet, eval = function (flow, pkt, dir)\n"
                     "  if pkt.dstport == 1 then flow:send('down') end\n"
                     "  if pkt.dstport == 2 then flow:send() end\n"
                     "  if pkt.dstport == 3 then flow:reset() end\n"
                     "  if pkt.dstport == 4 then flow:halfreset() end\n"
                     "  if pkt.dstport == 5 then flow:drop() end\n"
                     "  if pkt.dstport == 6 then flow:send('sideways') end\n"
                     "end }\n"
                     "haka.rule{ on = tc.events.receive_packet, eval = function (flow, pkt, dir)\n"
                     "  print('second', pkt.dstport)\n"
                     "end }\n");
  int cookie = 0;
  FlowRef f = rt.open_flow(flow_info(), &cookie);
  for (uint16_t port = 1; port <= 5; ++port)
    EXPECT_EQ(rt.on_receive_packet(f, PacketRef{packet(kAck, "", 40000, port), true}, tcp::Dir::up), Status::ok);
  ASSERT_EQ(host_.flow_calls.size(), 5u);
  for (auto& c : host_.flow_calls) EXPECT_EQ(c.cookie, &cookie);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::send);
  EXPECT_TRUE(host_.flow_calls[0].has_dir);
  EXPECT_EQ(host_.flow_calls[0].dir, tcp::Dir::down);
  EXPECT_FALSE(host_.flow_calls[1].has_dir);
  EXPECT_EQ(host_.flow_calls[2].action, FlowAction::reset);
  EXPECT_EQ(host_.flow_calls[3].action, FlowAction::halfreset);
  EXPECT_EQ(host_.flow_calls[4].action, FlowAction::drop);
  // After reset (3) the flow counts as dropped: later listeners of later packets are skipped.
  ASSERT_EQ(host_.prints.size(), 2u);
  EXPECT_EQ(host_.prints[0], "second 1");
  EXPECT_EQ(host_.prints[1], "second 2");
}

TEST_F(FlowTest, BadDirectionRaises) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_packet, eval = function (flow, pkt, dir)\n"
                     "  flow:send('sideways')\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_receive_packet(f, PacketRef{packet(kAck), true}, tcp::Dir::up), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:3: invalid direction: sideways"), std::string::npos) << host_.all_logs();
}

TEST_F(FlowTest, KeptFlowIsStaleAfterClose) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "kept = nil\n"
                     "haka.rule{ on = tc.events.new_connection, eval = function (flow, pkt)\n"
                     "  if kept then print(kept.srcport) end\n"
                     "  kept = flow\n"
                     "  flow.note = 'mine'\n"
                     "  print(flow.note)\n"
                     "end }\n");
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(kSyn), true}), Status::ok);
  EXPECT_EQ(rt.close_flow(a), Status::ok);
  // The slot is reused with a new generation: the old object must not see the new flow.
  FlowRef b = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(b.index, a.index);
  EXPECT_NE(b.gen, a.gen);
  EXPECT_EQ(rt.on_new_connection(b, PacketRef{packet(kSyn), true}), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:4: connection handle used after the connection ended"), std::string::npos)
      << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "mine");
}

TEST_F(FlowTest, NewConnectionPolicyDropsByDefaultAndAcceptsOverride) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local client = ipv4.network('192.168.10.0/25')\n"
                     "haka.policy{ on = tc.policies.new_connection, name = 'drop by default',\n"
                     "  action = { haka.policy.alert{ description = 'drop by default' }, haka.policy.drop } }\n"
                     "haka.policy{ on = tc.policies.new_connection, name = 'http',\n"
                     "  srcip = haka.policy.ipv4_in_network(client), dstport = 80, action = haka.policy.accept }\n"
                     "haka.rule{ on = tc.events.new_connection, eval = function (flow, pkt) print('rule', flow.dstport) end }\n");
  FlowRef ok = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(ok, PacketRef{packet(kSyn), true}), Status::ok);
  EXPECT_TRUE(host_.flow_calls.empty());
  FlowInfo other = flow_info();
  other.dstport = 443;
  FlowRef bad = rt.open_flow(other, nullptr);
  EXPECT_EQ(rt.on_new_connection(bad, PacketRef{packet(kSyn, "", 40000, 443), true}), Status::ok);
  ASSERT_EQ(host_.flow_calls.size(), 1u);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::drop);
  ASSERT_EQ(host_.alerts.size(), 1u);
  EXPECT_EQ(host_.alerts[0],
            "alert: id = = <>\n\tdescription = drop by default\n"
            "\tsources = {\n\t\taddress: 192.168.10.1\n\t\tservice: tcp/40000\n\t}\n"
            "\ttargets = {\n\t\taddress: 192.168.20.1\n\t\tservice: tcp/443\n\t}\n");
  // The user rule ran for the accepted connection only.
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "rule 80");
  EXPECT_NE(host_.all_logs().find("debug core: rejected policy http for new connection"), std::string::npos);
}

TEST_F(FlowTest, RuleGroupContinueAndFinal) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local g = haka.rule_group{ name = 'g', on = tc.events.new_connection,\n"
                     "  init = function (flow, pkt) haka.log.debug('enter %d', pkt.dstport) end,\n"
                     "  continue = function (ret) return not ret end,\n"
                     "  final = function (flow, pkt) haka.alert{ description = 'dropped',\n"
                     "    targets = { haka.alert.service('tcp', pkt.dstport) } }; pkt:drop() end }\n"
                     "g:rule{ eval = function (flow, pkt) if pkt.dstport == 80 then return true end end }\n"
                     "g:rule{ eval = function (flow, pkt) if pkt.dstport == 22 then return true end end }\n");
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(kSyn, "", 1, 22), true}), Status::ok);
  EXPECT_TRUE(host_.alerts.empty());
  FlowRef b = rt.open_flow(flow_info(), nullptr);
  rte_mbuf* syn = packet(kSyn, "", 1, 8000);
  EXPECT_EQ(rt.on_new_connection(b, PacketRef{syn, true}), Status::ok);
  ASSERT_EQ(host_.alerts.size(), 1u);
  EXPECT_EQ(host_.alerts[0], "alert: id = = <>\n\tdescription = dropped\n\ttargets = {\n\t\tservice: tcp, 8000\n\t}\n");
  ASSERT_EQ(host_.packet_calls.size(), 1u);
  EXPECT_EQ(host_.packet_calls[0].first, syn);
  EXPECT_EQ(host_.logs[0], "debug external: enter 22");
}

TEST_F(FlowTest, SlotsRunOut) {
  RuntimeConfig cfg;
  cfg.max_flows = 2;
  Runtime& rt = load("-- none\n", cfg);
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  FlowRef b = rt.open_flow(flow_info(), nullptr);
  FlowRef c = rt.open_flow(flow_info(), nullptr);
  EXPECT_TRUE(rt.valid(a));
  EXPECT_TRUE(rt.valid(b));
  EXPECT_FALSE(rt.valid(c));
  EXPECT_EQ(rt.counters().flows_refused, 1u);
  EXPECT_EQ(rt.close_flow(a), Status::ok);
  EXPECT_TRUE(rt.valid(rt.open_flow(flow_info(), nullptr)));
}

} // namespace
} // namespace haka::lua::test

#include "haka_config.h"

namespace haka::lua::test {
namespace {

using SampleTest = LuaTest;

TEST_F(SampleTest, SeedTcpRuleSetRunsUnchanged) {
  std::string err;
  RuntimeConfig cfg;
  cfg.rule_files.push_back(std::string(HAKA_DPDK_SOURCE_LUA_DIR) + "/samples/tcp/rules.lua");
  cfg.pool = pool_.get();
  cfg.max_flows = 8;
  rt_ = Runtime::create(cfg, host_, err);
  ASSERT_NE(rt_, nullptr) << err;
  Runtime& rt = *rt_;
  EXPECT_TRUE(rt.wants(Event::new_connection));
  EXPECT_TRUE(rt.wants(Event::tcp_receive_packet));
  FlowInfo https = flow_info();
  https.dstport = 443;
  https.srcport = 52110;
  FlowRef a = rt.open_flow(https, nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(0x02, "", 52110, 443), true}), Status::ok);
  FlowRef b = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(b, PacketRef{packet(0x02, "", 50706, 80), true}), Status::ok);
  EXPECT_EQ(host_.all_logs(),
            "debug core: rejected policy authorizing http traffic for new connection\n"
            "debug core: rejected policy authorizing ssh traffic (no available dissector) for new connection\n"
            "debug core: applying policy drop by default for new connection\n"
            "debug core: rejected policy authorizing ssh traffic (no available dissector) for new connection\n"
            "debug core: applying policy authorizing http traffic for new connection\n");
  ASSERT_EQ(host_.flow_calls.size(), 1u);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::drop);
  ASSERT_EQ(host_.alerts.size(), 1u);
  EXPECT_EQ(host_.alerts[0],
            "alert: id = = <>\n\tdescription = drop by default\n"
            "\tsources = {\n\t\taddress: 192.168.10.1\n\t\tservice: tcp/52110\n\t}\n"
            "\ttargets = {\n\t\taddress: 192.168.20.1\n\t\tservice: tcp/443\n\t}\n");
  rte_mbuf* xmas = packet(0x01 | 0x08 | 0x20);
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{xmas, true}, false), Status::ok);
  ASSERT_EQ(host_.alerts.size(), 2u);
  EXPECT_EQ(host_.alerts[1],
            "alert: id = = <>\n\tdescription = Xmas attack detected\n"
            "\tsources = {\n\t\taddress: 192.168.10.1\n\t}\n\ttargets = {\n\t\taddress: 192.168.20.1\n\t}\n");
  ASSERT_EQ(host_.packet_calls.size(), 1u);
  EXPECT_EQ(host_.packet_calls[0].second, PacketAction::drop);
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using Ipv6Test = LuaTest;

TEST_F(Ipv6Test, FlowsAndPacketsOverIpv6) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_packet, eval = function (flow, pkt, dir)\n"
                     "  print(tostring(flow.srcip), tostring(flow.dstip), tostring(pkt.src), tostring(pkt.dst),\n"
                     "        pkt.dstport, pkt:verify_checksum(), pkt.src == flow.srcip, pkt.ip.version)\n"
                     "end }\n"
                     "print(tostring(haka.dissectors.ipv6.addr(string.rep('\\0', 16))),\n"
                     "      tostring(haka.dissectors.ipv6.addr('\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\1')),\n"
                     "      tostring(haka.dissectors.ipv6.addr('\\32\\1\\0\\0\\0\\0\\0\\1\\0\\0\\0\\0\\0\\0\\0\\0')))\n");
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], ":: ::1 2001:0:0:1::");
  FlowInfo info;
  info.ipv6 = true;
  const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::copy(s6, s6 + 16, info.src6);
  std::copy(d6, d6 + 16, info.dst6);
  info.srcport = 40000;
  info.dstport = 443;
  FlowRef f = rt.open_flow(info, nullptr);
  net::TcpEndpoints ep;
  ep.l3 = net::L3Kind::ipv6;
  std::copy(s6, s6 + 16, ep.src);
  std::copy(d6, d6 + 16, ep.dst);
  ep.sport = 40000;
  ep.dport = 443;
  net::TcpSegmentSpec seg;
  seg.flags = 0x10;
  const uint8_t pl[3] = {1, 2, 3};
  seg.payload = pl;
  rte_mbuf* m = net::forge_tcp(mp_, net::LinkType::ethernet, ep, seg);
  ASSERT_NE(m, nullptr);
  mbufs_.push_back(m);
  net::DecodeConfig dc;
  ASSERT_EQ(net::decode(m, dc), net::DecodeOutcome::tcp);
  EXPECT_EQ(rt.on_receive_packet(f, PacketRef{m, true}, tcp::Dir::up), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 2u);
  EXPECT_EQ(host_.prints[1], "2001:db8::1 2001:db8::2 2001:db8::1 2001:db8::2 443 true true 6");
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

// A host that fires end_connection from inside flow_action(drop), as an engine
// might: the nested dispatch must work and leave the outer one intact.
class ReentrantHost : public FakeHost {
public:
  Runtime* rt = nullptr;
  FlowRef flow;
  void flow_action(void* cookie, FlowAction action, bool has_dir, tcp::Dir dir) override {
    FakeHost::flow_action(cookie, action, has_dir, dir);
    if (action == FlowAction::drop) nested = rt->on_end_connection(flow);
  }
  Status nested = Status::error;
};

TEST(Reentrancy, HostMayDispatchFromACallback) {
  haka::test::init_eal_once();
  ReentrantHost host;
  char tmpl[] = "/tmp/haka-lua-reent-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/rules.lua";
  std::ofstream(path) << "local tc = require('protocol/tcp_connection')\n"
                         "local g = haka.rule_group{ on = tc.events.receive_packet,\n"
                         "  continue = function () return true end }\n"
                         "g:rule{ eval = function (flow) flow:drop() end }\n"
                         "g:rule{ eval = function (flow) print('not reached') end }\n"
                         "haka.rule{ on = tc.events.end_connection, eval = function (flow) print('end', flow.dstport) end }\n";
  RuntimeConfig cfg;
  cfg.rule_files = {path};
  cfg.max_flows = 4;
  std::string err;
  auto rt = Runtime::create(cfg, host, err);
  ASSERT_NE(rt, nullptr) << err;
  host.rt = rt.get();
  host.flow = rt->open_flow(FlowInfo{1, 2, 3, 4}, nullptr);
  rte_mempool* mp = haka::test::make_pool("lua_reent", 64);
  net::TcpEndpoints ep;
  ep.sport = 3;
  ep.dport = 4;
  net::TcpSegmentSpec seg;
  seg.flags = 0x10;
  rte_mbuf* m = net::forge_tcp(mp, net::LinkType::ethernet, ep, seg);
  ASSERT_NE(m, nullptr);
  net::DecodeConfig dc;
  dc.verify_tcp_checksum = false;
  net::decode(m, dc);
  // The group stops after the drop (continue sees the outer flow dropped),
  // the nested end_connection ran in between.
  EXPECT_EQ(rt->on_receive_packet(host.flow, PacketRef{m, true}, tcp::Dir::up), Status::ok) << host.all_logs();
  EXPECT_EQ(host.nested, Status::ok);
  ASSERT_EQ(host.prints.size(), 1u) << host.all_logs();
  EXPECT_EQ(host.prints[0], "end 4");
  rte_pktmbuf_free(m);
  rt.reset();
  std::string cmd = "rm -rf " + dir;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// A host that runs another connection's end_connection from inside
// flow_action(send): that nested dispatch drops its own flow and raises; the
// outer dispatch must get its own flow state back (the runtime restores it
// after a nested call, returned or raised).
class SendReentrantHost : public FakeHost {
public:
  Runtime* rt = nullptr;
  FlowRef other;
  void flow_action(void* cookie, FlowAction action, bool has_dir, tcp::Dir dir) override {
    FakeHost::flow_action(cookie, action, has_dir, dir);
    if (action == FlowAction::send) nested = rt->on_end_connection(other);
  }
  Status nested = Status::ok;
};

TEST(Reentrancy, NestedErrorLeavesTheOuterFlowState) {
  haka::test::init_eal_once();
  SendReentrantHost host;
  char tmpl[] = "/tmp/haka-lua-reent-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/rules.lua";
  std::ofstream(path) << "local tc = require('protocol/tcp_connection')\n"
                         "local g = haka.rule_group{ on = tc.events.receive_packet,\n"
                         "  continue = function () return true end }\n"
                         "g:rule{ eval = function (flow) flow:send('up') end }\n"
                         "g:rule{ eval = function (flow) print('reached', flow.dstport) end }\n"
                         "haka.rule{ on = tc.events.end_connection,\n"
                         "  eval = function (flow) flow:drop() error('inner') end }\n";
  RuntimeConfig cfg;
  cfg.rule_files = {path};
  cfg.max_flows = 4;
  std::string err;
  auto rt = Runtime::create(cfg, host, err);
  ASSERT_NE(rt, nullptr) << err;
  host.rt = rt.get();
  FlowRef outer = rt->open_flow(FlowInfo{1, 2, 3, 4}, nullptr);
  host.other = rt->open_flow(FlowInfo{1, 2, 5, 6}, nullptr);
  rte_mempool* mp = haka::test::make_pool("lua_reent2", 64);
  net::TcpEndpoints ep;
  ep.sport = 3;
  ep.dport = 4;
  net::TcpSegmentSpec seg;
  seg.flags = 0x10;
  rte_mbuf* m = net::forge_tcp(mp, net::LinkType::ethernet, ep, seg);
  ASSERT_NE(m, nullptr);
  net::DecodeConfig dc;
  dc.verify_tcp_checksum = false;
  net::decode(m, dc);
  EXPECT_EQ(rt->on_receive_packet(outer, PacketRef{m, true}, tcp::Dir::up), Status::ok) << host.all_logs();
  EXPECT_EQ(host.nested, Status::error);
  EXPECT_NE(host.all_logs().find("rules.lua:7: inner"), std::string::npos) << host.all_logs();
  ASSERT_EQ(host.prints.size(), 1u) << host.all_logs();
  EXPECT_EQ(host.prints[0], "reached 4");
  EXPECT_EQ(rt->counters().errors, 1u);
  rte_pktmbuf_free(m);
  rt.reset();
  std::string cmd = "rm -rf " + dir;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

} // namespace
} // namespace haka::lua::test
