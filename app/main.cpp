// haka-dpdk: command line, EAL start-up and signals; the engine does the rest.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <hs/hs.h>
#include <luajit-2.1/luajit.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_version.h>

#include "app/options.hpp"
#include "engine/runner.hpp"
#include "haka_config.h"

namespace {

// The only global: signal handlers can reach nothing else.
std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

int fail(const char* prog, const std::string& msg, int code = 1) {
  std::fprintf(stderr, "%s: %s\n", prog, msg.c_str());
  return code;
}

bool write_file(const std::string& path, const std::string& text, std::string& err) {
  std::ofstream f(path, std::ios::trunc);
  f << text << '\n';
  f.close();
  if (!f) {
    err = path + ": cannot write: " + std::strerror(errno);
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  const char* prog = "haka-dpdk";
  haka::app::Invocation inv;
  std::string err;
  if (!haka::app::parse_command_line(argc, argv, inv, err)) return fail(prog, err, 2);
  if (inv.action == haka::app::Invocation::Action::help) {
    std::fputs(haka::app::usage_text(prog).c_str(), stdout);
    return 0;
  }
  if (inv.action == haka::app::Invocation::Action::version) {
    std::printf("haka-dpdk %s (%s, Hyperscan %s, %s)\n", HAKA_DPDK_VERSION, rte_version(), hs_version(),
                LUAJIT_VERSION);
    return 0;
  }
  haka::engine::Config& cfg = inv.config;
  if (inv.no_hugepages)
    std::fprintf(stderr, "%s: no free hugepages: running with --no-huge (slower; see scripts/setup.sh)\n", prog);

  std::vector<char*> eal_argv;
  for (auto& a : inv.eal_args) eal_argv.push_back(a.data());
  eal_argv.push_back(nullptr);
  int eal_argc = static_cast<int>(inv.eal_args.size());
  if (rte_eal_init(eal_argc, eal_argv.data()) < 0)
    return fail(prog, std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
                          " (check the EAL options before '--')");

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  haka::engine::RunReport report;
  bool ok = cfg.pcap_in.empty() ? haka::engine::run_live(cfg, g_stop, report, err)
                                : haka::engine::run_offline(cfg, g_stop, report, err);
  int rc = 0;
  if (!ok) {
    rc = fail(prog, err);
  }
  if (ok || report.total.rx_packets != 0) {
    if (!cfg.quiet) std::fputs(haka::engine::report_text(report).c_str(), stdout);
    if (!cfg.summary_json.empty() && !write_file(cfg.summary_json, haka::engine::report_json(report), err))
      rc = fail(prog, err);
    std::string acc = haka::engine::accounting_error(report);
    if (!acc.empty()) rc = fail(prog, "ERROR: " + acc);
    if (!report.input_problem.empty()) rc = fail(prog, report.input + ": " + report.input_problem);
  }
  rte_eal_cleanup();
  return rc;
}
