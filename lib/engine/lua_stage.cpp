#include "engine/lua_stage.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "engine/tcp_pipeline.hpp"
#include "lua/regexp.hpp"
#include "net/packet_meta.hpp"

namespace haka::engine {

namespace {

// The connection's client and server.
lua::FlowInfo flow_info(const rte_mbuf* m, tcp::Dir d) {
  lua::FlowInfo fi;
  uint8_t scratch[32];
  const net::PacketMeta& pm = net::meta(m);
  const uint8_t* a = net::ip_addresses(m, scratch);
  uint16_t sport = 0, dport = 0;
  net::tcp_ports(m, sport, dport);
  if (a == nullptr) return fi;
  const bool up = d == tcp::Dir::up;
  if (pm.l3_kind == static_cast<uint8_t>(net::L3Kind::ipv6)) {
    fi.ipv6 = true;
    std::memcpy(fi.src6, up ? a : a + 16, 16);
    std::memcpy(fi.dst6, up ? a + 16 : a, 16);
    fi.srcport = up ? sport : dport;
    fi.dstport = up ? dport : sport;
    return fi;
  }
  const uint32_t src = uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
  const uint32_t dst = uint32_t{a[4]} << 24 | uint32_t{a[5]} << 16 | uint32_t{a[6]} << 8 | a[7];
  fi.srcip = up ? src : dst;
  fi.dstip = up ? dst : src;
  fi.srcport = up ? sport : dport;
  fi.dstport = up ? dport : sport;
  return fi;
}

} // namespace

LuaStage::LuaStage(const LuaStageConfig& cfg, TcpPipeline& pipe, AlertSink& alerts, uint32_t slots)
    : cfg_(cfg), pipe_(pipe), alerts_(alerts), flows_(slots) {}

LuaStage::~LuaStage() = default;

std::unique_ptr<LuaStage> LuaStage::create(const LuaStageConfig& cfg, TcpPipeline& pipe, AlertSink& alerts,
                                           vbuffer::BufferPool& pool, uint32_t slots, std::string& err) {
  std::unique_ptr<LuaStage> s(new LuaStage(cfg, pipe, alerts, slots));
  lua::RuntimeConfig rc;
  rc.rule_files = cfg.rule_files;
  rc.lua_dir = cfg.lua_dir;
  rc.pool = &pool;
  rc.max_flows = cfg.flows;
  rc.instruction_limit = cfg.instruction_limit;
  rc.forge_pool = cfg.forge_pool;
  rc.forge_link = cfg.forge_link;
  s->rt_ = lua::Runtime::create(rc, *s, err);
  if (!s->rt_) return nullptr;
  s->wants_flows_ = s->rt_->wants(lua::Event::new_connection) || s->rt_->wants(lua::Event::receive_packet) ||
                    s->rt_->wants(lua::Event::receive_data) || s->rt_->wants(lua::Event::end_connection);
  s->conns_base_ = pipe.connection_base();
  s->pending_ends_.reserve(256);
  return s;
}

uint32_t LuaStage::slot_of(const tcp::Connection& c) const { return static_cast<uint32_t>(&c - conns_base_); }

bool LuaStage::settle(lua::Status st, tcp::Connection* c) {
  if (st == lua::Status::ok) return true;
  ++(st == lua::Status::limit ? t_.rule_limits : t_.rule_errors);
  // One path for every rule error (DESIGN.md): the connection is dropped,
  // end_connection fires, the worker goes on.
  if (c != nullptr && c->state != tcp::State::reset && c->state != tcp::State::finish)
    pipe_.rule_drop(*c, tcp::EndReason::error);
  return false;
}

bool LuaStage::tcp_packet(rte_mbuf* m, bool send) {
  now_ = net::meta(m).timestamp_ns;
  current_ = m;
  current_dropped_ = false;
  const lua::Status st = dispatch([&] { return rt_->on_tcp_packet(ref(m), send); });
  current_ = nullptr;
  return settle(st, nullptr) && !current_dropped_;
}

bool LuaStage::new_connection(uint32_t slot, tcp::Connection& c, rte_mbuf* m) {
  if (!wants_flows_) return true;
  now_ = net::meta(m).timestamp_ns;
  lua::FlowRef f = rt_->open_flow(flow_info(m, tcp::Dir::up), &c);
  if (f.gen == 0) {
    // Every runtime slot taken: the rules could not see this connection,
    // so it does not open (fail closed, counted).
    ++t_.flows_refused;
    pipe_.rule_drop(c, tcp::EndReason::dropped);
    return false;
  }
  flows_[slot] = f;
  if (!rt_->wants(lua::Event::new_connection)) return true;
  current_ = m;
  current_dropped_ = false;
  const lua::Status st = dispatch([&] { return rt_->on_new_connection(f, ref(m)); });
  current_ = nullptr;
  return settle(st, &c) && !current_dropped_;
}

bool LuaStage::receive_packet(uint32_t slot, tcp::Connection& c, tcp::Dir d, rte_mbuf* m) {
  const lua::FlowRef f = flows_[slot];
  if (f.gen == 0 || !rt_->wants(lua::Event::receive_packet)) return true;
  now_ = net::meta(m).timestamp_ns;
  current_ = m;
  current_dropped_ = false;
  const lua::Status st = dispatch([&] { return rt_->on_receive_packet(f, ref(m), d); });
  current_ = nullptr;
  return settle(st, &c) && !current_dropped_;
}

void LuaStage::end_connection(uint32_t slot, tcp::Connection&) {
  const lua::FlowRef f = flows_[slot];
  if (f.gen == 0) return;
  flows_[slot] = lua::FlowRef{};
  if (depth_ > 0) {
    pending_ends_.push_back(f);
    return;
  }
  pending_ends_.push_back(f);
  run_pending_ends();
}

void LuaStage::run_pending_ends() {
  // Each end may itself end others (an end_connection rule dropping another
  // flow): take them one at a time.
  while (!pending_ends_.empty()) {
    const lua::FlowRef f = pending_ends_.back();
    pending_ends_.pop_back();
    ++depth_;
    if (rt_->wants(lua::Event::end_connection)) {
      // An error in an end_connection rule cannot drop anything more: counted and logged.
      const lua::Status st = rt_->on_end_connection(f);
      if (st != lua::Status::ok) ++(st == lua::Status::limit ? t_.rule_limits : t_.rule_errors);
    }
    rt_->close_flow(f);
    --depth_;
  }
}

bool LuaStage::policy(tcp::Policy p, rte_mbuf* m) {
  now_ = net::meta(m).timestamp_ns;
  current_ = m;
  current_dropped_ = false;
  lua::PolicyVerdict v = lua::PolicyVerdict::drop;
  dispatch([&] {
    v = rt_->apply_policy(p, ref(m));
    return lua::Status::ok;
  });
  current_ = nullptr;
  return v == lua::PolicyVerdict::accept;
}

void LuaStage::on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t) {
  const uint32_t slot = slot_of(*conn.conn);
  const lua::FlowRef f = flows_[slot];
  if (f.gen == 0 || conn.stream == nullptr) return;
  now_ = net::meta(conn.packet).timestamp_ns;
  const lua::Status st = dispatch([&] { return rt_->on_receive_data(f, d, *conn.stream, first, false); });
  settle(st, conn.conn);
}

void LuaStage::on_end(const StreamConn& conn, tcp::Dir d) {
  if (!rt_->has_streamed() || conn.stream == nullptr) return;
  const uint32_t slot = slot_of(*conn.conn);
  const lua::FlowRef f = flows_[slot];
  if (f.gen == 0) return;
  const vbuffer::Iterator end = conn.stream->data().end();
  settle(dispatch([&] { return rt_->on_receive_data(f, d, *conn.stream, end, true); }), conn.conn);
}

void LuaStage::on_close(const StreamConn&) {}

void LuaStage::log(lua::LogLevel level, std::string_view section, std::string_view message) {
  std::fprintf(cfg_.log, "%s %.*s: %.*s\n", lua::level_name(level), static_cast<int>(section.size()), section.data(),
               static_cast<int>(message.size()), message.data());
}

void LuaStage::print(std::string_view line) {
  std::fprintf(cfg_.log, "%.*s\n", static_cast<int>(line.size()), line.data());
}

namespace {
void json_string(std::string& o, std::string_view s) {
  o += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (u < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", u);
      o += b;
    } else {
      o += c;
    }
  }
  o += '"';
}
void json_items(std::string& o, const char* name, std::span<const lua::AlertItem> items) {
  o += ",\"";
  o += name;
  o += "\":[";
  bool first = true;
  for (const lua::AlertItem& i : items) {
    if (!first) o += ',';
    first = false;
    o += i.kind == lua::AlertItem::Kind::service ? "{\"service\":" : "{\"address\":";
    json_string(o, i.text);
    o += '}';
  }
  o += ']';
}
} // namespace

void LuaStage::alert(const lua::AlertInfo& a) {
  std::string j = "\"description\":";
  json_string(j, a.description);
  if (!a.severity.empty()) {
    j += ",\"severity\":";
    json_string(j, a.severity);
  }
  if (!a.confidence.empty()) {
    j += ",\"confidence\":";
    json_string(j, a.confidence);
  }
  json_items(j, "sources", a.sources);
  json_items(j, "targets", a.targets);
  alerts_.raise_formatted(lua::format_alert_text(a), a.time_ns != 0 ? a.time_ns : now_, j);
}

void LuaStage::flow_action(void* cookie, lua::FlowAction action, bool has_dir, tcp::Dir dir) {
  auto* c = static_cast<tcp::Connection*>(cookie);
  if (c == nullptr) return;
  switch (action) {
    case lua::FlowAction::drop:
      ++t_.flows_dropped;
      pipe_.rule_drop(*c, tcp::EndReason::dropped);
      break;
    case lua::FlowAction::reset:
    case lua::FlowAction::halfreset: {
      ++t_.flows_reset;
      const rte_mbuf* m = current_ != nullptr ? current_ : pipe_.current_packet();
      if (m != nullptr) pipe_.rule_reset(*c, m, pipe_.current_dir(), action == lua::FlowAction::halfreset);
      else pipe_.rule_drop(*c, tcp::EndReason::dropped);
      break;
    }
    case lua::FlowAction::send:
      if (has_dir) pipe_.rule_send(*c, dir);
      else {
        pipe_.rule_send(*c, tcp::Dir::up);
        pipe_.rule_send(*c, tcp::Dir::down);
      }
      break;
  }
  if (action != lua::FlowAction::send && pipe_.current_connection() == c) current_dropped_ = true;
}

bool LuaStage::inject(rte_mbuf* m) {
  pipe_.inject_packet(m);
  return true;
}

void LuaStage::packet_action(rte_mbuf* m, lua::PacketAction action) {
  if (action == lua::PacketAction::drop && m == current_) {
    current_dropped_ = true;
    ++t_.packets_dropped;
  }
}

void LuaStage::on_match(const StreamConn& conn, tcp::Dir d, const match::Match& m) {
  const lua::FlowRef f = flows_[slot_of(*conn.conn)];
  if (f.gen == 0) return;
  if (conn.packet != nullptr) now_ = net::meta(conn.packet).timestamp_ns;
  settle(dispatch([&] { return rt_->on_pattern_match(f, d, m.id, m.begin, m.end); }), conn.conn);
}

std::shared_ptr<const match::Database> LuaStage::declared_patterns(std::string& err) {
  const std::vector<lua::Runtime::DeclaredPattern> decl = rt_->declared_patterns();
  if (decl.empty()) return nullptr;
  wants_flows_ = true; // matches are reported on flows
  std::vector<match::Pattern> pats;
  std::string key;
  for (std::size_t i = 0; i < decl.size(); ++i) {
    pats.push_back(match::Pattern{decl[i].text, decl[i].flags, static_cast<uint32_t>(i + 1)});
    key += std::to_string(decl[i].flags);
    key += ':';
    key += decl[i].text;
    key += '\0';
  }
  // Every worker loads the same rules: the first compiles, the others share
  // (load time only, hence the lock).
  static std::mutex lock;
  static std::unordered_map<std::string, std::shared_ptr<const match::Database>> cache;
  std::lock_guard<std::mutex> g(lock);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  match::DatabaseOptions opt;
  opt.block = false;
  match::CompileError ce;
  auto db = match::Database::compile(pats, opt, ce);
  if (!db) {
    const std::size_t i = ce.index >= 0 ? static_cast<std::size_t>(ce.index) : 0;
    err = decl[i].location + ": " + ce.describe();
    return nullptr;
  }
  cache.emplace(key, db);
  return db;
}

std::vector<CounterGroup> LuaStage::collect() const {
  const lua::RuntimeCounters& k = rt_->counters();
  CounterGroup g{"rules", {}};
  g.values = {{"calls", k.calls},
              {"errors", t_.rule_errors},
              {"instruction_limit", t_.rule_limits},
              {"stale_handles", k.stale_handles},
              {"flows_refused", t_.flows_refused},
              {"packets_dropped", t_.packets_dropped},
              {"flows_dropped", t_.flows_dropped},
              {"flows_reset", t_.flows_reset}};
  std::vector<CounterGroup> out{std::move(g)};
  CounterGroup rx{"regexp", {}};
  lua::regexp_counters(rt_.get()).for_each([&](const char* name, uint64_t v) { rx.values.emplace_back(name, v); });
  out.push_back(std::move(rx));
  return out;
}

} // namespace haka::engine
