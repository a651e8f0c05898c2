// Haka's regexp API (lua/regexp/pcre.lua over lib/lua/regexp.cpp): strings,
// buffers, subs, iterators, sinks, flags, escapes, errors, and matches split
// across segments in streamed rules.
#include <dlfcn.h>

#include "lua/regexp.hpp"
#include "lua_test_util.hpp"
#include "match/scanner.hpp"

namespace haka::lua::test {
namespace {

class RegexpTest : public StreamTest {
protected:
  /// Runs `body` at load and returns what it printed.
  std::vector<std::string> run(const std::string& body) {
    load("local rem = require('regexp/pcre')\n" + body);
    return host_.prints;
  }
};

using Lines = std::vector<std::string>;

TEST_F(RegexpTest, SymbolsAreExportedForTheFfi) {
  // ffi.C finds them in the executable's dynamic symbol table.
  for (const char* name : {"hk_rx_compile", "hk_rx_free", "hk_rx_match", "hk_rx_match_sub", "hk_rx_sink_new",
                           "hk_rx_sink_feed", "hk_rx_sink_feed_sub", "hk_rx_sink_result", "hk_rx_sink_free",
                           "hk_rx_ctx_new", "hk_rx_ctx_release", "hk_rx_cdef"}) {
    EXPECT_NE(dlsym(RTLD_DEFAULT, name), nullptr) << name;
  }
}

TEST_F(RegexpTest, StringMatchReturnsMatchBeginEnd) {
  EXPECT_EQ(run("local re = rem.re:compile('bar')\n"
                "print(re:match('foo bar foo'))\n"
                "print(re:match('foo'))\n"
                "print(rem.re:match('a+', 'baaab'))\n"
                "print(rem.re:match('.*', ''))\n"
                "print(rem.re:match('abc', 'aaa'))\n"),
            (Lines{"bar 4 7", "nil -1 -1", "aaa 1 4", " 0 0", "nil -1 -1"}));
}

TEST_F(RegexpTest, BothModuleNamesAreOneModule) {
  EXPECT_EQ(run("print(require('regexp/hyperscan') == rem, tostring(rem.re:compile('x')))\n"),
            (Lines{"true regexp"}));
}

TEST_F(RegexpTest, Flags) {
  EXPECT_EQ(run("print(rem.re:match('camel case', 'CaMeL CaSe'))\n"
                "print(rem.re:match('camel case', 'CaMeL CaSe', rem.re.CASE_INSENSITIVE))\n"
                "print(rem.re:match('a b  c # comment', 'xabcx', rem.re.EXTENDED))\n"
                "print(rem.re:match('a b c', 'xabcx'))\n"
                "print(rem.re:match('a.b', 'a\\nb'))\n"
                "print(rem.re:match('a.b', 'a\\nb', rem.re.DOTALL) ~= nil)\n"
                "print(rem.re:match('^b', 'a\\nb'))\n" // MULTILINE always on, as in Haka
                "print(rem.re:match('AB C', 'xabcx', rem.re.CASE_INSENSITIVE + rem.re.EXTENDED))\n"
                "print(rem.re.CASE_INSENSITIVE, rem.re.EXTENDED, rem.re.DOTALL, rem.re.MULTILINE)\n"),
            (Lines{"nil -1 -1", "CaMeL CaSe 0 10", "abc 1 4", "nil -1 -1", "nil -1 -1", "true", "b 2 3", "abc 1 4",
                   "1 2 4 8"}));
}

TEST_F(RegexpTest, PercentEscapes) {
  EXPECT_EQ(run("print(rem.re:match('%x41%x42', 'zABz'))\n"
                "print(rem.re:match('%d+', 'ab666c'))\n"
                "print(rem.re:match('100%%', 'is 100%'))\n"
                "print(rem.re:match('%xeb %x1f /bin', 'xx\\235\\031/bin', rem.re.EXTENDED) ~= nil)\n"
                "print(rem.re:match('a%x00b', 'xa\\0b'))\n"
                "print(rem.re:match('[%r]?%n', 'a\\r\\nb'))\n"
                "print(#rem.re:match('\\\\d', '7'))\n"), // backslashes pass through
            (Lines{"AB 1 3", "666 2 5", "100% 3 7", "true", std::string("a\0b", 3) + " 1 4", "\r\n 1 3", "1"}));
}

TEST_F(RegexpTest, BadPatternsRaiseWithThePatternAndHyperscansMessage) {
  std::string err = load_error("local rem = require('regexp/pcre')\n\nlocal re = rem.re:compile('a(b')\n");
  EXPECT_NE(err.find("rules.lua:3:"), std::string::npos) << err;
  EXPECT_NE(err.find("\"a(b\""), std::string::npos) << err;
  EXPECT_NE(err.find("Missing close paren"), std::string::npos) << err;
  err = load_error("local rem = require('regexp/pcre')\nrem.re:match('x%', 'abc')\n");
  EXPECT_NE(err.find("rules.lua:2:"), std::string::npos) << err;
  EXPECT_NE(err.find("\"x%\""), std::string::npos) << err;
  err = load_error("local rem = require('regexp/pcre')\nrem.re:compile('a', 64)\n");
  EXPECT_NE(err.find("rules.lua:2:"), std::string::npos) << err;
  EXPECT_EQ(run("print(pcall(function () rem.re:compile('?') end))\n"
                "print(pcall(function () rem.re:compile(nil) end))\n"
                "print(pcall(function () rem.re:compile('a'):match(42) end))\n"
                "print(pcall(function () rem.re:compile('a'):create_sink():ispartial() end))\n")
                .size(),
            4u);
  EXPECT_EQ(host_.prints[0].rfind("false invalid regexp \"?\": ", 0), 0u) << host_.prints[0];
  EXPECT_EQ(host_.prints[1], "false nil argument");
  EXPECT_EQ(host_.prints[2].rfind("false regexp match: string, vbuffer", 0), 0u) << host_.prints[2];
  EXPECT_NE(host_.prints[3].find("not available"), std::string::npos) << host_.prints[3];
}

TEST_F(RegexpTest, BufferAndSubMatchReturnTheMatchedSub) {
  EXPECT_EQ(run("local re = rem.re:compile('foo')\n"
                "local buf = haka.vbuffer_from('bar fo')\n"
                "buf:append(haka.vbuffer_from('o bar'))\n"
                "print(re:match(buf):asstring())\n"              // across two chunks
                "print(re:match(buf:sub(0, 5)))\n"               // cut before the end of the match
                "print(re:match(haka.vbuffer_from('xfoo')):asstring())\n" // one chunk: block mode
                "local s = rem.re:match('a+', buf)\n"
                "print(s:asstring(), #s)\n"
                "local m = rem.re:compile('o+ b'):match(buf:sub(2, 'all'))\n"
                "print(m:asstring())\n"
                "m:setfixedstring('OO_B')\n"                      // the sub is a view of the buffer
                "print(buf:asstring())\n"),
            (Lines{"foo", "nil", "foo", "a 1", "oo b", "bar fOO_Bar"}));
}

TEST_F(RegexpTest, PlainIteratorMatchMovesPastTheMatch) {
  EXPECT_EQ(run("local re = rem.re:compile('foo')\n"
                "local buf = haka.vbuffer_from('bar fo')\n"
                "buf:append(haka.vbuffer_from('o foo'))\n"
                "local iter = buf:pos('begin')\n"
                "print(re:match(iter, true):asstring(), iter.meter)\n"
                "print(re:match(iter, true):asstring(), iter.meter)\n"
                "print(re:match(iter, true))\n"
                "iter = buf:pos('begin')\n"
                "print(re:match(iter), re:match(iter), re:match(iter))\n"
                "local tags = haka.vbuffer_from('<pre><p>toto</p><p class=\"toto\">titi</p></pre>')\n"
                "local it, out = tags:pos('begin'), {}\n"
                "local tag = rem.re:compile('</?p( [^>]*)?>')\n"
                "repeat local s = tag:match(it, true); if s then out[#out + 1] = s:asstring() end until not s\n"
                "print(table.concat(out, ','))\n"
                "local e = haka.vbuffer_from('end\\nfoo')\n"
                "print(rem.re:match('foo$', e:pos('begin'), 0, true):asstring())\n"), // end-anchored at the end
            (Lines{"foo 7", "foo 11", "nil", "true true false", "<p>,</p>,<p class=\"toto\">,</p>", "foo"}));
}

TEST_F(RegexpTest, SinkAcrossPieces) {
  EXPECT_EQ(run("local re = rem.re:compile('ab')\n"
                "local sink = re:get_sink()\n"
                "print(tostring(sink), sink:feed('aaa'), sink:feed('bbb', true), sink:result())\n"
                "local r = haka.regexp_result()\n"
                "print(rem.re:compile('bar'):create_sink():feed('foo bar foo', true, r), r.first, r.last)\n"
                "r = haka.regexp_result()\n"
                "print(rem.re:compile('bar'):create_sink():feed('foo', true, r), r.first, r.last)\n"
                "local s2 = rem.re:compile('o b'):get_sink()\n"
                "local buf = haka.vbuffer_from('xfoo bar')\n"
                "print(s2:feed(buf:sub(0, 4)))\n"
                "local m, b, e = s2:feed(buf:sub(4, 'all'), true)\n"
                "print(m, b, e:sub('all'):asstring())\n"
                "local s3 = rem.re:compile('bar'):get_sink()\n"
                "local m3, b3, e3 = s3:feed(haka.vbuffer_from('a bar c'):sub(0, 'all'))\n"
                "print(m3, b3:sub(3):asstring(), e3:sub('all'):asstring())\n"
                "local s4 = rem.re:compile('x$'):get_sink()\n"
                "print(s4:feed('ax'), s4:feed('', true))\n"),
            (Lines{"regexp_sink false true 2 4", "true 4 7", "false -1 -1", "false", "true nil ar", "true bar  c",
                   "false true"}));
}

TEST_F(RegexpTest, CachedPatternsAreCompiledOnce) {
  // rem.re:match(pattern, ...) compiles each (pattern, flags) once: the same
  // answers for the same pattern with and without a flag.
  EXPECT_EQ(run("for i = 1, 3 do print(rem.re:match('AB', 'xab'), rem.re:match('AB', 'xab', rem.re.CASE_INSENSITIVE)) end\n"),
            (Lines{"nil ab 1 3", "nil ab 1 3", "nil ab 1 3"}));
}

TEST_F(RegexpTest, StreamedRuleFindsMatchesSplitAcrossSegments) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local re = rem.re:compile('foo')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    while true do\n"
                     "      local s = re:match(iter, true)\n"
                     "      if not s then break end\n"
                     "      print('match', s:asstring(), iter.meter)\n"
                     "    end\n"
                     "    print('end')\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  // "bar foo dead beef coffee foo foo", the second and third foo split too
  std::vector<std::size_t> kept;
  for (const char* seg : {"bar f", "o", "o dea", "d beef", " cof", "fee", " foo f"}) {
    ASSERT_EQ(data(rt, f, seg), Status::ok) << host_.all_logs();
    EXPECT_EQ(pop_all(tcp::Dir::up), seg); // the read-only mark keeps bytes, not packets: everything leaves
    kept.push_back(stream_[0].data().size());
  }
  // Bytes kept for a match that may have begun there: the last three ("foo"
  // is 3 bytes long; a match ending at the last byte may be known only with
  // the next one) while waiting (the rule calls re:match again at once after
  // each match: then at most what it fed), nothing after the end.
  EXPECT_EQ(kept, (std::vector<std::size_t>{3, 3, 3, 3, 3, 3, 2})) << host_.all_logs();
  ASSERT_EQ(data(rt, f, "oo", tcp::Dir::up, true), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up);
  EXPECT_EQ(stream_[0].data().size(), 0u);
  EXPECT_EQ(host_.prints, (Lines{"match foo 7", "match foo 28", "match foo 32", "end"}))
      << host_.all_logs();
}

TEST_F(RegexpTest, ShellcodeSplitOverThreePacketsDropsTheFlow) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local re = rem.re:compile('%xeb %x1f %x5e %x89 .{3} /bin/sh', rem.re.EXTENDED + rem.re.DOTALL)\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter)\n"
                     "    local s = re:match(iter, true)\n"
                     "    if s then\n"
                     "      print('found', #s, s:sub(3, 'all'):asstring())\n"
                     "      haka.alert{ description = 'shellcode' }\n"
                     "      flow:drop()\n"
                     "    end\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  ASSERT_EQ(data(rt, f, "GET / HTTP/1.0\r\n\xeb\x1f"), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up);
  // The pattern is 14 bytes long: the last 14 are kept by the mark.
  EXPECT_EQ(stream_[0].data().size(), 14u);
  ASSERT_EQ(data(rt, f, "\x5e\x89\x01\x02"), Status::ok);
  pop_all(tcp::Dir::up);
  EXPECT_EQ(stream_[0].data().size(), 14u);
  EXPECT_TRUE(host_.prints.empty());
  ASSERT_EQ(data(rt, f, "\x03/bin/sh;"), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up);
  EXPECT_EQ(stream_[0].data().size(), 0u); // the mark was released
  ASSERT_EQ(host_.prints.size(), 1u) << host_.all_logs();
  EXPECT_EQ(host_.prints[0], std::string("found 14 \x89\x01\x02\x03/bin/sh"));
  EXPECT_EQ(host_.alerts.size(), 1u);
  ASSERT_EQ(host_.flow_calls.size(), 1u);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::drop);
}

TEST_F(RegexpTest, StreamedMatchWithoutSubAndUnboundedPattern) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local re = rem.re:compile('<[^>]*>')\n" // unbounded: the mark stays at the call start
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    print('bool', re:match(iter), iter.meter)\n"
                     "    local s = re:match(iter, true)\n"
                     "    print('sub', s:asstring(), iter.meter)\n"
                     "    print('last', re:match(iter, true))\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  for (const char* seg : {"x<a", "b>y<l", "ong", " tag", ">z"}) {
    ASSERT_EQ(data(rt, f, seg), Status::ok) << host_.all_logs();
    pop_all(tcp::Dir::up);
  }
  ASSERT_EQ(data(rt, f, "", tcp::Dir::up, true), Status::ok) << host_.all_logs();
  EXPECT_EQ(host_.prints, (Lines{"bool true 5", "sub <long tag> 16", "last nil"})) << host_.all_logs();
}

TEST_F(RegexpTest, StreamedMatchInBothDirections) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    print(dir, rem.re:match('secret', iter, rem.re.CASE_INSENSITIVE, true):asstring())\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  ASSERT_EQ(data(rt, f, "a SEC", tcp::Dir::up), Status::ok);
  ASSERT_EQ(data(rt, f, "b secr", tcp::Dir::down), Status::ok);
  ASSERT_EQ(data(rt, f, "ret", tcp::Dir::up), Status::ok);
  ASSERT_EQ(data(rt, f, "et", tcp::Dir::down), Status::ok) << host_.all_logs();
  EXPECT_EQ(host_.prints, (Lines{"up SECret", "down secret"})) << host_.all_logs();
}

TEST_F(RegexpTest, StreamedMatchesAtTheStartAndTheEndOfTheStream) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local first, last = rem.re:compile('^GET'), rem.re:compile('abc$')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    local s = first:match(iter, true)\n"
                     "    print('first', s:asstring(), iter.meter)\n"
                     "    s = last:match(iter, true)\n" // complete only at the end of the stream
                     "    print('last', s:asstring(), iter.meter)\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  for (const char* seg : {"GE", "T / a", "b", "c"}) {
    ASSERT_EQ(data(rt, f, seg), Status::ok) << host_.all_logs();
    pop_all(tcp::Dir::up);
  }
  EXPECT_EQ(host_.prints, (Lines{"first GET 3"})) << host_.all_logs();
  ASSERT_EQ(data(rt, f, "", tcp::Dir::up, true), Status::ok) << host_.all_logs();
  EXPECT_EQ(host_.prints, (Lines{"first GET 3", "last abc 9"})) << host_.all_logs();
}

TEST_F(RegexpTest, PlainIteratorOnAnOpenStreamIsNotAtItsEnd) {
  // A plain rule's iterator runs out of bytes, but the stream goes on: no
  // end-anchored match there; at the end of the stream there is one.
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local re = rem.re:compile('abc$')\n"
                     "haka.rule{ on = tc.events.receive_data, eval = function (flow, data, dir)\n"
                     "  local s = re:match(data:pos('begin'), true)\n"
                     "  print(s and s:asstring())\n"
                     "end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  ASSERT_EQ(data(rt, f, "xabc"), Status::ok) << host_.all_logs();
  pop_all(tcp::Dir::up);
  ASSERT_EQ(data(rt, f, "zabc", tcp::Dir::up, true), Status::ok) << host_.all_logs();
  EXPECT_EQ(host_.prints, (Lines{"nil", "abc"})) << host_.all_logs();
}

TEST_F(RegexpTest, ConnectionEndWhileWaitingReturnsNoMatch) {
  Runtime& rt = load("local tc = require('protocol/tcp_connection')\n"
                     "local rem = require('regexp/pcre')\n"
                     "local re = rem.re:compile('needle')\n"
                     "haka.rule{ on = tc.events.receive_data, options = { streamed = true },\n"
                     "  eval = function (flow, iter, dir)\n"
                     "    print('result', re:match(iter, true))\n"
                     "  end }\n");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  ASSERT_EQ(data(rt, f, "hay nee"), Status::ok);
  EXPECT_EQ(rt.close_flow(f, &stream_[0], &stream_[1]), Status::ok) << host_.all_logs();
  EXPECT_EQ(host_.prints, (Lines{"result nil"})) << host_.all_logs();
}

TEST_F(RegexpTest, StreamStatesAreBoundedByTheRuntimesConnections) {
  // max_flows 8: 2 * 8 + kRxSpareSinks sinks may hold a stream state at once.
  RuntimeConfig cfg;
  cfg.max_flows = 8;
  load("local rem = require('regexp/pcre')\n"
       "local re = rem.re:compile('ab')\n"
       "local keep = {}\n"
       "local ok, err = pcall(function ()\n"
       "  for i = 1, 400 do local s = re:get_sink(); s:feed('a'); keep[i] = s end\n"
       "end)\n"
       "print(#keep, ok, err)\n"
       "keep = nil; collectgarbage()\n" // the states go back with the sinks
       "local s = re:get_sink()\n"
       "print(s:feed('a'), s:feed('b'))\n",
       cfg);
  EXPECT_EQ(host_.prints, (Lines{std::to_string(2 * 8 + kRxSpareSinks) + " false memory error: stream state slab exhausted",
                                 "false true"}));
}

TEST_F(RegexpTest, CompileCApi) {
  char err[256];
  hk_rx_ctx* ctx = hk_rx_ctx_new(nullptr); // no runtime: kRxSpareSinks sinks
  EXPECT_EQ(hk_rx_compile(ctx, "a(", 2, 0, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("\"a(\""), std::string::npos) << err;
  hk_rx* rx = hk_rx_compile(ctx, "b+c", 3, 0, err, sizeof err);
  ASSERT_NE(rx, nullptr) << err;
  EXPECT_EQ(hk_rx_max_width(rx), UINT32_MAX);
  uint64_t range[2] = {};
  const uint8_t text[] = "abbbcd";
  EXPECT_EQ(hk_rx_match(rx, text, 6, range), 1);
  EXPECT_EQ(range[0], 1u);
  EXPECT_EQ(range[1], 5u);
  hk_rx_sink* s = hk_rx_sink_new(rx);
  EXPECT_EQ(hk_rx_sink_feed(s, text, 2, 0), 0);
  EXPECT_EQ(hk_rx_sink_feed(s, text + 2, 4, 0), 1);
  EXPECT_EQ(hk_rx_sink_result(s, range), 1);
  EXPECT_EQ(range[0], 1u);
  EXPECT_EQ(range[1], 5u);
  EXPECT_EQ(hk_rx_sink_fed(s), 6u);
  hk_rx_sink_free(s);
  hk_rx_sink* again = hk_rx_sink_new(rx); // from the free list
  EXPECT_EQ(again, s);
  EXPECT_EQ(hk_rx_sink_fed(again), 0u);
  hk_rx_ctx_release(ctx); // the regexp and the sink keep it
  EXPECT_EQ(hk_rx_sink_feed(again, text, 6, 1), 1);
  hk_rx_sink_free(again);
  hk_rx_free(rx); // the last reference
  EXPECT_STREQ(hk_rx_message(kRxScanError - static_cast<int>(match::ScanStatus::no_memory)),
               "memory error: stream state slab exhausted");
}

} // namespace
} // namespace haka::lua::test
