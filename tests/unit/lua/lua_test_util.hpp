// A fake host and helpers to drive lua::Runtime with rule text and forged packets.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "lua/runtime.hpp"
#include "net/decode.hpp"
#include "net/forge.hpp"
#include "test_eal.hpp"
#include "vbuffer/stream.hpp"

namespace haka::lua::test {

/// Records everything the runtime asks of the engine.
class FakeHost : public Host {
public:
  struct FlowCall {
    void* cookie;
    FlowAction action;
    bool has_dir;
    tcp::Dir dir;
  };
  std::vector<std::string> logs;   // "level section: message"
  std::vector<std::string> alerts; // Haka text layout
  std::vector<std::string> prints;
  std::vector<FlowCall> flow_calls;
  std::vector<std::pair<rte_mbuf*, PacketAction>> packet_calls;
  uint64_t now = 1'000'000'000;

  void log(LogLevel level, std::string_view section, std::string_view message) override {
    logs.push_back(std::string(level_name(level)) + " " + std::string(section) + ": " + std::string(message));
  }
  void alert(const AlertInfo& a) override { alerts.push_back(format_alert_text(a)); }
  void print(std::string_view line) override { prints.emplace_back(line); }
  void flow_action(void* cookie, FlowAction action, bool has_dir, tcp::Dir dir) override {
    flow_calls.push_back({cookie, action, has_dir, dir});
  }
  void packet_action(rte_mbuf* m, PacketAction action) override { packet_calls.emplace_back(m, action); }
  uint64_t now_ns() override { return now; }
  bool inject(rte_mbuf* m) override {
    injected.push_back(m);
    return true;
  }
  std::vector<rte_mbuf*> injected; // freed by the fixture

  /// Every log line joined (for substring checks).
  std::string all_logs() const {
    std::string s;
    for (auto& l : logs) s += l + "\n";
    return s;
  }
};

/// Fixture: an mbuf pool, a chunk pool, rule files written to a temp folder.
class LuaTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (mp_ == nullptr) mp_ = haka::test::make_pool("lua_test", 2048);
  }
  void SetUp() override {
    pool_ = std::make_unique<vbuffer::BufferPool>(mp_, 4096);
    char tmpl[] = "/tmp/haka-lua-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    rt_.reset();
    for (rte_mbuf* m : host_.injected) rte_pktmbuf_free(m);
    for (rte_mbuf* m : mbufs_) rte_pktmbuf_free(m);
    mbufs_.clear();
    pool_.reset();
    std::string cmd = "rm -rf " + dir_;
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "cannot remove " << dir_;
  }

  /// Writes `text` to dir/name and returns its path.
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  /// Builds a runtime over one rule file holding `text`; fails the test on a load error.
  Runtime& load(const std::string& text, RuntimeConfig cfg = {}) {
    std::string err;
    cfg.rule_files.push_back(write("rules.lua", text));
    cfg.pool = pool_.get();
    if (cfg.max_flows == (1u << 16)) cfg.max_flows = 64;
    rt_ = Runtime::create(cfg, host_, err);
    EXPECT_TRUE(rt_ != nullptr) << err;
    if (rt_ == nullptr) std::abort();
    return *rt_;
  }

  /// The load error of `text` (empty if it loaded).
  std::string load_error(const std::string& text) {
    std::string err;
    RuntimeConfig cfg;
    cfg.rule_files.push_back(write("rules.lua", text));
    cfg.pool = pool_.get();
    cfg.max_flows = 8;
    auto rt = Runtime::create(cfg, host_, err);
    return rt == nullptr ? err : std::string();
  }

  /// A decoded Ethernet/IPv4/TCP packet 192.168.10.1:sport -> 192.168.20.1:dport.
  rte_mbuf* packet(uint8_t flags, const std::string& payload = "", uint16_t sport = 40000, uint16_t dport = 80,
                   uint32_t seq = 1000, uint32_t ack = 0) {
    net::TcpEndpoints ep;
    const uint8_t s[4] = {192, 168, 10, 1}, d[4] = {192, 168, 20, 1};
    std::copy(s, s + 4, ep.src);
    std::copy(d, d + 4, ep.dst);
    ep.sport = sport;
    ep.dport = dport;
    net::TcpSegmentSpec seg;
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    seg.window = 512;
    seg.payload = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    rte_mbuf* m = net::forge_tcp(mp_, net::LinkType::ethernet, ep, seg);
    EXPECT_NE(m, nullptr);
    net::DecodeConfig dc;
    EXPECT_EQ(net::decode(m, dc), net::DecodeOutcome::tcp);
    mbufs_.push_back(m);
    return m;
  }

  static FlowInfo flow_info() {
    return FlowInfo{0xc0a80a01u, 0xc0a81401u, 40000, 80};
  }

  static inline rte_mempool* mp_ = nullptr;
  std::unique_ptr<vbuffer::BufferPool> pool_;
  std::string dir_;
  FakeHost host_;
  std::unique_ptr<Runtime> rt_;
  std::vector<rte_mbuf*> mbufs_;
};

inline constexpr uint8_t kAck = 0x10, kPsh = 0x08;

/// A runtime with one vbuffer stream per direction: pushes segments and
/// dispatches receive_data as the engine does, pops what leaves.
class StreamTest : public LuaTest {
protected:
  void SetUp() override {
    LuaTest::SetUp();
    stream_[0].init(*pool_);
    stream_[1].init(*pool_);
  }
  void TearDown() override {
    stream_[0].clear();
    stream_[1].clear();
    LuaTest::TearDown();
  }
  /// Pushes a segment carrying `text` on `dir` and dispatches receive_data.
  Status data(Runtime& rt, FlowRef f, const std::string& text, tcp::Dir dir = tcp::Dir::up, bool eof = false) {
    rte_mbuf* m = packet(kAck | kPsh, text);
    vbuffer::Iterator cur;
    auto& s = stream_[static_cast<int>(dir)];
    EXPECT_EQ(s.push(m, net::meta(m).payload_offset, net::meta(m).payload_len, m, &cur), vbuffer::Error::ok);
    if (eof) s.finish();
    return rt.on_receive_data(f, dir, s, cur, eof);
  }
  /// Pops every push of `dir` and returns the bytes that would leave.
  std::string pop_all(tcp::Dir dir) {
    std::string out;
    vbuffer::Popped p;
    while (stream_[static_cast<int>(dir)].pop(p) == vbuffer::Error::ok) {
      std::string s(p.bytes.size(), '\0');
      p.bytes.copy_to(std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()));
      out += s;
      p.bytes.release();
    }
    return out;
  }
  vbuffer::Stream stream_[2];
};

} // namespace haka::lua::test
