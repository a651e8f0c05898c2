// One-shot matches and sinks (see regexp.hpp).
#include "match/regexp.hpp"

namespace haka::match {

Found match(const Database& db, Scanner& scanner, std::span<const uint8_t> data, ScanStatus* status) {
  FoundKeeper keep;
  const ScanStatus s = scan_block(db, scanner, data, keep);
  if (status != nullptr) *status = s;
  return s == ScanStatus::ok ? keep.best : Found{};
}

bool Sink::feed(std::span<const uint8_t> data, bool eof) {
  fed_ += data.size();
  if (done_) return found_.found;
  FoundKeeper keep;
  status_ = stream_.scan(*db_, *scanner_, data, keep);
  if (status_ == ScanStatus::ok && eof && !keep.best.found) status_ = stream_.close(*db_, *scanner_, keep);
  if (keep.best.found) found_ = keep.best;
  if (found_.found || eof || status_ != ScanStatus::ok) {
    // The answer is known (or cannot be): give the slot back now.
    stream_.discard(*scanner_);
    done_ = true;
  }
  return found_.found;
}

} // namespace haka::match
