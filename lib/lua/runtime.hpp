// One worker's LuaJIT VM running Haka rule files: loading, event dispatch,
// policies, handles for the flows and packets handed to Lua.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rte_mbuf.h>

#include "net/packet_meta.hpp"
#include "tcp/connection.hpp"
#include "vbuffer/stream.hpp"
#include "vbuffer/vbuffer.hpp"

struct lua_State;

namespace haka::lua {

/// Events rules can listen to; wants() tells which have a listener.
enum class Event : uint8_t {
  tcp_receive_packet, // tcp.events.receive_packet(pkt)
  tcp_send_packet,    // tcp.events.send_packet(pkt)
  new_connection,     // tcp_connection.events.new_connection(flow, pkt), new_connection policy included
  receive_packet,     // tcp_connection.events.receive_packet(flow, pkt, dir)
  receive_data,       // tcp_connection.events.receive_data(flow, data|iter, dir)
  end_connection,     // tcp_connection.events.end_connection(flow)
  count_
};

/// Haka's log levels.
enum class LogLevel : uint8_t { debug, info, warning, error };

/// "debug", "info", "warning", "error".
const char* level_name(LogLevel l);

/// One line of an alert's sources or targets.
struct AlertItem {
  enum class Kind : uint8_t { address, service } kind;
  std::string_view text; // several values of one haka.alert.address/service call are joined by ", "
};

/// An alert raised by a rule or a policy, as Haka describes it.
struct AlertInfo {
  uint64_t time_ns = 0;
  std::string_view severity;    // empty when the rule gave none
  std::string_view confidence;  // empty when the rule gave none
  std::string_view description;
  std::span<const AlertItem> sources, targets;
};

/// Haka's text layout of an alert ("alert: id = = <>" then tab-indented
/// fields), ending with a newline.
std::string format_alert_text(const AlertInfo& a);

/// The alert as one JSON object and a newline (--alerts FILE): id, time_ns,
/// severity, confidence, description, sources/targets as lists of
/// {"address": ...} / {"service": ...}.
std::string format_alert_json(const AlertInfo& a, uint64_t id);

/// What a rule asks of a connection.
enum class FlowAction : uint8_t { drop, reset, halfreset, send };
/// What a rule asks of a packet.
enum class PacketAction : uint8_t { drop, send };

/// A connection's addresses as handed to Lua: client (src) and server (dst).
struct FlowInfo {
  uint32_t srcip = 0, dstip = 0; // IPv4, host order
  uint16_t srcport = 0, dstport = 0;
  bool ipv6 = false;                     // then the addresses are src6/dst6
  uint8_t src6[16] = {}, dst6[16] = {};  // IPv6, network order
};

/// A connection known to the runtime: slot index and generation. A stale
/// reference (after close_flow) is refused everywhere.
struct FlowRef {
  uint32_t index = 0;
  uint32_t gen = 0;
};

/// A packet lent to Lua for one call: the runtime never frees it.
struct PacketRef {
  rte_mbuf* m = nullptr;  // decoded (net::PacketMeta valid), IPv4 or IPv6 TCP
  bool writable = true;   // false in pass-through: header writes fail with "read only buffer"
};

/// What a dispatch ended with.
enum class Status : uint8_t {
  ok,    // every listener ran (or one called haka.abort())
  error, // a listener raised: logged with file:line; drop the connection
  limit, // a listener exceeded the instruction bound: logged; drop the connection
};

/// What apply_policy decided for its packet.
enum class PolicyVerdict : uint8_t { accept, drop };

/// The engine side of the runtime: sinks and actions. Every callback runs on
/// the worker, inside a dispatch call, synchronously.
class Host {
public:
  virtual ~Host() = default;
  /// A `level section: message` line (haka.log, runtime errors).
  virtual void log(LogLevel level, std::string_view section, std::string_view message) = 0;
  /// An alert (haka.alert, policy alerts); the views live for the call only.
  virtual void alert(const AlertInfo& a) = 0;
  /// Lua's print(): one line, without its newline.
  virtual void print(std::string_view line) = 0;
  /// flow:drop()/reset()/halfreset()/send(dir): `cookie` is the one given to open_flow.
  /// `dir` is meaningful for send only (has_dir false: both directions).
  virtual void flow_action(void* cookie, FlowAction action, bool has_dir, tcp::Dir dir) = 0;
  /// pkt:drop() / pkt:send() on a packet lent to Lua.
  virtual void packet_action(rte_mbuf* m, PacketAction action) = 0;
  /// Network time, ns (packet time offline).
  virtual uint64_t now_ns() = 0;
  /// A packet forged by a rule (haka.dissectors.tcp.create ... :inject()),
  /// built in RuntimeConfig::forge_pool, not decoded. The host owns it from
  /// now on; false: refused (e.g. pass-through), the host has freed it.
  virtual bool inject(rte_mbuf* m) {
    rte_pktmbuf_free(m);
    return false;
  }
};

/// How a runtime is built.
struct RuntimeConfig {
  std::vector<std::string> rule_files;  // loaded in order
  std::string lua_dir;                  // the API modules (lua/); empty: HAKA_DPDK_SOURCE_LUA_DIR
  vbuffer::BufferPool* pool = nullptr;  // the worker's chunk pool (buffers made by rules); must outlive the runtime
  uint32_t max_flows = 1u << 16;        // connections known at once (slots allocated now)
  uint32_t max_buffers = 4096;          // vbuffers made by rules alive at once
  uint64_t instruction_limit = 50'000'000; // per dispatch call, 0: no bound
  bool jit_rules = false;               // let the JIT compile rule loops too (then the bound misses them)
  rte_mempool* forge_pool = nullptr;    // mbufs for packets forged by rules (nullptr: inject() raises)
  net::LinkType forge_link = net::LinkType::ethernet; // link header of forged frames
};

/// Counts of what the runtime did.
struct RuntimeCounters {
  uint64_t calls = 0;          // dispatch calls into Lua
  uint64_t errors = 0;         // dispatches that ended in a rule error
  uint64_t limits = 0;         // dispatches stopped by the instruction bound
  uint64_t stale_handles = 0;  // calls refused for a stale flow/packet handle
  uint64_t flows_refused = 0;  // open_flow with every slot taken
  uint64_t injected = 0;       // forged packets handed to Host::inject
};

/// One LuaJIT VM with the rules loaded. Not thread-safe: one per worker.
class Runtime {
public:
  /// Builds the VM and loads the API and every rule file. nullptr with `err`
  /// ("file:line: message") when a file fails to load or run.
  static std::unique_ptr<Runtime> create(const RuntimeConfig& cfg, Host& host, std::string& err);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Some rule (or policy entry, for new_connection) listens to `e`: when
  /// false, the matching dispatch call is never needed (and costs no Lua call).
  bool wants(Event e) const { return (mask_ >> static_cast<unsigned>(e)) & 1u; }
  /// Some streamed receive_data rule exists (the engine then reports stream ends).
  bool has_streamed() const { return has_streamed_; }

  /// A slot for a new connection; `cookie` is handed back in Host::flow_action.
  /// index == UINT32_MAX (gen 0) when every slot is taken (counted).
  FlowRef open_flow(const FlowInfo& info, void* cookie);
  /// The connection ended: streamed coroutines still waiting are resumed once
  /// with end of stream (wait() returns false) if `streams` are given (they must
  /// still hold their bytes), then every Lua object of the flow turns stale.
  Status close_flow(FlowRef f, vbuffer::Stream* up = nullptr, vbuffer::Stream* down = nullptr);
  /// The reference still names a live connection.
  bool valid(FlowRef f) const;

  Status on_tcp_packet(PacketRef pkt, bool send);
  Status on_new_connection(FlowRef f, PacketRef pkt);
  Status on_receive_packet(FlowRef f, PacketRef pkt, tcp::Dir dir);
  /// New in-order bytes of `dir` start at `current` (in `stream`). Plain rules
  /// get the (begin, length) sub of the bytes available from there (called
  /// only when there is at least one); streamed rules are started or resumed.
  /// `end_of_stream`: the direction is over (FIN, RST, drop): waiting streamed
  /// rules see wait() return false.
  Status on_receive_data(FlowRef f, tcp::Dir dir, vbuffer::Stream& stream, const vbuffer::Iterator& current,
                         bool end_of_stream);
  Status on_end_connection(FlowRef f);

  /// A pattern a rule declared (options.patterns; beyond Haka): scanned by
  /// the engine in every stream, the rule called only on a match.
  struct DeclaredPattern {
    std::string text;     // Haka's regexp syntax
    uint32_t flags = 0;   // match::flag bits
    std::string location; // the rule's file:line
  };
  /// Every declared pattern; pattern id = index + 1.
  std::vector<DeclaredPattern> declared_patterns();
  /// Pattern `id` matched in direction `dir` over stream bytes [begin, end).
  Status on_pattern_match(FlowRef f, tcp::Dir dir, uint32_t id, uint64_t begin, uint64_t end);
  /// Applies a packet policy (no_connection_found, unexpected_packet,
  /// invalid_handshake) with the packet as context and its addresses and
  /// ports as values: last eligible entry wins; the defaults alert and drop.
  /// (new_connection is applied inside on_new_connection.)
  PolicyVerdict apply_policy(tcp::Policy which, PacketRef pkt);

  const RuntimeCounters& counters() const { return counters_; }
  /// The VM (tests).
  lua_State* state() const { return L_; }

  // Internal: the C ABI (abi.cpp) reaches these.
  struct PacketSlot {
    rte_mbuf* m = nullptr;
    uint32_t gen = 1;
    bool writable = false;
    bool dropped = false;
    bool header_written = false; // recompute the TCP checksum when the packet is handed back
    bool checksum_set = false;
  };
  struct FlowSlot {
    void* cookie = nullptr;
    FlowInfo info;
    uint32_t gen = 1;
    uint32_t next_free = 0;
    bool live = false;
    bool lua_state = false; // Lua holds per-flow state (objects, coroutines) to forget at close
  };
  PacketSlot* packet(uint32_t index, uint32_t gen);
  FlowSlot* flow(uint32_t index, uint32_t gen);
  Host& host() { return host_; }
  vbuffer::BufferPool* pool() { return pool_; }
  vbuffer::Buffer* buffer(uint32_t index, uint32_t gen);
  bool new_buffer(uint32_t& index, uint32_t& gen);
  void free_buffer(uint32_t index, uint32_t gen);
  void install_buffer(uint32_t index, vbuffer::Buffer&& b) { buffers_[index] = std::move(b); }
  RuntimeCounters& mutable_counters() { return counters_; }
  const RuntimeConfig& config() const { return cfg_; }
  std::span<uint8_t> forge_scratch() { return forge_scratch_; }
  void instruction_tick(lua_State* L);
  void loop_tick(lua_State* L);
  bool over_limit() const { return limit_hit_; }
  /// The receive_data position being dispatched (nullptr outside one).
  const vbuffer::Iterator* current() const { return current_; }

private:
  Runtime(const RuntimeConfig& cfg, Host& host);
  bool boot(std::string& err);
  bool load_rule(const std::string& path, std::string& err);
  /// Dispatch functions of haka/boot.lua, referenced once at boot (no lookup by name per call).
  /// The first five are the event dispatchers, called with D.handler as lua_pcall's error function.
  enum class Fn : uint8_t {
    tcp_packet, new_connection, receive_packet, receive_data, end_connection, // event dispatchers
    pattern_match, close_flow, apply_policy,                                  // protected on the Lua side
    count
  };
  /// Pushes what call() needs for `f` (the outer flow state when nested, the
  /// error handler, the function); returns the stack top before them.
  int push_fn(Fn f);
  /// Calls the function pushed by push_fn(f) (stack top `base` before it) with `nargs` arguments.
  Status call(Fn f, int base, int nargs);
  void set_current(const vbuffer::Iterator& it) { current_ = &it; }
  void clear_current() { current_ = nullptr; }
  bool can_lend();
  uint32_t lend(PacketRef pkt);
  void take_back(uint32_t slot);

  Host& host_;
  RuntimeConfig cfg_;
  vbuffer::BufferPool* pool_;
  lua_State* L_ = nullptr;
  uint32_t mask_ = 0;
  bool has_streamed_ = false;
  int ref_dispatch_ = -2; // LUA_NOREF
  int ref_fn_[static_cast<int>(Fn::count)] = {};
  int ref_handler_ = -2; // D.handler: error function of the event dispatchers
  int ref_abort_ = -2;   // haka.ABORT: the error value of haka.abort() (not an error)
  int ref_haka_ = -2;    // the haka table (its _current_state, restored after a nested dispatch)

  static constexpr uint32_t kPacketSlots = 16; // nested lends are few: one per dispatch
  PacketSlot packets_[kPacketSlots];
  uint32_t packet_top_ = 0;

  std::vector<FlowSlot> flows_;
  uint32_t flow_free_ = UINT32_MAX;

  std::vector<uint8_t> forge_scratch_; // payload of a packet being forged
  std::vector<vbuffer::Buffer> buffers_;
  std::vector<uint32_t> buffer_gen_;
  std::vector<uint32_t> buffer_free_;

  const vbuffer::Iterator* current_ = nullptr;
  uint32_t depth_ = 0;      // dispatch calls in progress (nested by host callbacks)
  uint64_t loop_ticks_ = 0; // API loop iterations in the current dispatch
  uint64_t ticks_ = 0;      // hook calls in the current dispatch
  uint64_t tick_limit_ = 0; // hook calls allowed per dispatch
  bool limit_hit_ = false;
  RuntimeCounters counters_;
};

} // namespace haka::lua
