// Loading rule files: errors with file:line, rule arguments, wants(), logs,
// alerts, policies' definitions, the instruction bound.
#include "lua_test_util.hpp"

namespace haka::lua::test {
namespace {

using LoadTest = LuaTest;

TEST_F(LoadTest, MissingFileIsRefused) {
  std::string err;
  RuntimeConfig cfg;
  cfg.rule_files.push_back(dir_ + "/nope.lua");
  cfg.pool = pool_.get();
  cfg.max_flows = 8;
  EXPECT_EQ(Runtime::create(cfg, host_, err), nullptr);
  EXPECT_NE(err.find("nope.lua"), std::string::npos) << err;
}

TEST_F(LoadTest, SyntaxErrorNamesFileAndLine) {
  std::string err = load_error("local x = 1\nlocal y = = 2\n");
  EXPECT_NE(err.find("rules.lua:2:"), std::string::npos) << err;
}

TEST_F(LoadTest, RuntimeErrorAtLoadNamesFileAndLine) {
  std::string err = load_error("local x = 1\n\nerror('boom')\n");
  EXPECT_NE(err.find("rules.lua:3: boom"), std::string::npos) << err;
}

TEST_F(LoadTest, BadRuleArgumentsNameTheRuleLine) {
  std::string err = load_error("local tcp = require('protocol/tcp')\nhaka.rule{ on = tcp.events.receive_packet }\n");
  EXPECT_NE(err.find("rules.lua:2:"), std::string::npos) << err;
  EXPECT_NE(err.find("eval function expected"), std::string::npos) << err;
  err = load_error("haka.rule{ eval = function () end }\n");
  EXPECT_NE(err.find("rules.lua:1: no event defined"), std::string::npos) << err;
  err = load_error("haka.rule{ on = 3, eval = function () end }\n");
  EXPECT_NE(err.find("must bind on an event"), std::string::npos) << err;
  err = load_error("local tcp = require('protocol/tcp')\n"
                   "haka.rule{ on = tcp.events.receive_packet, options = {streamed = true}, eval = function () end }\n");
  EXPECT_NE(err.find("rules.lua:2:"), std::string::npos) << err;
  EXPECT_NE(err.find("streamed"), std::string::npos) << err;
}

TEST_F(LoadTest, ApiErrorsAreReportedAtTheRuleLine) {
  std::string err = load_error("local b = haka.vbuffer_from('abc')\n\nlocal s = b:sub(2, 5)\n");
  EXPECT_NE(err.find("rules.lua:3: invalid buffer end"), std::string::npos) << err;
}

TEST_F(LoadTest, WantsOnlyEventsWithListeners) {
  Runtime& rt = load("local tcp = require('protocol/tcp')\n"
                     "haka.rule{ hook = tcp.events.receive_packet, eval = function (p) end }\n");
  EXPECT_TRUE(rt.wants(Event::tcp_receive_packet));
  EXPECT_FALSE(rt.wants(Event::tcp_send_packet));
  EXPECT_FALSE(rt.wants(Event::new_connection));
  EXPECT_FALSE(rt.wants(Event::receive_data));
  EXPECT_FALSE(rt.wants(Event::end_connection));
  EXPECT_FALSE(rt.has_streamed());
}

TEST_F(LoadTest, NewConnectionPolicyEntryMakesTheEventWanted) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.policy{ on = tc.policies.new_connection, name = 'x', action = haka.policy.drop }\n");
  EXPECT_TRUE(rt.wants(Event::new_connection));
  EXPECT_FALSE(rt.wants(Event::receive_packet));
}

TEST_F(LoadTest, LogLevelsAndSections) {
  load("haka.log('plain %d', 1)\n"
       "haka.log.debug('d %s', 'x')\n"
       "haka.log.info('i')\n"
       "haka.log.warning('w')\n"
       "haka.log.error('e')\n"
       "haka.log_section('mine').info('m %d', 2)\n"
       "print('a', 1, nil)\n");
  ASSERT_EQ(host_.logs.size(), 6u) << host_.all_logs();
  EXPECT_EQ(host_.logs[0], "info external: plain 1");
  EXPECT_EQ(host_.logs[1], "debug external: d x");
  EXPECT_EQ(host_.logs[2], "info external: i");
  EXPECT_EQ(host_.logs[3], "warning external: w");
  EXPECT_EQ(host_.logs[4], "error external: e");
  EXPECT_EQ(host_.logs[5], "info mine: m 2");
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "a 1 nil");
}

TEST_F(LoadTest, AlertInHakaLayout) {
  load("require('protocol/ipv4')\n"
       "haka.alert{ description = 'Xmas', severity = 'high',\n"
       "  sources = haka.alert.address(ipv4.addr('192.168.10.1')),\n"
       "  targets = { haka.alert.address(ipv4.addr('10.0.0.1')), haka.alert.service('tcp', 8000) } }\n"
       "haka.alert{ description = 'bare' }\n");
  ASSERT_EQ(host_.alerts.size(), 2u);
  EXPECT_EQ(host_.alerts[0],
            "alert: id = = <>\n\tseverity = high\n\tdescription = Xmas\n"
            "\tsources = {\n\t\taddress: 192.168.10.1\n\t}\n"
            "\ttargets = {\n\t\taddress: 10.0.0.1\n\t\tservice: tcp, 8000\n\t}\n");
  EXPECT_EQ(host_.alerts[1], "alert: id = = <>\n\tdescription = bare\n");
  EXPECT_NE(load_error("haka.alert('x')\n").find("rules.lua:1: alert parameter must be a table"), std::string::npos);
}

TEST_F(LoadTest, Ipv4AddressesAndNetworks) {
  load("local a = ipv4.addr('192.168.10.7')\n"
       "print(tostring(a), a == ipv4.addr(192,168,10,7), a < ipv4.addr('192.168.10.8'))\n"
       "local n = ipv4.network('192.168.10.0/25')\n"
       "print(n:contains(a), n:contains(ipv4.addr('192.168.10.200')), tostring(n))\n"
       "print(tostring(ipv4.addr(0xffffffff)))\n"
       "print(pcall(ipv4.addr, '300.1.1.1'))\n",
       RuntimeConfig{});
  ASSERT_EQ(host_.prints.size(), 4u);
  EXPECT_EQ(host_.prints[0], "192.168.10.7 true true");
  EXPECT_EQ(host_.prints[1], "true false 192.168.10.0/25");
  EXPECT_EQ(host_.prints[2], "255.255.255.255");
  EXPECT_NE(host_.prints[3].find("false"), std::string::npos);
}

TEST_F(LoadTest, RulesMayRequireFilesNextToThem) {
  write("helper.lua", "return { answer = 42 }\n");
  load("local h = require('helper')\nprint(h.answer)\n");
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "42");
}

TEST_F(LoadTest, InfiniteLoopAtLoadIsBounded) {
  std::string err;
  RuntimeConfig cfg;
  cfg.rule_files.push_back(write("rules.lua", "local n = 0\nwhile true do n = n + 1 end\n"));
  cfg.pool = pool_.get();
  cfg.max_flows = 8;
  cfg.instruction_limit = 1'000'000;
  EXPECT_EQ(Runtime::create(cfg, host_, err), nullptr);
  EXPECT_NE(err.find("rules.lua:2: instruction limit exceeded"), std::string::npos) << err;
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

TEST(AlertJson, OneObjectPerLineWithEscapes) {
  AlertItem src[] = {{AlertItem::Kind::address, "10.0.0.1"}, {AlertItem::Kind::service, "tcp/80"}};
  AlertInfo a;
  a.time_ns = 42;
  a.severity = "low";
  a.description = "say \"hi\"\n";
  a.sources = src;
  EXPECT_EQ(format_alert_json(a, 7),
            "{\"id\":7,\"time_ns\":42,\"severity\":\"low\",\"description\":\"say \\\"hi\\\"\\u000a\","
            "\"sources\":[{\"address\":\"10.0.0.1\"},{\"service\":\"tcp/80\"}]}\n");
}

} // namespace
} // namespace haka::lua::test
