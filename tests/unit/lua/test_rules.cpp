// The rule files written for Haka's conformance cases (tests/data/rules/haka)
// load, and a few produce Haka's reference lines on forged traffic.
#include "lua_test_util.hpp"

#include <dirent.h>

#include "haka_config.h"

namespace haka::lua::test {
namespace {

const std::string kRules = std::string(HAKA_DPDK_SOURCE_LUA_DIR) + "/../tests/data/rules/haka";

class RulesTest : public LuaTest {
protected:
  Runtime& load_file(const std::string& rel, RuntimeConfig cfg = {}) {
    std::string err;
    cfg.rule_files = {kRules + "/" + rel};
    cfg.pool = pool_.get();
    cfg.max_flows = 16;
    rt_ = Runtime::create(cfg, host_, err);
    EXPECT_NE(rt_, nullptr) << rel << ": " << err;
    if (rt_ == nullptr) std::abort();
    return *rt_;
  }
};

TEST_F(RulesTest, EveryCaseFileLoads) {
  int n = 0;
  for (const char* sub : {"tcp", "sample"}) {
    DIR* d = opendir((kRules + "/" + sub).c_str());
    ASSERT_NE(d, nullptr) << kRules;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() < 5 || name.substr(name.size() - 4) != ".lua") continue;
      RuntimeConfig cfg;
      cfg.forge_pool = mp_;
      load_file(std::string(sub) + "/" + name, cfg);
      rt_.reset();
      ++n;
    }
    closedir(d);
  }
  EXPECT_GE(n, 18);
}

TEST_F(RulesTest, GetfieldsPrintsHakasLayout) {
  Runtime& rt = load_file("tcp/getfields.lua");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x18, "x", 4444, 34003, 0xd5735925u, 0x243faef2u), true}, false),
            Status::ok);
  ASSERT_EQ(host_.prints.size(), 22u);
  EXPECT_EQ(host_.prints[0], "----------TCP HEADER ---------");
  EXPECT_EQ(host_.prints[3], "TCP Sequence No: 0xd5735925");
  EXPECT_EQ(host_.prints[7], "TCP Flags: 0x18");
  EXPECT_EQ(host_.prints[11], "    ...1 .... = PSH Flag: Set");
  EXPECT_EQ(host_.prints[18], "    [Good: True]");
  EXPECT_EQ(host_.prints[21], "");
}

TEST_F(RulesTest, SetfieldsPassthroughRefusesSixteenWrites) {
  Runtime& rt = load_file("tcp/setfields-passthrough.lua");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10), false}, false), Status::ok);
  ASSERT_EQ(host_.prints.size(), 16u);
  for (auto& p : host_.prints) EXPECT_EQ(p, "false read only buffer");
}

TEST_F(RulesTest, GroupfilterAcceptsAndDrops) {
  Runtime& rt = load_file("sample/groupfilter.lua");
  FlowRef a = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(a, PacketRef{packet(0x02, "", 53459, 80), true}), Status::ok);
  FlowRef b = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(rt.on_new_connection(b, PacketRef{packet(0x02, "", 43557, 8000), true}), Status::ok);
  EXPECT_EQ(host_.all_logs(),
            "debug external: Entering packet filtering rules : 53459 --> 80\n"
            "info external: Authorizing traffic on port 80\n"
            "debug external: Entering packet filtering rules : 43557 --> 8000\n");
  ASSERT_EQ(host_.alerts.size(), 1u);
  EXPECT_EQ(host_.alerts[0], "alert: id = = <>\n\tdescription = Packet dropped : drop by default\n"
                             "\ttargets = {\n\t\tservice: tcp, 8000\n\t}\n");
  ASSERT_EQ(host_.packet_calls.size(), 1u);
}

TEST_F(RulesTest, TcpfilterMisspellingIsAnErrorWithItsLine) {
  Runtime& rt = load_file("sample/tcpfilter.lua");
  EXPECT_EQ(rt.on_tcp_packet(PacketRef{packet(0x10), true}, false), Status::error);
  EXPECT_NE(host_.all_logs().find("tcpfilter.lua:8: unknown field 'destport' of tcp"), std::string::npos)
      << host_.all_logs();
}

} // namespace
} // namespace haka::lua::test

namespace haka::lua::test {
namespace {

class RulesStreamTest : public RulesTest {
protected:
  void SetUp() override {
    RulesTest::SetUp();
    stream_.init(*pool_);
  }
  void TearDown() override {
    stream_.clear();
    RulesTest::TearDown();
  }
  Status data(Runtime& rt, FlowRef f, const std::string& text) {
    rte_mbuf* m = packet(0x18, text);
    vbuffer::Iterator cur;
    EXPECT_EQ(stream_.push(m, net::meta(m).payload_offset, net::meta(m).payload_len, m, &cur), vbuffer::Error::ok);
    return rt.on_receive_data(f, tcp::Dir::up, stream_, cur, false);
  }
  std::string popped() {
    std::string out;
    vbuffer::Popped p;
    while (stream_.pop(p) == vbuffer::Error::ok) {
      std::string s(p.bytes.size(), '\0');
      p.bytes.copy_to(std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()));
      out += s;
      p.bytes.release();
    }
    return out;
  }
  vbuffer::Stream stream_;
};

TEST_F(RulesStreamTest, StreammodifInsertsBeforeEveryTenBytesOrResets) {
  Runtime& rt = load_file("tcp/streammodif-rst.lua");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "0123456789abcde"), Status::ok) << host_.all_logs();
  EXPECT_EQ(popped(), "Haka0123456789Hakaabcde");
  EXPECT_TRUE(host_.flow_calls.empty());
  EXPECT_EQ(data(rt, f, std::string(31, 'x')), Status::ok);
  ASSERT_EQ(host_.flow_calls.size(), 1u);
  EXPECT_EQ(host_.flow_calls[0].action, FlowAction::reset);
}

TEST_F(RulesStreamTest, StreamdeleteAndStreaminsertMatchTheReferenceLines) {
  {
    Runtime& rt = load_file("tcp/streamdelete.lua");
    FlowRef f = rt.open_flow(flow_info(), nullptr);
    // streamdelete-ref.txt: a 35-byte arrival prints "0000000000" then "0000" and a blank line.
    EXPECT_EQ(data(rt, f, "XXXXXXXXXX0000000000YYYYYYYYYY0000\n"), Status::ok) << host_.all_logs();
    ASSERT_EQ(host_.prints.size(), 2u);
    EXPECT_EQ(host_.prints[0], "0000000000");
    EXPECT_EQ(host_.prints[1], "0000\n");
    EXPECT_EQ(host_.logs[0], "debug external: received stream len=35");
    EXPECT_EQ(popped(), "0000000000" "0000\n");
    rt_.reset();
  }
  host_.prints.clear();
  Runtime& rt = load_file("tcp/streaminsert.lua");
  FlowRef f = rt.open_flow(flow_info(), nullptr);
  EXPECT_EQ(data(rt, f, "00000000000000000000"), Status::ok) << host_.all_logs();
  ASSERT_EQ(host_.prints.size(), 2u);
  EXPECT_EQ(host_.prints[0], "0000000000");
  EXPECT_EQ(popped(), "Haka0000000000Haka0000000000");
}

} // namespace
} // namespace haka::lua::test
