// haka-gen: writes realistic TCP traffic (complete connections, interleaved)
// to a pcap file, fast, for tests and benchmarks of haka-dpdk.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "generator.hpp"
#include "live.hpp"

namespace {

constexpr const char* usage =
    "usage: haka-gen --out FILE.pcap [options]\n"
    "\n"
    "Writes complete TCP connections to a pcap file (Ethernet, nanosecond timestamps): a 3-way\n"
    "handshake whose SYNs carry MSS, SACK-permitted, timestamps and window scale; data both ways\n"
    "with correct sequence and acknowledgement numbers (a pure ACK every second segment when a\n"
    "side has nothing to send); closed by FIN (FIN, FIN, ACK) or RST. Output is deterministic\n"
    "for a given seed.\n"
    "\n"
    "Options:\n"
    "  --out FILE                 pcap file to write ('-' for stdout)\n"
    "  --connections N            connections in total (default 1000)\n"
    "  --concurrency N            connections open at once: their packets alternate round robin\n"
    "                             (default 100); closed ones are replaced by new ones\n"
    "  --segment SIZE             payload bytes per data segment (default 1460, 1..9000)\n"
    "  --imix                     payload sizes drawn 7:4:1 from 64, 576 and 1460 bytes\n"
    "                             (the classic simple IMIX, counted in payload bytes)\n"
    "  --bytes-per-connection N   payload bytes each direction (default 10000)\n"
    "  --bytes-up N, --bytes-down N  client->server and server->client payload separately\n"
    "  --ipv6-ratio F             fraction of connections over IPv6 (default 0)\n"
    "  --reorder F                fraction of data segments swapped with the next one\n"
    "  --loss F                   fraction of data segments lost once: the next segment arrives,\n"
    "                             the receiver repeats its ACK, the sender retransmits\n"
    "  --rst-ratio F              fraction of connections closed by RST (either side) not FIN\n"
    "  --rate GBPS                nominal link rate spacing the timestamps (default 1)\n"
    "  --seed N                   random seed (default 1)\n"
    "  --memif SOCKET             live: replay the generated traffic into a DPDK net_memif port\n"
    "                             (haka-gen is the server on SOCKET; --out is then optional)\n"
    "  --loops N                  live: times the traffic is replayed (default 1)\n"
    "  --eal \"ARGS\"               live: extra EAL arguments (e.g. \"-l 1 --no-huge -m 512\")\n"
    "  --quiet                    no summary on stderr\n"
    "  --help\n"
    "\n"
    "Addresses: client 10.x.y.z (fd00::/64 for IPv6), one per connection, port 1024-65023;\n"
    "server 192.168.0.1-8 (fd00:0:0:1::1-8) port 80. Loss and reordering touch only segments\n"
    "that have a next one in the same direction.\n";

bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  const std::string t(s);
  errno = 0;
  v = std::strtoull(t.c_str(), &end, 10);
  return errno == 0 && *end == 0 && t[0] != '-';
}

bool parse_fraction(std::string_view s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  const std::string t(s);
  v = std::strtod(t.c_str(), &end);
  return *end == 0 && v >= 0 && v <= 1;
}

} // namespace

int main(int argc, char** argv) {
  haka::gen::GenOptions o;
  bool quiet = false;
  haka::gen::LiveOptions live;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view val;
    const auto eq = a.find('=');
    bool inline_val = false;
    if (a.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_val = true;
    }
    auto value = [&](std::string_view& v) {
      if (inline_val) {
        v = val;
        return true;
      }
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    auto bad = [&](const char* what) {
      std::fprintf(stderr, "haka-gen: %.*s: %s\n", int(a.size()), a.data(), what);
      return 2;
    };
    std::string_view v;
    uint64_t n = 0;
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--imix") {
      o.imix = true;
    } else if (a == "--memif") {
      if (!value(v) || v.empty()) return bad("needs a socket path");
      live.memif_socket = std::string(v);
    } else if (a == "--eal") {
      if (!value(v)) return bad("needs EAL arguments");
      live.eal = std::string(v);
    } else if (a == "--loops") {
      if (!value(v) || !parse_u64(v, n) || n == 0) return bad("needs a positive integer");
      live.loops = n;
    } else if (a == "--out") {
      if (!value(v) || v.empty()) return bad("needs a file name");
      o.out = std::string(v);
    } else if (a == "--connections" || a == "--concurrency" || a == "--segment" || a == "--bytes-per-connection" ||
               a == "--bytes-up" || a == "--bytes-down" || a == "--seed") {
      if (!value(v) || !parse_u64(v, n)) return bad("needs a non-negative integer");
      if (a == "--connections") o.connections = n;
      else if (a == "--concurrency") {
        if (n == 0) return bad("must be at least 1");
        o.concurrency = n;
      } else if (a == "--segment") {
        if (n == 0 || n > 9000) return bad("must be 1..9000");
        o.segment = uint32_t(n);
      } else if (a == "--bytes-per-connection") o.bytes_up = o.bytes_down = n;
      else if (a == "--bytes-up") o.bytes_up = n;
      else if (a == "--bytes-down") o.bytes_down = n;
      else o.seed = n;
    } else if (a == "--ipv6-ratio" || a == "--reorder" || a == "--loss" || a == "--rst-ratio") {
      double f = 0;
      if (!value(v) || !parse_fraction(v, f)) return bad("needs a fraction in [0, 1]");
      if (a == "--ipv6-ratio") o.ipv6_ratio = f;
      else if (a == "--reorder") o.reorder = f;
      else if (a == "--loss") o.loss = f;
      else o.rst_ratio = f;
    } else if (a == "--rate") {
      char* end = nullptr;
      if (!value(v)) return bad("needs a rate in Gbit/s");
      const std::string t(v);
      o.rate_gbps = std::strtod(t.c_str(), &end);
      if (*end != 0 || !(o.rate_gbps > 0)) return bad("needs a positive rate in Gbit/s");
    } else {
      std::fprintf(stderr, "haka-gen: unknown option %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (o.out.empty() && live.memif_socket.empty()) {
    std::fprintf(stderr, "haka-gen: --out FILE (or --memif SOCKET) is required (see --help)\n");
    return 2;
  }
  // Live: generate into memory first, so the replay measures the link, not the generator.
  char* mem = nullptr;
  std::size_t mem_len = 0;
  const bool to_memory = !live.memif_socket.empty();
  std::FILE* f = to_memory ? open_memstream(&mem, &mem_len)
                 : o.out == "-" ? stdout
                                : std::fopen(o.out.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "haka-gen: %s: %s\n", o.out.c_str(), std::strerror(errno));
    return 1;
  }
  haka::gen::GenTotals t;
  std::string err;
  const auto t0 = std::chrono::steady_clock::now();
  bool ok;
  {
    haka::gen::PcapSink sink(f);
    ok = haka::gen::generate(o, sink, t, err);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (f != stdout && std::fclose(f) != 0) {
    ok = false;
    err = "close error on " + o.out;
  }
  if (!ok) {
    std::fprintf(stderr, "haka-gen: %s\n", err.c_str());
    return 1;
  }
  if (!quiet)
    std::fprintf(stderr,
                 "haka-gen: %s: %llu packets, %llu bytes, %llu connections (%llu IPv6; %llu FIN, %llu RST), "
                 "%llu data segments (%llu swapped, %llu lost) in %.3f s: %.2f Mpps, %.2f Gbit/s\n",
                 (to_memory ? "(memory)" : o.out.c_str()), (unsigned long long)t.packets, (unsigned long long)t.bytes,
                 (unsigned long long)t.connections, (unsigned long long)t.ipv6, (unsigned long long)t.fin_closed,
                 (unsigned long long)t.rst_closed, (unsigned long long)t.data_segments,
                 (unsigned long long)t.reordered, (unsigned long long)t.lost, secs,
                 secs > 0 ? double(t.packets) / secs / 1e6 : 0.0, secs > 0 ? double(t.bytes) * 8 / secs / 1e9 : 0.0);
  if (!to_memory) return 0;
  int rc = 0;
  if (!o.out.empty()) {
    std::FILE* out = std::fopen(o.out.c_str(), "wb");
    if (!out || std::fwrite(mem, 1, mem_len, out) != mem_len || std::fclose(out) != 0) {
      std::fprintf(stderr, "haka-gen: cannot write %s\n", o.out.c_str());
      rc = 1;
    }
  }
  if (rc == 0) rc = haka::gen::replay_memif(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(mem), mem_len), live);
  std::free(mem);
  return rc;
}
