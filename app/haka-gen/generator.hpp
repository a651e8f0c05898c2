// haka-gen's traffic model: complete TCP connections, interleaved, written as
// Ethernet frames into a classic (nanosecond) pcap file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace haka::gen {

/// What to generate (haka-gen's command line).
struct GenOptions {
  uint64_t connections = 1000;
  uint64_t concurrency = 100;
  uint32_t segment = 1460;     // payload bytes per data segment (ignored with imix)
  bool imix = false;           // 64/576/1460-byte payloads, 7:4:1
  uint64_t bytes_up = 10000;   // client -> server payload per connection
  uint64_t bytes_down = 10000; // server -> client payload per connection
  double ipv6_ratio = 0;
  double reorder = 0;          // fraction of data segments swapped with the next one
  double loss = 0;             // fraction of data segments lost once, retransmitted
  double rst_ratio = 0;        // fraction of connections closed by RST instead of FIN
  double rate_gbps = 1.0;      // nominal link rate: spaces the timestamps
  uint64_t seed = 1;
  std::string out;
};

/// What was written.
struct GenTotals {
  uint64_t packets = 0, bytes = 0, connections = 0, fin_closed = 0, rst_closed = 0;
  uint64_t ipv6 = 0, data_segments = 0, reordered = 0, lost = 0;
};

/// Appends pcap records to a large in-memory buffer, written out in big blocks.
class PcapSink {
public:
  explicit PcapSink(std::FILE* f);
  ~PcapSink();
  PcapSink(const PcapSink&) = delete;
  PcapSink& operator=(const PcapSink&) = delete;
  /// Room for one record of up to `frame_len` bytes; commit() it after filling.
  uint8_t* reserve(uint32_t frame_len);
  void commit(uint32_t frame_len, uint64_t ts_ns);
  bool flush();
  bool ok() const { return ok_; }

private:
  std::FILE* f_;
  std::vector<uint8_t> buf_;
  std::size_t used_ = 0;
  bool ok_ = true;
};

/// Generates the whole file; false (with `err`) on an output error.
bool generate(const GenOptions& o, PcapSink& sink, GenTotals& totals, std::string& err);

} // namespace haka::gen
