// The rule stage of the tracking pipeline: one LuaJIT runtime per worker
// (lib/lua) fed with tcp_connection's events, and the engine side of its
// Host interface (logs, alerts, flow and packet actions).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "engine/alerts.hpp"
#include "engine/counters.hpp"
#include "engine/pattern_stage.hpp"
#include "engine/stream_stage.hpp"
#include "lua/runtime.hpp"
#include "tcp/connection.hpp"

namespace haka::engine {

class TcpPipeline;

/// Settings of the rule stage.
struct LuaStageConfig {
  std::vector<std::string> rule_files;
  std::string lua_dir;            // "" = the source tree's lua/ (HAKA_DPDK_SOURCE_LUA_DIR)
  uint32_t flows = 1u << 16;      // connections the runtime knows at once
  uint64_t instruction_limit = 50'000'000;
  bool pass_through = false;      // packets lent read-only
  std::FILE* log = stdout;        // logs and print() lines
  rte_mempool* forge_pool = nullptr; // packets forged by rules
  net::LinkType forge_link = net::LinkType::ethernet;
};

/// One worker's rules: dispatches the events of every connection to its
/// runtime and turns rule actions into pipeline actions.
class LuaStage : public lua::Host, public StreamListener, public PatternSink {
 public:
  static std::unique_ptr<LuaStage> create(const LuaStageConfig& cfg, TcpPipeline& pipe, AlertSink& alerts,
                                          vbuffer::BufferPool& pool, uint32_t slots, std::string& err);
  ~LuaStage() override;

  /// Which events have listeners (no listener: no Lua call at all).
  bool wants(lua::Event e) const { return rt_->wants(e); }
  /// Some rule needs flows (any tcp_connection event).
  bool wants_flows() const { return wants_flows_; }

  // Events, called by the pipeline with the packet being processed. Each
  // returns false when the current packet must be dropped (a rule dropped
  // it or its connection, or raised: then the connection is dropped too).
  /// tcp receive_packet (`send` false) or send_packet (true) rules.
  bool tcp_packet(rte_mbuf* m, bool send = false);
  bool new_connection(uint32_t slot, tcp::Connection& c, rte_mbuf* m);
  bool receive_packet(uint32_t slot, tcp::Connection& c, tcp::Dir d, rte_mbuf* m);
  /// end_connection (once), then the flow's Lua objects turn stale.
  void end_connection(uint32_t slot, tcp::Connection& c);
  /// tcp_connection's packet policies: true = accept the packet.
  bool policy(tcp::Policy p, rte_mbuf* m);

  // StreamListener: receive_data.
  void on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t n) override;
  void on_end(const StreamConn& conn, tcp::Dir d) override;
  void on_close(const StreamConn& conn) override;

  // PatternSink: a pattern a rule declared matched.
  void on_match(const StreamConn& conn, tcp::Dir d, const match::Match& m) override;
  /// The patterns the rules declared, compiled into one database shared by
  /// every worker's identical rules (compiled once per process); nullptr
  /// when there are none, or on an error (`err` names the rule's file:line).
  std::shared_ptr<const match::Database> declared_patterns(std::string& err);

  // lua::Host.
  void log(lua::LogLevel level, std::string_view section, std::string_view message) override;
  void alert(const lua::AlertInfo& a) override;
  void print(std::string_view line) override;
  void flow_action(void* cookie, lua::FlowAction action, bool has_dir, tcp::Dir dir) override;
  void packet_action(rte_mbuf* m, lua::PacketAction action) override;
  bool inject(rte_mbuf* m) override;
  uint64_t now_ns() override { return now_; }

  std::vector<CounterGroup> collect() const;

 private:
  LuaStage(const LuaStageConfig& cfg, TcpPipeline& pipe, AlertSink& alerts, uint32_t slots);
  lua::PacketRef ref(rte_mbuf* m) const { return lua::PacketRef{m, !cfg_.pass_through}; }
  /// A dispatch's status: an error or the bound drops the connection.
  bool settle(lua::Status st, tcp::Connection* c);
  /// Runs a dispatch; end_connection events raised by actions inside it
  /// (a rule dropping its flow) run after it returns, never nested.
  template <class F> lua::Status dispatch(F&& f) {
    ++depth_;
    const lua::Status st = f();
    --depth_;
    if (depth_ == 0 && !pending_ends_.empty()) run_pending_ends();
    return st;
  }
  void run_pending_ends();
  uint32_t slot_of(const tcp::Connection& c) const;

  LuaStageConfig cfg_;
  TcpPipeline& pipe_;
  AlertSink& alerts_;
  std::unique_ptr<lua::Runtime> rt_;
  std::vector<lua::FlowRef> flows_; // by connection slot (gen 0: none)
  tcp::Connection* conns_base_ = nullptr;
  bool wants_flows_ = false;
  uint64_t now_ = 0;
  rte_mbuf* current_ = nullptr;     // the packet being processed
  bool current_dropped_ = false;    // pkt:drop() on it, or its connection dropped
  int depth_ = 0;                   // dispatches running (nested through actions)
  std::vector<lua::FlowRef> pending_ends_; // ended while a dispatch ran
  struct Tallies {
    uint64_t rule_errors = 0, rule_limits = 0, packets_dropped = 0, flows_dropped = 0, flows_reset = 0;
    uint64_t flows_refused = 0;
  } t_;
};

} // namespace haka::engine
