#include "engine/pattern_stage.hpp"

#include <arpa/inet.h>
#include <fstream>

#include "net/packet_meta.hpp"

namespace haka::engine {

PatternStage::PatternStage(std::shared_ptr<const match::Database> db, tcp::Connection* base, uint32_t slots,
                           PatternSink& sink)
    : db_(std::move(db)), base_(base), sink_(sink), states_(2 * std::size_t{slots}) {}

PatternStage::~PatternStage() {
  for (match::StreamScanner& s : states_)
    if (s.is_open()) s.discard(*scanner_);
}

std::unique_ptr<PatternStage> PatternStage::create(std::shared_ptr<const match::Database> db, tcp::Connection* base,
                                                   uint32_t slots, PatternSink& sink, std::string& err) {
  if (!db || db->stream() == nullptr) {
    err = "the pattern database has no stream mode";
    return nullptr;
  }
  std::unique_ptr<PatternStage> p(new PatternStage(db, base, slots, sink));
  // A state per direction of every connection slot at most.
  p->scanner_ = std::make_unique<match::Scanner>(db->stream_size(), 2 * std::size_t{slots});
  if (!p->scanner_->ok() || !p->scanner_->reserve(*db)) {
    err = "cannot allocate Hyperscan scratch and stream states for " + std::to_string(slots) + " connections";
    return nullptr;
  }
  return p;
}

void PatternStage::deliver(const StreamConn& conn, tcp::Dir d) {
  batch_dropped_ += batch_.dropped;
  // Copy out first: the sink may drop the connection, which closes states.
  std::array<match::Match, 64> found;
  const std::size_t n = batch_.count;
  for (std::size_t i = 0; i < n; ++i) found[i] = batch_.items[i];
  batch_.clear();
  batch_.dropped = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sink_.on_match(conn, d, found[i]);
    if (conn.conn->streams == 0) return; // dropped or reset by the sink
  }
}

void PatternStage::on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t n) {
  match::StreamScanner& st = state(*conn.conn, d);
  // The new bytes, chunk by chunk, without copying.
  vbuffer::Chunk* c = first.chunk();
  uint32_t off = first.offset();
  uint32_t left = n;
  while (left > 0 && c != nullptr) {
    if (c->kind == vbuffer::ChunkKind::data && c->size > off) {
      const uint32_t take = std::min(left, c->size - off);
      st.scan(*db_, *scanner_, std::span<const uint8_t>(c->bytes + off, take), batch_);
      left -= take;
    }
    if (c->is_end()) break;
    c = c->next;
    off = 0;
  }
  if (batch_.count != 0 || batch_.dropped != 0) deliver(conn, d);
}

void PatternStage::on_end(const StreamConn& conn, tcp::Dir d) {
  match::StreamScanner& st = state(*conn.conn, d);
  st.close(*db_, *scanner_, batch_); // end-anchored matches
  if (batch_.count != 0 || batch_.dropped != 0) deliver(conn, d);
}

void PatternStage::on_close(const StreamConn& conn) {
  for (tcp::Dir d : {tcp::Dir::up, tcp::Dir::down}) {
    match::StreamScanner& st = state(*conn.conn, d);
    if (st.is_open()) st.discard(*scanner_);
    st = match::StreamScanner{};
  }
}

std::vector<CounterGroup> PatternStage::collect() const {
  CounterGroup g{"patterns", {}};
  scanner_->counters().for_each([&](const char* name, uint64_t v) { g.values.emplace_back(name, v); });
  g.values.emplace_back("matches_dropped_batch_full", batch_dropped_);
  return {std::move(g)};
}

std::shared_ptr<const match::Database> load_pattern_file(const std::string& path, std::vector<std::string>& texts,
                                                          std::string& err) {
  std::ifstream f(path);
  if (!f) {
    err = "--patterns: cannot read '" + path + "'";
    return nullptr;
  }
  std::vector<match::Pattern> pats;
  std::vector<uint32_t> lines;
  std::string line;
  uint32_t no = 0;
  texts.clear();
  while (std::getline(f, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    pats.push_back(match::Pattern{line, 0, no});
    if (texts.size() <= no) texts.resize(no + 1);
    texts[no] = line;
  }
  if (pats.empty()) {
    err = "--patterns: '" + path + "' has no pattern";
    return nullptr;
  }
  match::DatabaseOptions opt;
  opt.block = false;
  match::CompileError ce;
  auto db = match::Database::compile(pats, opt, ce);
  if (!db) {
    err = path + ":" + std::to_string(ce.id) + ": " + ce.describe();
    return nullptr;
  }
  return db;
}

void PatternAlerts::on_match(const StreamConn& conn, tcp::Dir d, const match::Match& m) {
  char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
  uint16_t sport = 0, dport = 0;
  if (conn.packet != nullptr) {
    uint8_t scratch[32];
    const net::PacketMeta& pm = net::meta(conn.packet);
    const uint8_t* a = net::ip_addresses(conn.packet, scratch);
    net::tcp_ports(conn.packet, sport, dport);
    const unsigned alen = net::ip_address_len(pm);
    if (a != nullptr) {
      // Sources = the sender of the matching bytes.
      const bool same = conn.packet_dir == d;
      inet_ntop(alen == 16 ? AF_INET6 : AF_INET, same ? a : a + alen, src, sizeof src);
      inet_ntop(alen == 16 ? AF_INET6 : AF_INET, same ? a + alen : a, dst, sizeof dst);
      if (!same) std::swap(sport, dport);
    }
  }
  const std::string& text = m.id < texts_.size() ? texts_[m.id] : texts_.front();
  std::string desc = "pattern " + std::to_string(m.id) + " matched: " + text;
  Alert a;
  a.time_ns = conn.packet != nullptr ? net::meta(conn.packet).timestamp_ns : 0;
  a.description = desc;
  a.source = {src, sport};
  a.target = {dst, dport};
  alerts_.raise(a);
}

} // namespace haka::engine
