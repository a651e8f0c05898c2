// receive_data: plain subs of the new bytes, edits, streamed coroutines with
// iter:wait(), end of stream, vbuffers made by rules.
#include "lua_test_util.hpp"

namespace haka::lua::test {
namespace {


TEST_F(StreamTest, PlainRuleGetsTheNewBytes) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data, dir)\n"
                     "  haka.log.debug('received stream len=%d', #data)\n"
                     "  print(dir, data:asstring(), data[1], data:sub(1, 2):asstring())\n"
                     "end }\n");
  EXPECT_TRUE(rt.wants(Event::receive_data));
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "hello"), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, f, "world", tcp::Dir::down), Status::ok);
  ASSERT_EQ(host_.prints.size(), 2u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "up hello 104 el");
  EXPECT_EQ(host_.prints[1], "down world 119 or");
  EXPECT_EQ(host_.logs[0], "debug external: received stream len=5");
}

TEST_F(StreamTest, NoNewBytesNoCall) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data) print('called') end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  uint64_t calls = rt.counters().calls;
  EXPECT_EQ(data(rt, f, ""), Status::ok);
  EXPECT_EQ(rt.counters().calls, calls);
  EXPECT_TRUE(host_.prints.empty());
}

TEST_F(StreamTest, InsertAndEraseReachTheBytesThatLeave) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  local current = data:pos('begin')\n"
                     "  current:advance(2)\n"
                     "  local b = haka.vbuffer_allocate(4)\n"
                     "  b[1] = 0x48; b[2] = 0x61; b[3] = 0x6b; b[4] = 0x61\n"
                     "  current:insert(b)\n"
                     "  current:sub(2, true):erase()\n"
                     "  print(current:available(), current:sub(10):asstring())\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "0123456789"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "6 456789");
  EXPECT_EQ(pop_all(tcp::Dir::up), "01Haka456789");
}

TEST_F(StreamTest, SubApiNumbersBitsAndErrors) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  print(data:sub(0, 2):asnumber(), data:sub(0, 2):asnumber('little'), data:sub(0, 1):asbits(0, 4))\n"
                     "  data:sub(0, 1):setnumber(0x41)\n"
                     "  data:sub(1, 1):setfixedstring('B')\n"
                     "  print(data:asstring(), data:isflat(), #data)\n"
                     "  print(pcall(function () return data:sub(3, 10) end))\n"
                     "  print(pcall(function () data:sub(0, 1):setnumber(300) end))\n"
                     "  data:sub(2, 2):setstring('xyz')\n"
                     "  data:sub(0, 1):zero()\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "\x01\x02zz"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 4u);
  EXPECT_EQ(host_.prints[0], "258 513 0");
  EXPECT_EQ(host_.prints[1], "ABzz true 4");
  EXPECT_EQ(host_.prints[2], "false invalid buffer end");
  EXPECT_EQ(host_.prints[3], "false invalid number, value does not fit");
  EXPECT_EQ(pop_all(tcp::Dir::up), std::string("\0Bxyz", 5));
}

TEST_F(StreamTest, PassThroughBytesAreReadOnly) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  data:sub(0, 1):erase()\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  rte_mbuf* m = packet(kAck, "abc");
  vbuffer::Iterator cur;
  ASSERT_EQ(stream_[0].push(m, net::meta(m).payload_offset, 3, m, &cur), vbuffer::Error::ok);
  // What the engine does in pass-through: the pushed chunks are not writable.
  for (vbuffer::Chunk* c = stream_[0].data().sentinel()->next; c != stream_[0].data().sentinel(); c = c->next)
    c->flags &= static_cast<uint8_t>(~vbuffer::chunk_flag::writable);
  EXPECT_EQ(rt.on_receive_data(f, tcp::Dir::up, stream_[0], cur, false), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:3: read only buffer"), std::string::npos) << host_.all_logs();
}

TEST_F(StreamTest, StreamedRuleWaitsAcrossPacketsAndSeesEnd) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    print('start', dir)\n"
                     "    while iter:wait() do\n"
                     "      local s = iter:sub('available')\n"
                     "      print('got', s:asstring(), iter.meter)\n"
                     "    end\n"
                     "    print('end')\n"
                     "  end }\n");
  EXPECT_TRUE(rt.has_streamed());
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up); // the packet leaves: the waiting rule holds nothing
  EXPECT_EQ(data(rt, f, "de"), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, f, "f", tcp::Dir::up, true), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 5u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "start up");
  EXPECT_EQ(host_.prints[1], "got abc 3");
  EXPECT_EQ(host_.prints[2], "got de 5");
  EXPECT_EQ(host_.prints[3], "got f 6");
  EXPECT_EQ(host_.prints[4], "end");
  // A finished coroutine is never called again.
  EXPECT_EQ(rt.close_flow(f, &stream_[0], &stream_[1]), Status::ok);
  EXPECT_EQ(host_.prints.size(), 5u);
}

TEST_F(StreamTest, StreamedSubWaitsForTheBytesItNeeds) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    local m = iter:copy()\n"
                     "    m:mark()\n"
                     "    local s = iter:sub(6)\n"
                     "    print('six', s:asstring())\n"
                     "    m:unmark()\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::ok) << host_.all_logs();
  EXPECT_TRUE(host_.prints.empty());
  EXPECT_EQ(pop_all(tcp::Dir::up), ""); // held by the mark
  EXPECT_EQ(data(rt, f, "defg"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "six abcdef");
  EXPECT_EQ(pop_all(tcp::Dir::up), "abcdefg");
}

TEST_F(StreamTest, CloseGivesWaitingRulesEndOfStream) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    while iter:wait() do iter:advance('available') end\n"
                     "    print('end', dir)\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::ok);
  EXPECT_EQ(data(rt, f, "xyz", tcp::Dir::down), Status::ok);
  pop_all(tcp::Dir::up);
  EXPECT_EQ(rt.close_flow(f, &stream_[0], &stream_[1]), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 2u);
  std::sort(host_.prints.begin(), host_.prints.end());
  EXPECT_EQ(host_.prints[0], "end down");
  EXPECT_EQ(host_.prints[1], "end up");
}

TEST_F(StreamTest, ErrorInStreamedRuleNamesItsLine) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    iter:wait()\n"
                     "    iter:advance('available')\n"
                     "    iter:wait()\n"
                     "    error('late failure')\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, f, "d"), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:7: late failure"), std::string::npos) << host_.all_logs();
}

TEST_F(StreamTest, InfiniteLoopInStreamedRuleIsBounded) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 1'000'000;
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    while true do iter:available() end\n"
                     "  end }\n",
                     cfg);
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::limit);
  EXPECT_EQ(rt.counters().limits, 1u);
}

// A plain rule without loops is called directly from the dispatcher (its
// traces inline the rule): no fallback to the C-frame call in 1,000 events.
TEST_F(StreamTest, LoopFreePlainRuleStaysInlined) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local n, calls = 0, 0\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  n = n + #data\n"
                     "  calls = calls + 1\n"
                     "  if calls == 1000 then print(n, haka._inline_fallbacks()) end\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(data(rt, f, "abc"), Status::ok) << host_.all_logs();
    pop_all(tcp::Dir::up);
  }
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "3000 0");
}

// A plain rule whose helper loops: a dispatcher trace recording into the
// loop aborts, the dispatcher then calls rules through __haka_call (once,
// counted); every event still runs, results are the same, and a later
// endless loop in the same helper still ends at the instruction bound.
TEST_F(StreamTest, RuleReachingALoopFallsBackToTheCFrameCall) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 1'000'000;
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local n, calls = 0, 0\n"
                     "local function count(data, times)\n"
                     "  local k = 0\n"
                     "  while k < times do n = n + #data k = k + 1 end\n"
                     "end\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  calls = calls + 1\n"
                     "  count(data, calls == 1001 and math.huge or 2)\n"
                     "  if calls == 1000 then print(n, haka._inline_fallbacks()) end\n"
                     "end }\n",
                     cfg);
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(data(rt, f, "abc"), Status::ok) << host_.all_logs();
    pop_all(tcp::Dir::up);
  }
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "6000 1");
  EXPECT_EQ(data(rt, f, "abc"), Status::limit);
  EXPECT_EQ(rt.counters().limits, 1u);
}

TEST_F(StreamTest, KeptSubIsStaleOnceItsBytesLeft) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "kept = nil\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  if kept then print(pcall(function () return kept:asstring() end)) end\n"
                     "  kept = data\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abc"), Status::ok);
  EXPECT_EQ(pop_all(tcp::Dir::up), "abc");
  EXPECT_EQ(data(rt, f, "def"), Status::ok);
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "false invalid buffer iterator");
}

TEST_F(StreamTest, BuffersMadeByRules) {
  load("local b = haka.vbuffer_from('hello')\n"
       "print(#b, b:asstring(), b[1], b:sub(1, 3):asstring())\n"
       "b:append(haka.vbuffer_from(' world'))\n"
       "print(b:asstring(), #b)\n"
       "local c = b:clone()\n"
       "c[1] = 0x48\n"
       "print(c:asstring(), b:asstring())\n"
       "local it = b:pos('begin')\n"
       "it:advance(6)\n"
       "print(it:sub(5):asstring(), it:available())\n"
       "local z = haka.vbuffer_allocate(3)\n"
       "print(z[1], z[3], #z)\n"
       "print(pcall(function () return b:sub(20) end))\n");
  ASSERT_EQ(host_.prints.size(), 6u);
  EXPECT_EQ(host_.prints[0], "5 hello 104 ell");
  EXPECT_EQ(host_.prints[1], "hello world 11");
  EXPECT_EQ(host_.prints[2], "Hello world hello world");
  EXPECT_EQ(host_.prints[3], "world 0");
  EXPECT_EQ(host_.prints[4], "0 0 3");
  EXPECT_EQ(host_.prints[5], "false invalid buffer end");
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

class DissectorTest : public StreamTest {};

TEST_F(DissectorTest, LineDissectorFiresItsEventsAcrossSegments) {
  Runtime& rt = load("local line = require('protocol/line')\n"
                     "line.install_tcp_rule(80)\n"
                     "haka.rule{ on = line.events.receive_line, eval = function (d, text, dir)\n"
                     "  print(dir, text, d.state, d.flow.dstport)\n"
                     "end }\n");
  EXPECT_TRUE(rt.wants(Event::new_connection));
  EXPECT_TRUE(rt.wants(Event::receive_data));
  EXPECT_TRUE(rt.has_streamed());
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{packet(0x02), true}), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, f, "HELO a\r\nMAIL"), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up);
  EXPECT_EQ(data(rt, f, " FROM x\nQU"), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, f, "250 ok\n", tcp::Dir::down), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 3u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "up HELO a reading 80");
  EXPECT_EQ(host_.prints[1], "up MAIL FROM x reading 80");
  EXPECT_EQ(host_.prints[2], "down 250 ok reading 80");
}

TEST_F(DissectorTest, OtherPortsAreNotDissected) {
  Runtime& rt = load("local line = require('protocol/line')\n"
                     "line.install_tcp_rule(25)\n"
                     "haka.rule{ on = line.events.receive_line, eval = function (d, text) print(text) end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{packet(0x02), true}), Status::ok);
  EXPECT_EQ(data(rt, f, "x\n"), Status::ok);
  EXPECT_TRUE(host_.prints.empty());
}

TEST_F(DissectorTest, OverlongLineDropsTheConnection) {
  Runtime& rt = load("local line = require('protocol/line')\n"
                     "line.class.max_line = 8\n"
                     "haka.rule{ on = haka.dissectors.tcp_connection.events.new_connection,\n"
                     "  eval = function (flow) line.dissect(flow) end }\n"
                     "haka.rule{ on = line.events.line_too_long, eval = function (d, dir) print('too long', dir, d.state) end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{packet(0x02), true}), Status::ok);
  EXPECT_EQ(data(rt, f, "0123456789abc"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "too long up reading");
  ASSERT_EQ(host_.flow_calls.size(), 1u);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::drop);
}

TEST_F(DissectorTest, StateMachineBasics) {
  load("local sm = haka.state_machine.new('t', function ()\n"
       "  state_type{ events = { 'go', 'stop' } }\n"
       "  a = state(); b = state()\n"
       "  a:on{ event = events.enter, execute = function (o) o.log[#o.log+1] = 'enter a' end }\n"
       "  a:on{ event = events.go, when = function (o, n) return n > 1 end, execute = function (o) o.log[#o.log+1] = 'go' end, jump = b }\n"
       "  a:on{ event = events.go, execute = function (o) o.log[#o.log+1] = 'small' end }\n"
       "  b:on{ event = events.leave, execute = function (o) o.log[#o.log+1] = 'leave b' end }\n"
       "  any:on{ event = events.stop, jump = finish }\n"
       "  b:on{ event = events.finish, execute = function (o) o.log[#o.log+1] = 'finish' end }\n"
       "  initial(a)\n"
       "end)\n"
       "local o = { log = {} }\n"
       "local i = sm:instanciate(o)\n"
       "i:trigger('go', 1)\n"
       "print(i.current)\n"
       "i:trigger('go', 2)\n"
       "print(i.current)\n"
       "i:trigger('stop')\n"
       "print(i.current, table.concat(o.log, ','))\n"
       "print(pcall(i.trigger, i, 'go', 1))\n"
       "print(pcall(haka.state_machine.new, 'bad', function () x = state(); x:on{ event = events.nope, jump = x }; initial(x) end))\n");
  ASSERT_EQ(host_.prints.size(), 5u);
  EXPECT_EQ(host_.prints[0], "a");
  EXPECT_EQ(host_.prints[1], "b");
  EXPECT_EQ(host_.prints[2], "finish enter a,small,go,leave b,finish");
  EXPECT_NE(host_.prints[3].find("state machine instance has finished"), std::string::npos) << host_.prints[3];
  EXPECT_NE(host_.prints[4].find("state type has no event 'nope'"), std::string::npos) << host_.prints[4];
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using SelectTest = StreamTest;

TEST_F(SelectTest, SelectHoldsTheStreamUntilRestored) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "held = nil\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data)\n"
                     "  if held == nil then\n"
                     "    local ref, buf = data:sub(1, 2):select()\n"
                     "    buf:sub(0, 1):setstring('X')\n"
                     "    held = { ref = ref, buf = buf }\n"
                     "  else\n"
                     "    held.ref:restore(held.buf)\n"
                     "    print(pcall(function () held.ref:restore(held.buf) end))\n"
                     "  end\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "abcd"), Status::ok) << host_.all_logs();
  EXPECT_EQ(pop_all(tcp::Dir::up), ""); // held by the select placeholder
  EXPECT_EQ(data(rt, f, "ef"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0].substr(0, 5), "false");
  EXPECT_EQ(pop_all(tcp::Dir::up), "aXcdef");
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using ApiLoopTest = StreamTest;

TEST_F(ApiLoopTest, DissectorThatNeverConsumesIsBounded) {
  RuntimeConfig cfg;
  cfg.instruction_limit = 2'000'000;
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local D = haka.dissector.new{ type = tc.helper.TcpFlowDissector, name = 'stuck' }\n"
                     "D.state_machine = haka.state_machine.new('stuck', function ()\n"
                     "  state_type{ events = { 'data' }, update = function (self, sm, iter) sm:trigger('data', iter) end }\n"
                     "  s = state()\n"
                     "  s:on{ event = events.data, execute = function (self, iter) end }\n"
                     "  initial(s)\n"
                     "end)\n"
                     "D:install_tcp_rule(80)\n",
                     cfg);
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{packet(0x02), true}), Status::ok);
  EXPECT_EQ(data(rt, f, "abc"), Status::limit) << host_.all_logs();
}

TEST_F(ApiLoopTest, CircularEnterJumpsAreBounded) {
  // pcall cannot swallow the bound: the load fails at the pcall's line.
  std::string err = load_error("local sm = haka.state_machine.new('circle', function ()\n"
                               "  a = state(); b = state()\n"
                               "  a:on{ event = events.enter, jump = b }\n"
                               "  b:on{ event = events.enter, jump = a }\n"
                               "  initial(b)\n"
                               "end)\n"
                               "print(pcall(sm.instanciate, sm, {}))\n");
  EXPECT_NE(err.find("rules.lua:7: instruction limit exceeded"), std::string::npos) << err;
  EXPECT_TRUE(host_.prints.empty());
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

using NextDissectorTest = StreamTest;

TEST_F(NextDissectorTest, PolicyInstallsTheDissectorByPort) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local line = require('protocol/line')\n"
                     "haka.policy{ on = tc.policies.next_dissector, name = 'line on 80', port = 80,\n"
                     "  action = haka.dissectors.line.install }\n"
                     "haka.rule{ on = line.events.receive_line, eval = function (d, text) print(text) end }\n");
  EXPECT_TRUE(rt.wants(Event::new_connection));
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(0x02), true}), Status::ok) << host_.all_logs();
  EXPECT_EQ(data(rt, a, "one\n"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 1u);
  EXPECT_EQ(host_.prints[0], "one");
  EXPECT_EQ(rt.close_flow(a, &stream_[0], &stream_[1]), Status::ok);
  FlowInfo other = flow_info();
  other.dstport = 81;
  FlowRef b = rt.open_flow(other, nullptr);
  EXPECT_EQ(rt.on_new_connection(b, PacketRef{packet(0x02, "", 40000, 81), true}), Status::ok);
  pop_all(tcp::Dir::up);
  EXPECT_EQ(data(rt, b, "two\n"), Status::ok);
  EXPECT_EQ(host_.prints.size(), 1u);
}

TEST_F(NextDissectorTest, ErrorInADissectorActionNamesTheRuleLine) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local line = require('protocol/line')\n"
                     "line.install_tcp_rule(80)\n"
                     "haka.rule{ on = line.events.receive_line, eval = function (d, text)\n"
                     "  error('bad line ' .. text)\n"
                     "end }\n");
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(0x02), true}), Status::ok);
  EXPECT_EQ(data(rt, a, "x\n"), Status::error);
  EXPECT_NE(host_.all_logs().find("rules.lua:5: bad line x"), std::string::npos) << host_.all_logs();
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

class TimerTest : public StreamTest {};

TEST_F(TimerTest, StateMachineTimeoutsRunOnNetworkTime) {
  Runtime& rt = load(
      "local sm = haka.state_machine.new('t', function ()\n"
      "  state_type{ events = { 'go' } }\n"
      "  waiting = state(); done = state()\n"
      "  waiting:on{ event = events.timeout(5), execute = function (o) o.n = o.n + 1; print('tick', o.n) end }\n"
      "  waiting:on{ event = events.timeout(12), jump = done }\n"
      "  done:on{ event = events.enter, execute = function () print('done') end }\n"
      "  done:on{ event = events.timeout(1), execute = function () error('boom') end }\n"
      "  done:on{ event = events.fail, execute = function () print('failed') end }\n"
      "  initial(waiting)\n"
      "end)\n"
      "haka.rule{ on = haka.dissectors.tcp_connection.events.new_connection,\n"
      "  eval = function (flow) M = sm:instanciate({ n = 0 }) end }\n"
      "haka.rule{ on = haka.dissectors.tcp_connection.events.receive_packet, eval = function () end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(f, PacketRef{packet(0x02), true}), Status::ok);
  const uint64_t s = 1'000'000'000ull;
  const uint64_t t0 = host_.now;
  for (uint64_t at : {1ull, 4ull, 6ull, 11ull, 12ull, 14ull}) {
    host_.now = t0 + at * s;
    EXPECT_EQ(rt.on_receive_packet(f, PacketRef{packet(0x10), true}, tcp::Dir::up), Status::ok) << host_.all_logs();
  }
  // 5 s fired at 6 and 11 (repeating), 12 s jumped to done, whose 1 s
  // timeout raised at 14: logged, the machine failed and finished.
  ASSERT_EQ(host_.prints.size(), 4u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], "tick 1");
  EXPECT_EQ(host_.prints[1], "tick 2");
  EXPECT_EQ(host_.prints[2], "done");
  EXPECT_EQ(host_.prints[3], "failed");
  EXPECT_NE(host_.all_logs().find("boom"), std::string::npos) << host_.all_logs();
}

} // namespace
} // namespace haka::lua::test
