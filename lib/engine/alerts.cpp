#include "engine/alerts.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <algorithm>

namespace haka::engine {

namespace {

/// A fixed buffer that text is appended to; too long a line is cut, never overrun.
struct Line {
  char buf[2048];
  std::size_t len = 0;
  template <class... A>
  void add(const char* fmt, A... a) {
    if (len >= sizeof buf) return;
    int n = std::snprintf(buf + len, sizeof buf - len, fmt, a...);
    if (n > 0) len = std::min(sizeof buf, len + static_cast<std::size_t>(n));
  }
  void add_json_string(std::string_view s) {
    add("\"");
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') add("\\%c", c);
      else if (u < 0x20) add("\\u%04x", u);
      else add("%c", c);
    }
    add("\"");
  }
};

void text_endpoint(Line& l, const char* name, const AlertEndpoint& e) {
  if (e.address.empty() && e.port < 0) return;
  l.add("\t%s = {\n", name);
  if (!e.address.empty()) l.add("\t\taddress: %.*s\n", static_cast<int>(e.address.size()), e.address.data());
  if (e.port >= 0) l.add("\t\tservice: tcp/%d\n", e.port);
  l.add("\t}\n");
}

void json_endpoint(Line& l, const char* name, const AlertEndpoint& e) {
  l.add(",\"%s\":{", name);
  bool comma = false;
  if (!e.address.empty()) {
    l.add("\"address\":");
    l.add_json_string(e.address);
    comma = true;
  }
  if (e.port >= 0) l.add("%s\"service\":\"tcp/%d\"", comma ? "," : "", e.port);
  l.add("}");
}

} // namespace

void AlertSink::raise(const Alert& a) {
  ++count_;
  // Each alert is written with one call, so alerts of several workers sharing
  // a stream never interleave.
  if (text_ != nullptr) {
    // Haka's own layout (its "id = = <>" included), so its reference outputs compare.
    Line l;
    l.add("alert: id = = <>\n");
    if (!a.severity.empty()) l.add("\tseverity = %.*s\n", static_cast<int>(a.severity.size()), a.severity.data());
    l.add("\tdescription = %.*s\n", static_cast<int>(a.description.size()), a.description.data());
    text_endpoint(l, "sources", a.source);
    text_endpoint(l, "targets", a.target);
    std::fwrite(l.buf, 1, l.len, text_);
  }
  if (json_ != nullptr) {
    Line l;
    l.add("{\"id\":%" PRIu64 ",\"time_ns\":%" PRIu64, count_, a.time_ns);
    if (!a.severity.empty()) {
      l.add(",\"severity\":");
      l.add_json_string(a.severity);
    }
    l.add(",\"description\":");
    l.add_json_string(a.description);
    json_endpoint(l, "sources", a.source);
    json_endpoint(l, "targets", a.target);
    l.add("}\n");
    std::fwrite(l.buf, 1, l.len, json_);
  }
}

void AlertSink::raise_formatted(std::string_view text, uint64_t time_ns, std::string_view json_fields) {
  ++count_;
  if (text_ != nullptr) std::fwrite(text.data(), 1, text.size(), text_);
  if (json_ != nullptr) {
    std::string l = "{\"id\":" + std::to_string(count_) + ",\"time_ns\":" + std::to_string(time_ns);
    if (!json_fields.empty()) {
      l += ',';
      l += json_fields;
    }
    l += "}\n";
    std::fwrite(l.data(), 1, l.size(), json_);
  }
}

} // namespace haka::engine
