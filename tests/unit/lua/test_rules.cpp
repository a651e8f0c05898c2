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
