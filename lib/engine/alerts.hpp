// Alerts raised by the engine (policies) and, later, by rules.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace haka::engine {

/// One end of an alert: an address (text form) and a TCP port; empty parts are left out.
struct AlertEndpoint {
  std::string_view address;
  int port = -1; // -1: no service line
};

/// What an alert says, in Haka's terms.
struct Alert {
  uint64_t time_ns = 0;
  std::string_view severity;    // "low", "medium", "high" or empty
  std::string_view description;
  AlertEndpoint source, target;
};

/// Writes alerts in Haka's text layout to a stream (stdout by default) and, when
/// given one, as one JSON object per line to another (--alerts). Streams are
/// not owned: several workers' sinks may share them, each alert being one write.
class AlertSink {
 public:
  AlertSink() = default;
  AlertSink(const AlertSink&) = delete;
  AlertSink& operator=(const AlertSink&) = delete;

  /// Where the text form goes (nullptr: nowhere).
  void set_text_stream(std::FILE* f) { text_ = f; }
  /// Where the JSON lines go (nullptr: nowhere).
  void set_json_stream(std::FILE* f) { json_ = f; }
  void raise(const Alert& a);
  /// An alert already laid out (a rule's haka.alert, whose fields are
  /// lists): `text` in Haka's layout, `json_fields` the inside of its JSON
  /// object without braces (id and time are added here).
  void raise_formatted(std::string_view text, uint64_t time_ns, std::string_view json_fields);
  uint64_t count() const { return count_; }

 private:
  std::FILE* text_ = stdout;
  std::FILE* json_ = nullptr;
  uint64_t count_ = 0;
};

} // namespace haka::engine
