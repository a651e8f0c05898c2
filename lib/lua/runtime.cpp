#include "lua/runtime.hpp"

#include <cstdio>
#include <cstring>
#include <iterator>

#include <lua.hpp>

#include "haka_config.h"
#include "lua/abi.hpp"
#include "lua/packet.hpp"
#include "net/forge.hpp"

namespace haka::lua {

namespace {

// Instructions between two count-hook calls: the bound is checked this often.
constexpr int kHookEvery = 10000;

// The runtime of a VM (one VM per runtime), for the hook and the C functions.
Runtime* runtime_of(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "haka.runtime");
  auto* rt = static_cast<Runtime*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return rt;
}

void count_hook(lua_State* L, lua_Debug*) { runtime_of(L)->instruction_tick(L); }

std::string_view arg_view(lua_State* L, int i) {
  std::size_t n = 0;
  const char* s = lua_tolstring(L, i, &n);
  return s != nullptr ? std::string_view(s, n) : std::string_view();
}

// __haka_host_log(level, section, message)
int host_log(lua_State* L) {
  auto lvl = static_cast<LogLevel>(luaL_checkinteger(L, 1));
  if (static_cast<int>(lvl) > 3) lvl = LogLevel::error;
  runtime_of(L)->host().log(lvl, arg_view(L, 2), arg_view(L, 3));
  return 0;
}

// __haka_host_print(line)
int host_print(lua_State* L) {
  runtime_of(L)->host().print(arg_view(L, 1));
  return 0;
}

// __haka_host_now() -> seconds (number)
int host_now(lua_State* L) {
  lua_pushnumber(L, static_cast<double>(runtime_of(L)->host().now_ns()) / 1e9);
  return 1;
}

// Reads a list of {kind = 'address'|'service', text = ...} items at table index `t`.
std::size_t alert_items(lua_State* L, int t, AlertItem* out, std::size_t cap) {
  std::size_t n = 0;
  if (!lua_istable(L, t)) return 0;
  for (int i = 1; n < cap; ++i) {
    lua_rawgeti(L, t, i);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    lua_getfield(L, -1, "kind");
    lua_getfield(L, -2, "text");
    std::string_view kind = arg_view(L, -2);
    out[n].kind = kind == "service" ? AlertItem::Kind::service : AlertItem::Kind::address;
    out[n].text = arg_view(L, -1); // the string stays referenced by the item table, itself in `t`
    lua_pop(L, 3);
    ++n;
  }
  return n;
}

// __haka_host_alert{description=, severity=, confidence=, sources={items}, targets={items}}
int host_alert(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  Runtime* rt = runtime_of(L);
  AlertInfo a;
  a.time_ns = rt->host().now_ns();
  lua_getfield(L, 1, "description");
  lua_getfield(L, 1, "severity");
  lua_getfield(L, 1, "confidence");
  lua_getfield(L, 1, "sources");
  lua_getfield(L, 1, "targets");
  a.description = arg_view(L, 2);
  a.severity = arg_view(L, 3);
  a.confidence = arg_view(L, 4);
  AlertItem src[16], dst[16];
  a.sources = std::span<const AlertItem>(src, alert_items(L, 5, src, 16));
  a.targets = std::span<const AlertItem>(dst, alert_items(L, 6, dst, 16));
  rt->host().alert(a);
  lua_settop(L, 1);
  return 0;
}

// __haka_flow_action(slot, gen, action, dir): a classic C function, not an
// FFI call, so the host may re-enter the runtime (e.g. fire end_connection).
int flow_action(lua_State* L) {
  int rc = abi_table()->flow_action(runtime_of(L), static_cast<uint32_t>(luaL_checkinteger(L, 1)),
                                    static_cast<uint32_t>(luaL_checkinteger(L, 2)), static_cast<int>(luaL_checkinteger(L, 3)),
                                    static_cast<int>(luaL_optinteger(L, 4, -1)));
  lua_pushinteger(L, rc);
  return 1;
}

// __haka_pkt_action(slot, gen, action): same reason.
int pkt_action(lua_State* L) {
  int rc = abi_table()->pkt_action(runtime_of(L), static_cast<uint32_t>(luaL_checkinteger(L, 1)),
                                   static_cast<uint32_t>(luaL_checkinteger(L, 2)), static_cast<int>(luaL_checkinteger(L, 3)));
  lua_pushinteger(L, rc);
  return 1;
}

// __haka_call(f, ...): calls a rule function through a C frame. Rule loops
// are interpreter-only (boot.lua's loop guard): a dispatcher trace recording
// into a rule with a loop would abort (and end blacklisted, for every rule),
// while a C function is stitched around: the dispatcher stays compiled.
// Not for streamed rules: they yield, and cannot across this C frame.
int call_rule(lua_State* L) {
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

uint32_t field_u32(lua_State* L, int t, const char* k, uint32_t def) {
  lua_getfield(L, t, k);
  uint32_t v = lua_isnumber(L, -1) ? static_cast<uint32_t>(lua_tonumber(L, -1)) : def;
  lua_pop(L, 1);
  return v;
}

// __haka_inject{src=, dst=, ttl=, id=, srcport=, dstport=, seq=, ack=, flags=,
// window=, payload_slot=, payload_gen=}: forges an IPv4 TCP frame and hands it to
// the host. Returns true, or false and a message.
int inject(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  Runtime* rt = runtime_of(L);
  const RuntimeConfig& cfg = rt->config();
  if (cfg.forge_pool == nullptr) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "packet injection is not available");
    return 2;
  }
  net::TcpEndpoints ep;
  ep.l3 = net::L3Kind::ipv4;
  uint32_t src = field_u32(L, 1, "src", 0), dst = field_u32(L, 1, "dst", 0);
  for (int i = 0; i < 4; ++i) {
    ep.src[i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    ep.dst[i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  ep.sport = static_cast<uint16_t>(field_u32(L, 1, "srcport", 0));
  ep.dport = static_cast<uint16_t>(field_u32(L, 1, "dstport", 0));
  net::TcpSegmentSpec seg;
  seg.seq = field_u32(L, 1, "seq", 0);
  seg.ack = field_u32(L, 1, "ack", 0);
  seg.flags = static_cast<uint8_t>(field_u32(L, 1, "flags", 0));
  seg.window = static_cast<uint16_t>(field_u32(L, 1, "window", 0));
  seg.ttl = static_cast<uint8_t>(field_u32(L, 1, "ttl", 64));
  seg.ip_id = static_cast<uint16_t>(field_u32(L, 1, "id", 0));
  std::size_t n = 0;
  uint32_t slot = field_u32(L, 1, "payload_slot", UINT32_MAX);
  if (slot != UINT32_MAX) {
    vbuffer::Buffer* b = rt->buffer(slot, field_u32(L, 1, "payload_gen", 0));
    if (b == nullptr) {
      lua_pushboolean(L, 0);
      lua_pushstring(L, "invalid buffer (freed or moved)");
      return 2;
    }
    n = b->copy_to(rt->forge_scratch());
    if (n < b->size()) {
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "forged payload too large");
      return 2;
    }
  }
  seg.payload = std::span<const uint8_t>(rt->forge_scratch().data(), n);
  rte_mbuf* m = net::forge_tcp(cfg.forge_pool, cfg.forge_link, ep, seg);
  if (m == nullptr) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "cannot forge the packet (pool empty or too large)");
    return 2;
  }
  if (!rt->host().inject(m)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "packet injection refused");
    return 2;
  }
  ++rt->mutable_counters().injected;
  lua_pushboolean(L, 1);
  return 1;
}

// __haka_tick(): one iteration of an API loop that runs rule code (a
// dissector's update loop, state machine jumps). Such loops are compiled
// API code where the count hook does not run: they count here instead.
int tick(lua_State* L) {
  runtime_of(L)->loop_tick(L);
  return 0;
}

// __haka_over(): the current dispatch went over the bound (pcall and
// friends then re-raise instead of returning the error to the rule).
int over(lua_State* L) {
  lua_pushboolean(L, runtime_of(L)->over_limit());
  return 1;
}

// __haka_topointer(v): the address of a GC object (a function prototype from
// jit.util.funck), for the loop guard of boot.lua, which checks what it finds
// there against jit.util.funcbc before touching anything.
int topointer(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<void*>(lua_topointer(L, 1)));
  return 1;
}

} // namespace

const char* level_name(LogLevel l) {
  switch (l) {
  case LogLevel::debug: return "debug";
  case LogLevel::info: return "info";
  case LogLevel::warning: return "warning";
  case LogLevel::error: return "error";
  }
  return "error";
}

std::string format_alert_text(const AlertInfo& a) {
  std::string s = "alert: id = = <>\n";
  if (!a.severity.empty()) s.append("\tseverity = ").append(a.severity).append("\n");
  if (!a.confidence.empty()) s.append("\tconfidence = ").append(a.confidence).append("\n");
  s.append("\tdescription = ").append(a.description).append("\n");
  auto list = [&s](const char* name, std::span<const AlertItem> items) {
    if (items.empty()) return;
    s.append("\t").append(name).append(" = {\n");
    for (const AlertItem& i : items)
      s.append(i.kind == AlertItem::Kind::service ? "\t\tservice: " : "\t\taddress: ").append(i.text).append("\n");
    s.append("\t}\n");
  };
  list("sources", a.sources);
  list("targets", a.targets);
  return s;
}

namespace {

void json_string(std::string& s, std::string_view v) {
  s += '"';
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      s += buf;
    } else {
      s += c;
    }
  }
  s += '"';
}

void json_items(std::string& s, const char* name, std::span<const AlertItem> items) {
  if (items.empty()) return;
  s += ",\"";
  s += name;
  s += "\":[";
  bool first = true;
  for (const AlertItem& i : items) {
    if (!first) s += ',';
    first = false;
    s += i.kind == AlertItem::Kind::service ? "{\"service\":" : "{\"address\":";
    json_string(s, i.text);
    s += '}';
  }
  s += ']';
}

} // namespace

std::string format_alert_json(const AlertInfo& a, uint64_t id) {
  std::string s = "{\"id\":" + std::to_string(id) + ",\"time_ns\":" + std::to_string(a.time_ns);
  if (!a.severity.empty()) {
    s += ",\"severity\":";
    json_string(s, a.severity);
  }
  if (!a.confidence.empty()) {
    s += ",\"confidence\":";
    json_string(s, a.confidence);
  }
  s += ",\"description\":";
  json_string(s, a.description);
  json_items(s, "sources", a.sources);
  json_items(s, "targets", a.targets);
  s += "}\n";
  return s;
}

Runtime::Runtime(const RuntimeConfig& cfg, Host& host) : host_(host), cfg_(cfg), pool_(cfg.pool) {}

Runtime::~Runtime() {
  // The VM first: its finalizers give buffers back while the slots still exist.
  if (L_ != nullptr) lua_close(L_);
  for (auto& b : buffers_) b.release();
}

std::unique_ptr<Runtime> Runtime::create(const RuntimeConfig& cfg, Host& host, std::string& err) {
  std::unique_ptr<Runtime> rt(new Runtime(cfg, host));
  if (cfg.lua_dir.empty()) rt->cfg_.lua_dir = HAKA_DPDK_SOURCE_LUA_DIR;
  if (cfg.max_flows == 0 || cfg.max_flows >= UINT32_MAX) {
    err = "max_flows must be 1..2^32-2";
    return nullptr;
  }
  rt->flows_.resize(cfg.max_flows);
  for (uint32_t i = 0; i < cfg.max_flows; ++i) rt->flows_[i].next_free = i + 1 < cfg.max_flows ? i + 1 : UINT32_MAX;
  rt->flow_free_ = 0;
  rt->buffers_.resize(cfg.max_buffers);
  rt->buffer_gen_.assign(cfg.max_buffers, 1);
  rt->buffer_free_.reserve(cfg.max_buffers);
  for (uint32_t i = cfg.max_buffers; i > 0; --i) rt->buffer_free_.push_back(i - 1);
  if (cfg.forge_pool != nullptr) rt->forge_scratch_.resize(65536);
  rt->tick_limit_ = cfg.instruction_limit == 0 ? 0 : (cfg.instruction_limit + kHookEvery - 1) / kHookEvery;
  if (!rt->boot(err)) return nullptr;
  for (const std::string& f : cfg.rule_files)
    if (!rt->load_rule(f, err)) return nullptr;
  // Listener mask and streamed flag, now that every rule is registered.
  lua_rawgeti(rt->L_, LUA_REGISTRYINDEX, rt->ref_dispatch_);
  lua_getfield(rt->L_, -1, "listener_mask");
  if (lua_pcall(rt->L_, 0, 2, 0) != 0) {
    err = std::string("listener mask: ") + lua_tostring(rt->L_, -1);
    return nullptr;
  }
  rt->mask_ = static_cast<uint32_t>(lua_tointeger(rt->L_, -2));
  rt->has_streamed_ = lua_toboolean(rt->L_, -1) != 0;
  lua_settop(rt->L_, 0);
  return rt;
}

bool Runtime::boot(std::string& err) {
  L_ = luaL_newstate();
  if (L_ == nullptr) {
    err = "cannot create a Lua state";
    return false;
  }
  luaL_openlibs(L_);
  lua_pushlightuserdata(L_, this);
  lua_setfield(L_, LUA_REGISTRYINDEX, "haka.runtime");
  lua_pushlightuserdata(L_, this);
  lua_setglobal(L_, "__haka_rt");
  lua_pushlightuserdata(L_, const_cast<hk_api*>(abi_table()));
  lua_setglobal(L_, "__haka_api");
  lua_pushstring(L_, kAbiCdef);
  lua_setglobal(L_, "__haka_cdef");
  lua_pushstring(L_, cfg_.lua_dir.c_str());
  lua_setglobal(L_, "__haka_lua_dir");
  lua_pushcfunction(L_, host_log);
  lua_setglobal(L_, "__haka_host_log");
  lua_pushcfunction(L_, host_print);
  lua_setglobal(L_, "__haka_host_print");
  lua_pushcfunction(L_, host_now);
  lua_setglobal(L_, "__haka_host_now");
  lua_pushcfunction(L_, host_alert);
  lua_setglobal(L_, "__haka_host_alert");
  lua_pushcfunction(L_, flow_action);
  lua_setglobal(L_, "__haka_flow_action");
  lua_pushcfunction(L_, pkt_action);
  lua_setglobal(L_, "__haka_pkt_action");
  lua_pushcfunction(L_, call_rule);
  lua_setglobal(L_, "__haka_call");
  lua_pushcfunction(L_, inject);
  lua_setglobal(L_, "__haka_inject");
  lua_pushcfunction(L_, topointer);
  lua_setglobal(L_, "__haka_topointer");
  lua_pushcfunction(L_, tick);
  lua_setglobal(L_, "__haka_tick");
  lua_pushcfunction(L_, over);
  lua_setglobal(L_, "__haka_over");

  std::string boot = cfg_.lua_dir + "/haka/boot.lua";
  if (luaL_loadfile(L_, boot.c_str()) != 0 || lua_pcall(L_, 0, 1, 0) != 0) {
    err = std::string("loading the Lua API: ") + lua_tostring(L_, -1);
    return false;
  }
  if (!lua_istable(L_, -1)) {
    err = "haka/boot.lua did not return its dispatch table";
    return false;
  }
  ref_dispatch_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  static constexpr const char* kFnNames[] = {"tcp_packet",    "new_connection", "receive_packet", "receive_data",
                                             "end_connection", "pattern_match", "close_flow",     "apply_policy"};
  static_assert(std::size(kFnNames) == static_cast<std::size_t>(Fn::count));
  lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_dispatch_);
  for (std::size_t i = 0; i < std::size(kFnNames); ++i) {
    lua_getfield(L_, -1, kFnNames[i]);
    if (!lua_isfunction(L_, -1)) {
      err = std::string("haka/boot.lua has no dispatch function ") + kFnNames[i];
      return false;
    }
    ref_fn_[i] = luaL_ref(L_, LUA_REGISTRYINDEX);
  }
  lua_getfield(L_, -1, "handler");
  ref_handler_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  lua_getfield(L_, -1, "abort");
  ref_abort_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  lua_getfield(L_, -1, "haka");
  ref_haka_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  lua_settop(L_, 0);
  // Rule loops run interpreted (unless jit_rules), under the count hook.
  if (tick_limit_ != 0) lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
  return true;
}

bool Runtime::load_rule(const std::string& path, std::string& err) {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_dispatch_);
  lua_getfield(L_, -1, "load_rule");
  lua_pushlstring(L_, path.data(), path.size());
  lua_pushboolean(L_, cfg_.jit_rules);
  ticks_ = 0;
  loop_ticks_ = 0;
  limit_hit_ = false;
  if (lua_pcall(L_, 2, 2, 0) != 0) {
    err = lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1) : "unknown error";
    lua_settop(L_, 0);
    return false;
  }
  bool ok = lua_toboolean(L_, -2) != 0;
  if (!ok) err = lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1) : "unknown error";
  lua_settop(L_, 0);
  return ok;
}

void Runtime::instruction_tick(lua_State* L) {
  // Once over the bound, every later tick raises again: a rule catching the
  // error with pcall cannot go on looping.
  if (tick_limit_ == 0) return;
  if (++ticks_ <= tick_limit_) return;
  limit_hit_ = true;
  luaL_error(L, "instruction limit exceeded (%llu instructions)",
             static_cast<unsigned long long>(cfg_.instruction_limit));
}

void Runtime::loop_tick(lua_State* L) {
  if (tick_limit_ == 0) return;
  // An API loop iteration counts as 1,000 instructions at least.
  if (++loop_ticks_ * 1000 <= cfg_.instruction_limit) return;
  limit_hit_ = true;
  luaL_error(L, "instruction limit exceeded (%llu instructions)",
             static_cast<unsigned long long>(cfg_.instruction_limit));
}

int Runtime::push_fn(Fn f) {
  const int base = lua_gettop(L_);
  if (depth_ > 0) {
    // Nested (a host callback re-entering): the outer dispatch's flow state,
    // put back by call() whether this one returns or raises.
    lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_haka_);
    lua_getfield(L_, -1, "_current_state");
    lua_remove(L_, -2);
  }
  lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_handler_);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_fn_[static_cast<int>(f)]);
  return base;
}

Status Runtime::call(Fn f, int base, int nargs) {
  // Stack from base + 1: [outer state if nested], handler, function, nargs
  // arguments. The event dispatchers run under `handler` and return true; the
  // others protect themselves and return (true) or (false, message).
  const bool dispatcher = f < Fn::pattern_match;
  const int fn_index = lua_gettop(L_) - nargs;
  ++counters_.calls;
  // A nested dispatch (a host callback re-entering) counts towards the
  // budget of the outer one.
  const bool nested = depth_++ > 0;
  if (!nested) {
    ticks_ = 0;
    loop_ticks_ = 0;
    limit_hit_ = false;
  }
  Status st = Status::ok;
  const int rc = lua_pcall(L_, nargs, 2, dispatcher ? fn_index - 1 : 0);
  --depth_;
  if (rc != 0) {
    lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_abort_);
    const bool aborted = dispatcher && lua_rawequal(L_, -1, -2) != 0;
    lua_pop(L_, 1);
    if (!aborted) {
      // A rule's error (positioned by the handler), or for the others an
      // error outside their own protection (the API itself).
      host_.log(LogLevel::error, "lua", lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1) : "error");
      st = dispatcher && limit_hit_ ? Status::limit : Status::error;
    }
  } else if (!lua_toboolean(L_, -2)) {
    const char* msg = lua_tostring(L_, -1);
    host_.log(LogLevel::error, "lua", msg != nullptr ? msg : "error");
    st = limit_hit_ ? Status::limit : Status::error;
  }
  if (st == Status::error) ++counters_.errors;
  if (st == Status::limit) ++counters_.limits;
  if (nested) {
    lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_haka_);
    lua_pushvalue(L_, base + 1);
    lua_setfield(L_, -2, "_current_state");
  }
  lua_settop(L_, base);
  return st;
}

Runtime::PacketSlot* Runtime::packet(uint32_t index, uint32_t gen) {
  if (index >= kPacketSlots || packets_[index].gen != gen || packets_[index].m == nullptr) {
    ++counters_.stale_handles;
    return nullptr;
  }
  return &packets_[index];
}

Runtime::FlowSlot* Runtime::flow(uint32_t index, uint32_t gen) {
  if (index >= flows_.size() || flows_[index].gen != gen || !flows_[index].live) {
    ++counters_.stale_handles;
    return nullptr;
  }
  return &flows_[index];
}

bool Runtime::valid(FlowRef f) const {
  return f.index < flows_.size() && flows_[f.index].gen == f.gen && flows_[f.index].live;
}

vbuffer::Buffer* Runtime::buffer(uint32_t index, uint32_t gen) {
  if (index >= buffers_.size() || buffer_gen_[index] != gen || !buffers_[index].valid()) return nullptr;
  return &buffers_[index];
}

bool Runtime::new_buffer(uint32_t& index, uint32_t& gen) {
  if (buffer_free_.empty()) return false;
  index = buffer_free_.back();
  buffer_free_.pop_back();
  gen = buffer_gen_[index];
  return true;
}

void Runtime::free_buffer(uint32_t index, uint32_t gen) {
  if (index >= buffers_.size() || buffer_gen_[index] != gen) return;
  buffers_[index].release();
  ++buffer_gen_[index];
  buffer_free_.push_back(index);
}

bool Runtime::can_lend() {
  if (packet_top_ < kPacketSlots) return true;
  // Only a host re-entering the runtime from its callbacks nests dispatches.
  host_.log(LogLevel::error, "lua", "dispatch nested too deeply (host re-entered the runtime)");
  ++counters_.errors;
  return false;
}

uint32_t Runtime::lend(PacketRef pkt) {
  uint32_t i = packet_top_++;
  PacketSlot& s = packets_[i];
  s.m = pkt.m;
  s.writable = pkt.writable;
  s.dropped = false;
  s.header_written = false;
  s.checksum_set = false;
  return i;
}

void Runtime::take_back(uint32_t i) {
  PacketSlot& s = packets_[i];
  if (s.header_written && !s.checksum_set) tcp_checksum(s.m, true);
  s.m = nullptr;
  ++s.gen; // every Lua object of this packet is now stale
  --packet_top_;
}

FlowRef Runtime::open_flow(const FlowInfo& info, void* cookie) {
  if (flow_free_ == UINT32_MAX) {
    ++counters_.flows_refused;
    return FlowRef{UINT32_MAX, 0};
  }
  uint32_t i = flow_free_;
  FlowSlot& s = flows_[i];
  flow_free_ = s.next_free;
  s.cookie = cookie;
  s.info = info;
  s.live = true;
  s.lua_state = false;
  return FlowRef{i, s.gen};
}

// Dispatch functions of haka/boot.lua, by registry reference.
#define HK_PUSH_FN(name)          \
  constexpr Fn fn = Fn::name; \
  const int base = push_fn(fn)

Status Runtime::close_flow(FlowRef f, vbuffer::Stream* up, vbuffer::Stream* down) {
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  FlowSlot& s = flows_[f.index];
  Status st = Status::ok;
  if (s.lua_state) {
    HK_PUSH_FN(close_flow);
    lua_pushinteger(L_, f.index);
    lua_pushinteger(L_, f.gen);
    lua_pushboolean(L_, up != nullptr || down != nullptr);
    st = call(fn, base, 3);
  }
  s.live = false;
  s.cookie = nullptr;
  ++s.gen;
  if (s.gen == 0) s.gen = 1;
  s.next_free = flow_free_;
  flow_free_ = f.index;
  return st;
}

Status Runtime::on_tcp_packet(PacketRef pkt, bool send) {
  if (!can_lend()) return Status::error;
  HK_PUSH_FN(tcp_packet);
  uint32_t p = lend(pkt);
  lua_pushinteger(L_, p);
  lua_pushinteger(L_, packets_[p].gen);
  lua_pushboolean(L_, send);
  Status st = call(fn, base, 3);
  take_back(p);
  return st;
}

Status Runtime::on_new_connection(FlowRef f, PacketRef pkt) {
  if (!can_lend()) return Status::error;
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  flows_[f.index].lua_state = true;
  HK_PUSH_FN(new_connection);
  uint32_t p = lend(pkt);
  lua_pushinteger(L_, f.index);
  lua_pushinteger(L_, f.gen);
  lua_pushinteger(L_, p);
  lua_pushinteger(L_, packets_[p].gen);
  Status st = call(fn, base, 4);
  take_back(p);
  return st;
}

Status Runtime::on_receive_packet(FlowRef f, PacketRef pkt, tcp::Dir dir) {
  if (!can_lend()) return Status::error;
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  flows_[f.index].lua_state = true;
  HK_PUSH_FN(receive_packet);
  uint32_t p = lend(pkt);
  lua_pushinteger(L_, f.index);
  lua_pushinteger(L_, f.gen);
  lua_pushinteger(L_, p);
  lua_pushinteger(L_, packets_[p].gen);
  lua_pushinteger(L_, static_cast<int>(dir));
  Status st = call(fn, base, 5);
  take_back(p);
  return st;
}

Status Runtime::on_receive_data(FlowRef f, tcp::Dir dir, vbuffer::Stream&, const vbuffer::Iterator& current,
                                bool end_of_stream) {
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  std::size_t avail = 0;
  if (current.available(avail) != vbuffer::Error::ok) avail = 0;
  // No new byte and no end: nothing any listener could see (a waiting
  // streamed rule would only wait again).
  if (avail == 0 && (!end_of_stream || !has_streamed_)) return Status::ok;
  flows_[f.index].lua_state = true;
  set_current(current);
  HK_PUSH_FN(receive_data);
  lua_pushinteger(L_, f.index);
  lua_pushinteger(L_, f.gen);
  lua_pushinteger(L_, static_cast<int>(dir));
  lua_pushinteger(L_, static_cast<lua_Integer>(avail));
  lua_pushboolean(L_, end_of_stream);
  Status st = call(fn, base, 5);
  clear_current();
  return st;
}

std::vector<Runtime::DeclaredPattern> Runtime::declared_patterns() {
  std::vector<DeclaredPattern> out;
  lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_dispatch_);
  lua_getfield(L_, -1, "pattern_count");
  if (lua_pcall(L_, 0, 1, 0) != 0) {
    lua_settop(L_, 0);
    return out;
  }
  const auto n = static_cast<int>(lua_tointeger(L_, -1));
  lua_settop(L_, 0);
  for (int i = 1; i <= n; ++i) {
    lua_rawgeti(L_, LUA_REGISTRYINDEX, ref_dispatch_);
    lua_getfield(L_, -1, "pattern_at");
    lua_pushinteger(L_, i);
    if (lua_pcall(L_, 1, 3, 0) != 0) break;
    DeclaredPattern p;
    std::size_t len = 0;
    const char* t = lua_tolstring(L_, -3, &len);
    if (t != nullptr) p.text.assign(t, len);
    p.flags = static_cast<uint32_t>(lua_tointeger(L_, -2));
    if (const char* l = lua_tostring(L_, -1)) p.location = l;
    out.push_back(std::move(p));
    lua_settop(L_, 0);
  }
  lua_settop(L_, 0);
  return out;
}

Status Runtime::on_pattern_match(FlowRef f, tcp::Dir dir, uint32_t id, uint64_t begin, uint64_t end) {
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  flows_[f.index].lua_state = true;
  HK_PUSH_FN(pattern_match);
  lua_pushinteger(L_, f.index);
  lua_pushinteger(L_, f.gen);
  lua_pushinteger(L_, static_cast<int>(dir));
  lua_pushinteger(L_, id);
  lua_pushnumber(L_, static_cast<lua_Number>(begin));
  lua_pushnumber(L_, static_cast<lua_Number>(end));
  return call(fn, base, 6);
}

Status Runtime::on_end_connection(FlowRef f) {
  if (!valid(f)) {
    ++counters_.stale_handles;
    return Status::error;
  }
  flows_[f.index].lua_state = true;
  HK_PUSH_FN(end_connection);
  lua_pushinteger(L_, f.index);
  lua_pushinteger(L_, f.gen);
  return call(fn, base, 2);
}

PolicyVerdict Runtime::apply_policy(tcp::Policy which, PacketRef pkt) {
  if (!can_lend()) return PolicyVerdict::drop;
  HK_PUSH_FN(apply_policy);
  uint32_t p = lend(pkt);
  lua_pushinteger(L_, static_cast<int>(which));
  lua_pushinteger(L_, p);
  lua_pushinteger(L_, packets_[p].gen);
  Status st = call(fn, base, 3);
  bool dropped = packets_[p].dropped;
  take_back(p);
  // A policy that fails to run leaves the packet to the safe side.
  return dropped || st != Status::ok ? PolicyVerdict::drop : PolicyVerdict::accept;
}

#undef HK_PUSH_FN

} // namespace haka::lua
