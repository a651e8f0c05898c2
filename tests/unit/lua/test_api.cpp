// The rest of the Lua API, function by function, with error cases: iterator
// and sub methods on rule-made buffers, policy criteria and actions.
#include "lua_test_util.hpp"

namespace haka::lua::test {
namespace {

using ApiTest = LuaTest;

TEST_F(ApiTest, IteratorMethods) {
  load("local b = haka.vbuffer_from('0123456789')\n"
       "local it = b:pos('begin')\n"
       "print(it:check_available(4), it:check_available(40))\n"
       "print(it:advance(3), it.meter, it:available())\n"
       "local c = it:copy(); c:advance('all'); print(c.iseof, c:available(), c.meter)\n"
       "it.meter = 100; print(it.meter)\n"
       "local e = b:pos('end'); print(e:available(), e.iseof)\n"
       "c:move_to(it); print(c:available(), c.meter)\n"
       "it:split(); print(it:available(), #b)\n"
       "local parts = {}\n"
       "for s in it:foreach_available() do parts[#parts+1] = s:asstring() end\n"
       "print(table.concat(parts, '|'))\n"
       "print(it:wait())\n"
       "local m = b:pos(2); m:mark(); print(pcall(function () b:pos(3):unmark() end)); m:unmark()\n"
       "print(pcall(function () return it.nosuch end))\n"
       "print(b:pos(5):sub('available'):asstring(), b:pos(10):sub('available'))\n");
  ASSERT_EQ(host_.prints.size(), 12u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "true false 10");
  EXPECT_EQ(host_.prints[1], "3 3 7");
  EXPECT_EQ(host_.prints[2], "true 0 10");
  EXPECT_EQ(host_.prints[3], "100");
  EXPECT_EQ(host_.prints[4], "0 true");
  EXPECT_EQ(host_.prints[5], "7 100");
  EXPECT_EQ(host_.prints[6], "7 10");
  EXPECT_EQ(host_.prints[7], "3456789");
  EXPECT_EQ(host_.prints[8], "true"); // a plain iterator's wait() is iseof
  EXPECT_EQ(host_.prints[9], "false iterator is not a mark");
  EXPECT_NE(host_.prints[10].find("unknown field 'nosuch' of vbuffer_iterator"), std::string::npos);
  EXPECT_EQ(host_.prints[11], "56789 nil");
}

TEST_F(ApiTest, SubMethods) {
  load("local b = haka.vbuffer_from('abcdef')\n"
       "local s = b:sub(1, 4)\n"
       "print(#s, s:size(), s:asstring(), s[1], s:isflat(), s:flatten())\n"
       "s:replace(haka.vbuffer_from('XY'))\n"
       "print(b:asstring(), s:asstring())\n"
       "b:sub(0, 1):setbits(0, 4, 0xf)\n"
       "print(b[1], b:sub(0, 1):asbits(4, 4), b:sub(0, 2):asbits(4, 8))\n"
       "print(pcall(function () b:sub(0, 1):asbits(0, 80) end))\n"
       "print(pcall(function () return b:sub(0, 9):asnumber() end))\n"
       "print(pcall(function () return s.nosuch end))\n"
       "print(pcall(function () s:asnumber('middle') end))\n"
       "local c = b:sub(0, 2):clone(); c[1] = 0x41; print(c:asstring(), b:sub(0, 1):asstring() ~= 'A')\n"
       "print(b.modified)\n");
  ASSERT_EQ(host_.prints.size(), 9u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "4 4 bcde 98 true bcde");
  EXPECT_EQ(host_.prints[1], "aXYf XY");
  EXPECT_EQ(host_.prints[2], "241 1 21");
  EXPECT_NE(host_.prints[3].find("false"), std::string::npos);
  EXPECT_NE(host_.prints[4].find("false"), std::string::npos);
  EXPECT_NE(host_.prints[5].find("unknown field 'nosuch' of vbuffer_sub"), std::string::npos);
  EXPECT_NE(host_.prints[6].find("invalid endian: middle"), std::string::npos);
  EXPECT_EQ(host_.prints[7], "AX true");
  EXPECT_EQ(host_.prints[8], "true");
}

TEST_F(ApiTest, PolicyCriteriaAndActions) {
  load("local p = haka.policy.new('test')\n"
       "local hits = {}\n"
       "local function mark(name) return function () hits[#hits+1] = name end end\n"
       "haka.policy{ on = p, name = 'set', port = haka.policy.set{ 1, 2 }, action = mark('set') }\n"
       "haka.policy{ on = p, name = 'range', port = haka.policy.range(10, 20), action = mark('range') }\n"
       "haka.policy{ on = p, name = 'out', port = haka.policy.outofrange(0, 100), action = mark('out') }\n"
       "haka.policy{ on = p, name = 'absent', port = haka.policy.absent(), action = mark('absent') }\n"
       "haka.policy{ on = p, name = 'present+eq', port = haka.policy.present(), proto = 'x', action = { mark('eq1'), mark('eq2') } }\n"
       "for _, v in ipairs { {port = 1}, {port = 15}, {port = 500}, {}, {port = 50}, {port = 50, proto = 'x'} } do\n"
       "  hits = {}\n"
       "  p:apply{ ctx = {}, values = v }\n"
       "  print(table.concat(hits, ','))\n"
       "end\n"
       "print(pcall(haka.policy, { on = p, action = 3 }))\n"
       "print(pcall(haka.policy, { on = {}, action = haka.policy.accept }))\n"
       "print(pcall(haka.policy.range, 5, 1))\n"
       "local q = haka.policy.new('logged')\n"
       "haka.policy{ on = q, action = haka.policy.log(haka.log.info, 'policy said %d', 7) }\n"
       "q:apply{ ctx = {} }\n");
  ASSERT_EQ(host_.prints.size(), 9u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "set");
  EXPECT_EQ(host_.prints[1], "range");
  EXPECT_EQ(host_.prints[2], "out");
  EXPECT_EQ(host_.prints[3], "absent");
  EXPECT_EQ(host_.prints[4], "");
  EXPECT_EQ(host_.prints[5], "eq1,eq2");
  EXPECT_NE(host_.prints[6].find("policy action must be a function"), std::string::npos);
  EXPECT_NE(host_.prints[7].find("policy on must be a Policy"), std::string::npos);
  EXPECT_NE(host_.prints[8].find("invalid bounds"), std::string::npos);
  EXPECT_NE(host_.all_logs().find("info external: policy said 7"), std::string::npos) << host_.all_logs();
}

TEST_F(ApiTest, RuleGroupErrors) {
  EXPECT_NE(load_error("haka.rule_group{ name = 'g' }\n").find("rules.lua:1: no event defined for rule group"),
            std::string::npos);
  EXPECT_NE(load_error("local tc = require('protocol/tcp_connection')\n"
                       "haka.rule_group{ on = tc.events.new_connection, init = 3 }\n")
                .find("rules.lua:2: rule group init function expected"),
            std::string::npos);
  EXPECT_NE(load_error("local tc = require('protocol/tcp_connection')\n"
                       "local g = haka.rule_group{ on = tc.events.new_connection }\n"
                       "g:rule{ eval = 'no' }\n")
                .find("rules.lua:3: rule eval function expected"),
            std::string::npos);
  EXPECT_NE(load_error("haka.dissector.new{ name = 'x' }\n").find("no type defined for dissector 'x'"),
            std::string::npos);
  EXPECT_NE(load_error("local tc = require('protocol/tcp_connection')\n"
                       "haka.dissector.new{ type = tc.helper.TcpFlowDissector, name = 'tcp' }\n")
                .find("dissector 'tcp' already defined"),
            std::string::npos);
}

TEST_F(ApiTest, BufferSlotsAreReclaimedByTheGc) {
  RuntimeConfig cfg;
  cfg.max_buffers = 16;
  load("for i = 1, 1000 do local b = haka.vbuffer_from('x'); if i % 8 == 0 then collectgarbage() end end\n"
       "local keep = {}\n"
       "print(pcall(function () for i = 1, 100 do keep[i] = haka.vbuffer_allocate(1) end end))\n",
       cfg);
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "false too many buffers alive");
}

} // namespace
} // namespace haka::lua::test
