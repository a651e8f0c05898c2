// Stream scanner slow paths: opening, errors, discard (see scanner.hpp).
#include "match/scanner.hpp"

namespace haka::match {

const char* message(ScanStatus s) {
  switch (s) {
#define X(id, text) \
  case ScanStatus::id: return text;
#include "match/scan_status.def"
#undef X
  }
  return "unknown scan status";
}

ScanStatus StreamScanner::open_or_status(const Database& db, Scanner& scanner) {
  switch (state()) {
    case State::stopped: return ScanStatus::stopped;
    case State::failed: return ScanStatus::no_memory;
    case State::finished: return ScanStatus::finished;
    case State::idle:
    case State::open: break;
  }
  MatchCounters& c = scanner.counters();
  if (db.stream() == nullptr) {
    ++c.scan_errors;
    return ScanStatus::error;
  }
  hs_stream_t* s = nullptr;
  hs_error_t e;
  {
    StreamSlab::Use use(scanner.slab());
    e = hs_open_stream(db.stream(), 0, &s);
  }
  if (e != HS_SUCCESS) {
    stream_ = tag(failed_tag);
    if (e == HS_NOMEM) {
      ++c.alloc_failures;
      return ScanStatus::no_memory;
    }
    ++c.scan_errors;
    return ScanStatus::error;
  }
  stream_ = s;
  c.stream_opened();
  return ScanStatus::ok;
}

ScanStatus StreamScanner::after_error(hs_error_t e, Scanner& scanner) {
  MatchCounters& c = scanner.counters();
  if (e == HS_SCAN_TERMINATED) {
    // Hyperscan scans nothing more on a terminated stream: give its slot back now.
    ++c.streams_terminated;
    {
      StreamSlab::Use use(scanner.slab());
      hs_close_stream(stream_, nullptr, nullptr, nullptr);
    }
    stream_ = tag(stopped_tag);
    c.stream_closed();
    return ScanStatus::stopped;
  }
  ++c.scan_errors;
  return ScanStatus::error;
}

void StreamScanner::discard(Scanner& scanner) {
  if (is_open()) {
    StreamSlab::Use use(scanner.slab());
    hs_close_stream(stream_, nullptr, nullptr, nullptr);
    scanner.counters().stream_closed();
  }
  stream_ = tag(finished_tag);
}

} // namespace haka::match
