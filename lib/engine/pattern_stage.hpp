// The engine-level pattern scan: every reassembled byte of every connection
// scanned once per direction, in Hyperscan stream mode, against one database
// holding all patterns; matches go to a sink (alerts for --patterns, later
// the rules that declared the patterns).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/alerts.hpp"
#include "engine/counters.hpp"
#include "engine/stream_stage.hpp"
#include "match/database.hpp"
#include "match/scanner.hpp"

namespace haka::engine {

/// Where the pattern scan's matches go.
class PatternSink {
 public:
  virtual ~PatternSink() = default;
  /// A match of pattern `m.id` in direction `d` of `conn`, offsets counted
  /// from the direction's first byte (end exclusive).
  virtual void on_match(const StreamConn& conn, tcp::Dir d, const match::Match& m) = 0;
};

/// One worker's scan: a StreamScanner per connection slot and direction, one
/// scratch, matches batched and handed to the sink after Hyperscan returns
/// (so the sink may drop or reset the connection).
class PatternStage : public StreamListener {
 public:
  /// `db` compiled once and shared read-only by every worker.
  static std::unique_ptr<PatternStage> create(std::shared_ptr<const match::Database> db, tcp::Connection* base,
                                              uint32_t slots, PatternSink& sink, std::string& err);
  ~PatternStage() override;

  void on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t n) override;
  void on_end(const StreamConn& conn, tcp::Dir d) override;
  void on_close(const StreamConn& conn) override;

  std::vector<CounterGroup> collect() const;

 private:
  PatternStage(std::shared_ptr<const match::Database> db, tcp::Connection* base, uint32_t slots, PatternSink& sink);
  match::StreamScanner& state(const tcp::Connection& c, tcp::Dir d) {
    return states_[2 * static_cast<std::size_t>(&c - base_) + static_cast<std::size_t>(d)];
  }
  void deliver(const StreamConn& conn, tcp::Dir d);

  std::shared_ptr<const match::Database> db_;
  tcp::Connection* base_;
  PatternSink& sink_;
  std::unique_ptr<match::Scanner> scanner_;
  std::vector<match::StreamScanner> states_;
  match::MatchBatch<64> batch_;
  uint64_t batch_dropped_ = 0;
};

/// Reads a --patterns file: one pattern per line in Haka's regexp syntax
/// (PCRE-like, %xNN byte escapes), blank lines and lines starting with '#'
/// ignored; ids are line numbers. Compiles them into one stream database;
/// nullptr with `err` naming the file, line and Hyperscan's message.
std::shared_ptr<const match::Database> load_pattern_file(const std::string& path,
                                                          std::vector<std::string>& texts, std::string& err);

/// Alerts on every match of a --patterns file: "pattern N matched: TEXT",
/// with the connection's client and server.
class PatternAlerts : public PatternSink {
 public:
  PatternAlerts(AlertSink& alerts, const std::vector<std::string>& texts) : alerts_(alerts), texts_(texts) {}
  void on_match(const StreamConn& conn, tcp::Dir d, const match::Match& m) override;

 private:
  AlertSink& alerts_;
  const std::vector<std::string>& texts_;
};

} // namespace haka::engine
