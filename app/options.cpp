#include "app/options.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <sched.h>
#include <unistd.h>

namespace haka::app {

namespace {

bool parse_uint(const std::string& s, uint64_t max, uint64_t& out) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v > max) return false;
  out = v;
  return true;
}

bool parse_seconds(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !(v >= 0) || v > 1e9) return false;
  out = v;
  return true;
}

int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) return c;
  return 0;
}

// Offline runs need no hugepages, no PCI scan, no shared files: several may
// run side by side (tests do).
std::vector<std::string> offline_eal_defaults(const std::string& prog) {
  return {prog, "-l", std::to_string(first_allowed_cpu()), "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
          "--no-telemetry", "--log-level=*:warning"};
}

bool has_arg(const std::vector<std::string>& v, const char* name) {
  std::size_t n = std::strlen(name);
  for (const auto& a : v)
    if (a.compare(0, n, name) == 0) return true;
  return false;
}

uint64_t free_hugepages() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("HugePages_Free:", 0) == 0) return std::strtoull(line.c_str() + 15, nullptr, 10);
  return 0;
}

} // namespace

std::string usage_text(const char* prog) {
  std::string p = prog;
  return "usage: " + p + " [EAL options] -- [options]\n"
         "       " + p + " --pcap IN.pcap [--out OUT.pcap] [options]     (offline, no EAL options needed)\n"
         "\n"
         "An inline TCP security engine: forwards traffic between port pairs (0<->1, 2<->3, ...)\n"
         "or from a capture file to another, tracking and inspecting TCP with Haka rules.\n"
         "\n"
         "Options:\n"
         "  --pcap FILE            offline mode: read packets from FILE (pcap or pcapng)\n"
         "  --out FILE             offline mode: write forwarded packets to FILE (input's link type)\n"
         "  --rules FILE           Lua rule file (Haka API)\n"
         "  --pass-through         observe only: never alter or drop traffic\n"
         "  --summary-json FILE    write the final counters to FILE as one JSON object\n"
         "  --alerts FILE          also write alerts to FILE, one JSON object per line\n"
         "  --flows N              IPv4 connections tracked per worker (default 262144; IPv6: N/4)\n"
         "  --midstream            pick up connections whose handshake was not seen (default: off)\n"
         "  --checksum-validation yes|no  verify IPv4/TCP checksums the NIC did not (default yes;\n"
         "                         'no' for captures taken on a host with checksum offload)\n"
         "  --forward-only         forward without decoding or tracking (benchmarks)\n"
         "  --no-reassembly        track connections but do not reassemble streams (benchmarks)\n"
         "  --patterns FILE        alert on every match of FILE's patterns (one per line, Haka/PCRE syntax,\n"
         "                         %xNN byte escapes, '#' comments) in every stream: one Hyperscan scan\n"
         "                         per stream direction for all patterns\n"
         "  --dump-streams DIR     write each reassembled stream as the rules see it to DIR, one file per\n"
         "                         connection and direction: CLIENT_PORT-SERVER_PORT.up|.down (.2, .3 ...\n"
         "                         appended for later connections on the same four-tuple)\n"
         "  --overlap-policy P     which copy of bytes sent twice out of order is kept: first, last,\n"
         "                         bsd (default), linux, windows\n"
         "  --retransmit-conflict A  retransmitted bytes that differ from what was inspected:\n"
         "                         normalise (default: send the inspected bytes) or drop\n"
         "  --stream-queue N       out-of-order segments queued per direction (default 512)\n"
         "  --stream-queue-bytes N out-of-order bytes queued per direction (default 1048576)\n"
         "  --stream-held-bytes N  bytes held for rules (marks) per direction (default 1048576)\n"
         "  --stream-kept-bytes N  forwarded unacknowledged bytes kept per direction to check\n"
         "                         retransmissions (default 1048576; 0: none kept)\n"
         "  --stats-interval SEC   live mode: print a stats line every SEC seconds (0: never; default 1)\n"
         "  --duration SEC         live mode: stop after SEC seconds (default: run until SIGINT/SIGTERM)\n"
         "  --mbufs N              mbuf pool size (default: sized from ports, queues and caps)\n"
         "  --rx-desc N, --tx-desc N  descriptors per queue (default 1024)\n"
         "  --pcap-reader MODE     offline reader: 'map' (zero-copy, default) or 'libpcap' (copies)\n"
         "  --quiet                no summary on stdout (alerts and rule output still print)\n"
         "  --help, --version\n"
         "\n"
         "EAL options are DPDK's own (-l, -a, --vdev, --socket-mem, --file-prefix, --no-huge, ...).\n"
         "With none, offline mode runs on one core without hugepages. Live example:\n"
         "  " + p + " -l 0,1 --vdev net_af_packet0,iface=eth1 --vdev net_af_packet1,iface=eth2 -- --rules r.lua\n";
}

bool parse_command_line(int argc, char** argv, Invocation& inv, std::string& err) {
  const std::string prog = argc > 0 ? argv[0] : "haka-dpdk";
  int sep = -1;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--") == 0) {
      sep = i;
      break;
    }
  std::vector<std::string> ours;
  if (sep >= 0) {
    inv.eal_args.assign(argv, argv + sep);
    ours.assign(argv + sep + 1, argv + argc);
  } else {
    ours.assign(argv + 1, argv + argc);
  }

  engine::Config& c = inv.config;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    std::string opt = ours[i];
    std::string val;
    bool has_inline = false;
    if (opt.rfind("--", 0) == 0) {
      auto eq = opt.find('=');
      if (eq != std::string::npos) {
        val = opt.substr(eq + 1);
        opt = opt.substr(0, eq);
        has_inline = true;
      }
    }
    auto need_value = [&](std::string& out) {
      if (has_inline) {
        out = val;
        return true;
      }
      if (i + 1 >= ours.size()) {
        err = opt + " needs a value";
        return false;
      }
      out = ours[++i];
      return true;
    };
    auto flag_only = [&] {
      if (has_inline) {
        err = opt + " takes no value";
        return false;
      }
      return true;
    };
    uint64_t u = 0;
    if (opt == "--help" || opt == "-h") {
      inv.action = Invocation::Action::help;
      return true;
    } else if (opt == "--version") {
      inv.action = Invocation::Action::version;
      return true;
    } else if (opt == "--pcap") {
      if (!need_value(c.pcap_in)) return false;
    } else if (opt == "--out") {
      if (!need_value(c.pcap_out)) return false;
    } else if (opt == "--rules") {
      if (!need_value(c.rules)) return false;
    } else if (opt == "--summary-json") {
      if (!need_value(c.summary_json)) return false;
    } else if (opt == "--alerts") {
      if (!need_value(c.alerts_json)) return false;
    } else if (opt == "--forward-only") {
      if (!flag_only()) return false;
      c.forward_only = true;
    } else if (opt == "--midstream") {
      if (!flag_only()) return false;
      c.midstream = true;
    } else if (opt == "--checksum-validation") {
      std::string v;
      if (!need_value(v)) return false;
      if (v == "yes") c.verify_checksums = true;
      else if (v == "no") c.verify_checksums = false;
      else {
        err = "--checksum-validation: '" + v + "' is not 'yes' or 'no'";
        return false;
      }
    } else if (opt == "--flows") {
      std::string v;
      if (!need_value(v)) return false;
      if (!parse_uint(v, 1u << 27, u) || u < 16) {
        err = "--flows: '" + v + "' is not a connection count from 16 to 134217728";
        return false;
      }
      c.flows = static_cast<uint32_t>(u);
    } else if (opt == "--patterns") {
      if (!need_value(c.patterns)) return false;
    } else if (opt == "--no-reassembly") {
      if (!flag_only()) return false;
      c.reassemble = false;
    } else if (opt == "--dump-streams") {
      if (!need_value(c.dump_streams)) return false;
      if (c.dump_streams.empty()) {
        err = "--dump-streams needs a directory";
        return false;
      }
    } else if (opt == "--overlap-policy") {
      std::string v;
      if (!need_value(v)) return false;
      if (!tcp::parse_overlap_policy(v, c.stream.policy)) {
        err = "--overlap-policy: '" + v + "' is not first, last, bsd, linux or windows";
        return false;
      }
    } else if (opt == "--retransmit-conflict") {
      std::string v;
      if (!need_value(v)) return false;
      if (v == "normalise" || v == "normalize") c.stream.on_conflict = tcp::ConflictAction::normalise;
      else if (v == "drop") c.stream.on_conflict = tcp::ConflictAction::drop;
      else {
        err = "--retransmit-conflict: '" + v + "' is not 'normalise' or 'drop'";
        return false;
      }
    } else if (opt == "--stream-queue" || opt == "--stream-queue-bytes" || opt == "--stream-held-bytes" ||
               opt == "--stream-kept-bytes") {
      std::string v;
      if (!need_value(v)) return false;
      const bool segs = opt == "--stream-queue";
      const uint64_t max = segs ? 16384 : (1u << 30);
      const uint64_t min = segs ? 1 : (opt == "--stream-kept-bytes" ? 0 : 1);
      if (!parse_uint(v, max, u) || u < min) {
        err = opt + ": '" + v + "' is not a count from " + std::to_string(min) + " to " + std::to_string(max);
        return false;
      }
      if (segs) c.stream.max_queued_segments = static_cast<uint16_t>(u);
      else if (opt == "--stream-queue-bytes") c.stream.max_queued_bytes = static_cast<uint32_t>(u);
      else if (opt == "--stream-held-bytes") c.stream.max_held_bytes = static_cast<uint32_t>(u);
      else c.stream.max_kept_bytes = static_cast<uint32_t>(u);
    } else if (opt == "--pass-through") {
      if (!flag_only()) return false;
      c.pass_through = true;
    } else if (opt == "--quiet") {
      if (!flag_only()) return false;
      c.quiet = true;
    } else if (opt == "--stats-interval" || opt == "--duration") {
      std::string v;
      if (!need_value(v)) return false;
      double d = 0;
      if (!parse_seconds(v, d)) {
        err = opt + ": '" + v + "' is not a number of seconds";
        return false;
      }
      (opt == "--duration" ? c.duration_s : c.stats_interval_s) = d;
    } else if (opt == "--mbufs") {
      std::string v;
      if (!need_value(v)) return false;
      if (!parse_uint(v, 1u << 28, u) || u < 1024) {
        err = "--mbufs: '" + v + "' is not a pool size from 1024 to 268435456";
        return false;
      }
      c.mbufs = static_cast<uint32_t>(u);
    } else if (opt == "--rx-desc" || opt == "--tx-desc") {
      std::string v;
      if (!need_value(v)) return false;
      if (!parse_uint(v, 32768, u) || u < 16) {
        err = opt + ": '" + v + "' is not a descriptor count from 16 to 32768";
        return false;
      }
      (opt == "--rx-desc" ? c.rx_desc : c.tx_desc) = static_cast<uint16_t>(u);
    } else if (opt == "--pcap-reader") {
      std::string v;
      if (!need_value(v)) return false;
      if (v == "map") c.force_libpcap = false;
      else if (v == "libpcap") c.force_libpcap = true;
      else {
        err = "--pcap-reader: '" + v + "' is not 'map' or 'libpcap'";
        return false;
      }
    } else if (sep < 0 && !opt.empty() && opt[0] == '-') {
      err = "unknown option " + opt + " (EAL options go before '--': haka-dpdk [EAL options] -- [options])";
      return false;
    } else {
      err = "unknown option '" + opt + "' (see --help)";
      return false;
    }
  }

  if (!c.pcap_out.empty() && c.pcap_in.empty()) {
    err = "--out needs --pcap (offline mode)";
    return false;
  }
  if (!c.rules.empty() && (c.forward_only || !c.reassemble)) {
    err = "--rules needs tracking and stream reassembly (not with --forward-only or --no-reassembly)";
    return false;
  }
  if (!c.patterns.empty() && (c.forward_only || !c.reassemble)) {
    err = "--patterns needs stream reassembly (not with --forward-only or --no-reassembly)";
    return false;
  }
  if (!c.patterns.empty() && access(c.patterns.c_str(), R_OK) != 0) {
    err = "--patterns: cannot read '" + c.patterns + "': " + std::strerror(errno);
    return false;
  }
  if (!c.dump_streams.empty() && (c.forward_only || !c.reassemble)) {
    err = "--dump-streams needs stream reassembly (not with --forward-only or --no-reassembly)";
    return false;
  }
  if (!c.pcap_in.empty() && c.duration_s > 0) {
    err = "--duration is for live mode; offline runs to the end of the capture";
    return false;
  }
  if (!c.rules.empty() && access(c.rules.c_str(), R_OK) != 0) {
    err = "--rules: cannot read '" + c.rules + "': " + std::strerror(errno);
    return false;
  }
  if (!c.pcap_in.empty() && access(c.pcap_in.c_str(), R_OK) != 0) {
    err = "--pcap: cannot read '" + c.pcap_in + "': " + std::strerror(errno);
    return false;
  }
  if (sep < 0) {
    if (c.pcap_in.empty()) {
      err = "nothing to do: give --pcap FILE (offline) or EAL options with ports before '--' (live); see --help";
      return false;
    }
    inv.eal_args = offline_eal_defaults(prog);
    inv.eal_defaulted = true;
  } else if (!c.pcap_in.empty() && inv.eal_args.size() == 1) {
    inv.eal_args = offline_eal_defaults(prog);
    inv.eal_defaulted = true;
  } else if (!has_arg(inv.eal_args, "--no-huge") && !has_arg(inv.eal_args, "--socket-mem") &&
             !has_arg(inv.eal_args, "--huge-dir") && !has_arg(inv.eal_args, "-m") && free_hugepages() == 0) {
    // No hugepage reserved: run on ordinary memory rather than fail in EAL.
    inv.eal_args.push_back("--no-huge");
    inv.eal_args.push_back("-m");
    inv.eal_args.push_back("1024");
    inv.no_hugepages = true;
  }
  return true;
}

} // namespace haka::app
