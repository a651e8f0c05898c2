// Lua event dispatch benchmarks: what one tcp_connection event costs when a
// rule listens, from the C++ call to the rule's return, next to a C++
// listener doing the same work (the baseline, in the same binary and run).
//
//   build/bench/bench_lua --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   (HAKA_BENCH_LUA_DIR=path: load the Lua API from another copy of lua/)
//
// Each event is dispatched on one connection over a 64-byte segment already
// in the stream, as lua::Runtime is called by the engine's LuaStage; the
// segment's push and pop are outside the loop except in the streamed case,
// where BM_PushPopOnly measures them alone so they can be subtracted.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "lua/runtime.hpp"
#include "net/decode.hpp"
#include "net/forge.hpp"
#include "vbuffer/stream.hpp"

namespace {

using namespace haka;

rte_mempool* mempool() {
  static rte_mempool* mp = [] {
    std::string prefix = "--file-prefix=haka-bench-lua-" + std::to_string(getpid());
    std::vector<std::string> args = {"bench", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                     "--no-telemetry", "--log-level=*:error", prefix};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) std::abort();
    rte_mempool* p = rte_pktmbuf_pool_create("bench_lua", 4095, 256, sizeof(net::PacketMeta),
                                             RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (p == nullptr) std::abort();
    return p;
  }();
  return mp;
}

/// A host that records nothing: the events' own cost only.
class QuietHost : public lua::Host {
 public:
  void log(lua::LogLevel, std::string_view, std::string_view) override {}
  void alert(const lua::AlertInfo&) override {}
  void print(std::string_view) override {}
  void flow_action(void*, lua::FlowAction, bool, tcp::Dir) override {}
  void packet_action(rte_mbuf*, lua::PacketAction) override {}
  uint64_t now_ns() override { return 1'000'000'000; }
};

/// A decoded Ethernet/IPv4/TCP data segment with `payload` bytes.
rte_mbuf* segment(uint32_t payload) {
  net::TcpEndpoints ep;
  const uint8_t s[4] = {192, 168, 10, 1}, d[4] = {192, 168, 20, 1};
  std::copy(s, s + 4, ep.src);
  std::copy(d, d + 4, ep.dst);
  ep.sport = 40000;
  ep.dport = 80;
  std::vector<uint8_t> bytes(payload, 'x');
  net::TcpSegmentSpec seg;
  seg.seq = 1000;
  seg.ack = 1;
  seg.flags = 0x18;
  seg.window = 512;
  seg.payload = bytes;
  rte_mbuf* m = net::forge_tcp(mempool(), net::LinkType::ethernet, ep, seg);
  if (m == nullptr) std::abort();
  net::DecodeConfig dc;
  if (net::decode(m, dc) != net::DecodeOutcome::tcp) std::abort();
  return m;
}

/// A segment that outlives the fixture declared after it (whose stream holds references to it).
struct Segment {
  rte_mbuf* m;
  explicit Segment(uint32_t payload) : m(segment(payload)) {}
  ~Segment() { rte_pktmbuf_free(m); }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
};

/// One runtime with one rule file, one open connection, one stream direction.
struct Fixture {
  vbuffer::BufferPool pool{mempool(), 4096};
  QuietHost host;
  std::unique_ptr<lua::Runtime> rt;
  lua::FlowRef flow;
  vbuffer::Stream stream;
  std::string path;

  explicit Fixture(const std::string& rule) {
    char tmpl[] = "/tmp/haka-bench-lua-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) std::abort();
    close(fd);
    path = tmpl;
    std::ofstream(path) << rule;
    lua::RuntimeConfig cfg;
    cfg.rule_files = {path};
    cfg.pool = &pool;
    cfg.max_flows = 64;
    // Another copy of lua/ (A/B comparisons of the Lua side without touching the tree).
    if (const char* dir = std::getenv("HAKA_BENCH_LUA_DIR")) cfg.lua_dir = dir;
    std::string err;
    rt = lua::Runtime::create(cfg, host, err);
    if (!rt) {
      std::fprintf(stderr, "bench_lua: %s\n", err.c_str());
      std::abort();
    }
    flow = rt->open_flow(lua::FlowInfo{0xc0a80a01u, 0xc0a81401u, 40000, 80}, nullptr);
    stream.init(pool);
  }
  ~Fixture() {
    rt->close_flow(flow);
    rt.reset();
    stream.clear();
    std::remove(path.c_str());
  }
};

constexpr const char* kHead = "local tcp_connection = require('protocol/tcp_connection')\nlocal n = 0\n";

// The baseline: a C++ listener reached through a virtual call, reading the
// same length the Lua rules read.
struct CxxListener {
  virtual ~CxxListener() = default;
  virtual void on_data(const vbuffer::Iterator& it) = 0;
};
struct LengthListener final : CxxListener {
  uint64_t total = 0;
  void on_data(const vbuffer::Iterator& it) override {
    std::size_t avail = 0;
    if (it.available(avail) == vbuffer::Error::ok) total += avail;
  }
};

void BM_CxxListener(benchmark::State& state) {
  Segment seg(10);
  rte_mbuf* m = seg.m;
  Fixture fx("");
  vbuffer::Iterator cur;
  (void)fx.stream.push(m, net::meta(m).payload_offset, net::meta(m).payload_len, m, &cur);
  std::unique_ptr<CxxListener> l = std::make_unique<LengthListener>();
  CxxListener* volatile lp = l.get();
  for (auto _ : state) lp->on_data(cur);
  benchmark::DoNotOptimize(static_cast<LengthListener*>(l.get())->total);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CxxListener);

// receive_packet with an empty rule: the dispatch itself (lend the packet,
// call into Lua, the rule group, take the packet back).
void BM_ReceivePacketEmpty(benchmark::State& state) {
  Fixture fx(std::string(kHead) +
             "haka.rule{ on = tcp_connection.events.receive_packet, eval = function (flow, pkt, dir) end }\n");
  Segment seg(10);
  rte_mbuf* m = seg.m;
  for (auto _ : state)
    if (fx.rt->on_receive_packet(fx.flow, lua::PacketRef{m, true}, tcp::Dir::up) != lua::Status::ok) std::abort();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReceivePacketEmpty);

// receive_packet reading one header field through the dissector.
void BM_ReceivePacketField(benchmark::State& state) {
  Fixture fx(std::string(kHead) +
             "haka.rule{ on = tcp_connection.events.receive_packet,\n"
             "  eval = function (flow, pkt, dir) if pkt.window_size > 0 then n = n + 1 end end }\n");
  Segment seg(10);
  rte_mbuf* m = seg.m;
  for (auto _ : state)
    if (fx.rt->on_receive_packet(fx.flow, lua::PacketRef{m, true}, tcp::Dir::up) != lua::Status::ok) std::abort();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReceivePacketField);

// Rules of the receive_data benches: a plain one reading #data
// (bench/rules/receive_data_len.lua) and a streamed one walking every byte
// range (bench/rules/streamed_walk.lua).
constexpr const char* kPlainLen =
    "haka.rule{ on = tcp_connection.events.receive_data,\n"
    "  eval = function (flow, data) n = n + #data end }\n";
constexpr const char* kStreamedWalk =
    "haka.rule{ on = tcp_connection.events.receive_data, options = { streamed = true },\n"
    "  eval = function (flow, iter)\n"
    "    while iter:wait() do local sub = iter:sub('available') if sub then n = n + #sub end end\n"
    "  end }\n";

// receive_data dispatched again and again over one segment already in the stream.
void run_plain(benchmark::State& state, const std::string& rules) {
  Segment seg(10);
  rte_mbuf* m = seg.m;
  Fixture fx(std::string(kHead) + rules);
  vbuffer::Iterator cur;
  (void)fx.stream.push(m, net::meta(m).payload_offset, net::meta(m).payload_len, m, &cur);
  for (auto _ : state)
    if (fx.rt->on_receive_data(fx.flow, tcp::Dir::up, fx.stream, cur, false) != lua::Status::ok) std::abort();
  state.SetItemsProcessed(state.iterations());
}

// Per iteration a segment pushed, receive_data dispatched (unless `rules` is
// empty), the segment popped: what a streamed rule needs to be resumed.
void run_pushed(benchmark::State& state, const std::string& rules) {
  Segment seg(10);
  rte_mbuf* m = seg.m;
  Fixture fx(rules.empty() ? std::string() : std::string(kHead) + rules);
  vbuffer::Popped out;
  for (auto _ : state) {
    vbuffer::Iterator cur;
    (void)fx.stream.push(m, net::meta(m).payload_offset, net::meta(m).payload_len, m, &cur);
    if (!rules.empty() && fx.rt->on_receive_data(fx.flow, tcp::Dir::up, fx.stream, cur, false) != lua::Status::ok)
      std::abort();
    if (fx.stream.pop(out) != vbuffer::Error::ok) std::abort();
    out.bytes.release();
  }
  state.SetItemsProcessed(state.iterations());
}

// A plain receive_data rule reading #data.
void BM_ReceiveDataLen(benchmark::State& state) { run_plain(state, kPlainLen); }
BENCHMARK(BM_ReceiveDataLen);

// Two plain receive_data rules: what each further rule adds.
void BM_ReceiveDataLenTwoRules(benchmark::State& state) {
  run_plain(state, std::string(kPlainLen) +
                       "haka.rule{ on = tcp_connection.events.receive_data,\n"
                       "  eval = function (flow, data) n = n - #data end }\n");
}
BENCHMARK(BM_ReceiveDataLenTwoRules);

// What the streamed case does besides Lua: push a segment, pop it.
void BM_PushPopOnly(benchmark::State& state) { run_pushed(state, ""); }
BENCHMARK(BM_PushPopOnly);

// The streamed rule resumed once per segment: iter:wait() returns, the rule
// takes the available bytes as a sub and waits again. Includes a push and a
// pop (BM_PushPopOnly).
void BM_StreamedResume(benchmark::State& state) { run_pushed(state, kStreamedWalk); }
BENCHMARK(BM_StreamedResume);

// The streamed rule and the plain rule together on one connection: compare
// with BM_StreamedResume + BM_ReceiveDataLen (API functions blacklisted by the
// streamed rule's interpreted loop would make the plain rule's traces abort).
void BM_StreamedAndPlain(benchmark::State& state) {
  run_pushed(state, std::string(kStreamedWalk) + kPlainLen);
}
BENCHMARK(BM_StreamedAndPlain);

} // namespace

BENCHMARK_MAIN();
