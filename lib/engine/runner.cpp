#include "engine/runner.hpp"
#include "engine/telemetry.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "engine/alerts.hpp"
#include "engine/tcp_pipeline.hpp"
#include "engine/worker.hpp"
#include "io/ethdev_port.hpp"
#include "io/offline_io.hpp"
#include "io/packet_pool.hpp"
#include "io/pcap_file.hpp"

namespace haka::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

unsigned round_pool_size(uint64_t n) {
  // Mempools are most efficient at 2^k - 1 elements.
  uint64_t p = 1;
  while (p - 1 < n) p <<= 1;
  return static_cast<unsigned>(p - 1);
}

constexpr unsigned pool_cache = 256;
// Headroom for packets the later layers hold (streams, fragments) on top of
// what rings and caches can pin.
constexpr unsigned held_reserve = 8192;

const char* read_stop_text(io::ReadStop s) {
  switch (s) {
    case io::ReadStop::none: return "";
    case io::ReadStop::truncated_record: return "the file ends inside a record (truncated capture)";
    case io::ReadStop::bad_record_length: return "a record claims an impossible length (corrupt capture)";
    case io::ReadStop::libpcap_error: return "libpcap could not read further";
  }
  return "";
}

/// The --patterns database, compiled once and shared by every worker.
struct SharedPatterns {
  std::shared_ptr<const match::Database> db;
  std::vector<std::string> texts;
  bool load(const Config& cfg, std::string& err) {
    if (cfg.patterns.empty()) return true;
    db = load_pattern_file(cfg.patterns, texts, err);
    return db != nullptr;
  }
};

TrackingConfig tracking_config(const Config& cfg, net::LinkType link, rte_mempool* pool, const SharedPatterns& pats,
                               uint32_t worker = 0, uint32_t workers = 1) {
  TrackingConfig t;
  t.patterns = pats.db;
  t.pattern_texts = &pats.texts;
  t.flows_v4 = cfg.flows;
  t.flows_v6 = cfg.flows / 4 < 16 ? 16 : cfg.flows / 4;
  t.pass_through = cfg.pass_through;
  t.decode.link = link;
  t.decode.verify_ipv4_checksum = cfg.verify_checksums;
  t.decode.verify_tcp_checksum = cfg.verify_checksums;
  t.tcp.midstream = cfg.midstream;
  t.pool = pool;
  t.worker = worker;
  t.reassemble = cfg.reassemble;
  t.dump_streams = cfg.dump_streams;
  if (!cfg.rules.empty()) t.rule_files = {cfg.rules};
  t.streams.stream = cfg.stream;
  // Held and kept packets come out of the pool the receive path needs: a
  // quarter each at most, so the streams can never starve the input.
  const uint32_t quarter = pool != nullptr ? rte_mempool_avail_count(pool) / 4 / workers : 4096;
  if (t.streams.stream.held_packets > quarter) t.streams.stream.held_packets = quarter;
  if (t.streams.stream.max_kept_chunks > quarter) t.streams.stream.max_kept_chunks = quarter;
  t.streams.connections = t.flows_v4 + t.flows_v6;
  t.streams.chunks = 4 * quarter + 1024;
  return t;
}

/// The --alerts file, shared by every worker's AlertSink.
struct AlertFile {
  std::FILE* f = nullptr;
  ~AlertFile() {
    if (f != nullptr) std::fclose(f);
  }
  bool open(const Config& cfg, std::string& err) {
    if (cfg.alerts_json.empty()) return true;
    f = std::fopen(cfg.alerts_json.c_str(), "w");
    if (f == nullptr) err = cfg.alerts_json + ": cannot create: " + std::strerror(errno);
    return f != nullptr;
  }
  void attach(const Config&, AlertSink& sink) const {
    // Alerts are the rules' output: printed whatever --quiet says (it
    // silences the summary only), as Haka prints them.
    sink.set_json_stream(f);
  }
};

} // namespace

bool run_offline(const Config& cfg, const std::atomic<bool>& stop, RunReport& report, std::string& err) {
  report.mode = "offline";
  report.input = cfg.pcap_in;
  report.output = cfg.pcap_out;
  unsigned n_mbufs = cfg.mbufs != 0 ? cfg.mbufs : round_pool_size(held_reserve + pool_cache * 2 + 1024);
  auto pool = io::PacketPool::create("haka_offline", n_mbufs, pool_cache, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()), err);
  if (!pool) return false;
  auto reader = io::PcapReader::open(cfg.pcap_in, pool->get(), err, cfg.force_libpcap);
  if (!reader) return false;
  std::unique_ptr<io::PcapWriter> writer;
  if (!cfg.pcap_out.empty()) {
    writer = io::PcapWriter::open(cfg.pcap_out, reader->format(), err);
    if (!writer) return false;
  }
  report.zero_copy = reader->zero_copy();

  io::OfflineIo offline{reader.get(), writer.get()};
  WorkerCounters counters;
  AlertFile alert_file;
  if (!alert_file.open(cfg, err)) return false;
  AlertSink alerts;
  alert_file.attach(cfg, alerts);
  auto t0 = Clock::now();
  if (cfg.forward_only) {
    ForwardAll proc;
    Worker<io::OfflineIo, ForwardAll> worker(offline, proc, {Lane{}}, counters);
    worker.run(stop);
  } else {
    SharedPatterns pats;
    if (!pats.load(cfg, err)) return false;
    auto proc = TcpPipeline::create(tracking_config(cfg, reader->link_type(), pool->get(), pats), alerts, err);
    if (!proc) return false;
    Worker<io::OfflineIo, TcpPipeline> worker(offline, *proc, {Lane{}}, counters);
    worker.run(stop);
    report.groups = proc->collect();
  }
  report.seconds = seconds_since(t0);
  report.alerts = alerts.count();

  report.workers = {counters.snapshot()};
  report.total = report.workers[0];
  if (offline.stalled)
    report.input_problem = "the mbuf pool (" + std::to_string(n_mbufs) +
                           " mbufs) ran dry with packets still held; raise --mbufs";
  else if (reader->stop_reason() != io::ReadStop::none)
    report.input_problem = std::string(read_stop_text(reader->stop_reason())) + " at byte " +
                           std::to_string(reader->stop_offset());
  bool ok = true;
  if (writer && !writer->close(err)) ok = false;
  report.pool_size = pool->size();
  report.pool_available = pool->available();
  // The reader's mapping must outlive every mbuf attached to it.
  reader.reset();
  return ok;
}

namespace {

/// Everything one live worker lcore needs.
struct LiveWorker {
  std::vector<Lane> lanes;
  WorkerCounters counters;
  std::unique_ptr<TcpPipeline> tracker; // nullptr: forward only
  AlertSink alerts;
  const std::atomic<bool>* quit = nullptr;
};

/// Runs a worker's loop with its processor; `keep_going` is polled every
/// ~10 ms (the main lcore uses it to print stats when it works alone).
template <class Proc, class KeepGoing>
void run_live_loop(LiveWorker& w, Proc& proc, KeepGoing&& keep_going) {
  io::EthdevIo eth;
  Worker<io::EthdevIo, Proc> worker(eth, proc, w.lanes, w.counters);
  const uint64_t check_every = rte_get_tsc_hz() / 100;
  uint64_t next_check = 0;
  for (;;) {
    worker.poll();
    uint64_t tsc = rte_rdtsc();
    if (tsc < next_check) continue;
    next_check = tsc + check_every;
    if (w.quit->load(std::memory_order_relaxed) || !keep_going()) break;
  }
  worker.finish();
}

template <class KeepGoing>
void run_live_worker(LiveWorker& w, KeepGoing&& keep_going) {
  if (w.tracker) {
    run_live_loop(w, *w.tracker, keep_going);
  } else {
    ForwardAll proc;
    run_live_loop(w, proc, keep_going);
  }
}

int live_worker_main(void* arg) {
  run_live_worker(*static_cast<LiveWorker*>(arg), [] { return true; });
  return 0;
}

CounterSnapshot sum(const std::vector<std::unique_ptr<LiveWorker>>& ws) {
  CounterSnapshot s;
  for (const auto& w : ws) s += w->counters.snapshot();
  return s;
}

void print_stats_line(const CounterSnapshot& now, const CounterSnapshot& before, double dt) {
  double pps = dt > 0 ? double(now.rx_packets - before.rx_packets) / dt : 0;
  double bps = dt > 0 ? double(now.rx_bytes - before.rx_bytes) * 8 / dt : 0;
  std::printf("stats: rx %" PRIu64 " pkts (%.1f kpps, %.3f Gbit/s) tx %" PRIu64 " injected %" PRIu64
              " dropped %" PRIu64 " held %" PRIu64 " connections %" PRIu64 "\n",
              now.rx_packets, pps / 1e3, bps / 1e9, now.tx_packets, now.injected, now.dropped(), now.held,
              now.connections);
  std::fflush(stdout);
}

} // namespace

bool run_live(const Config& cfg, const std::atomic<bool>& stop, RunReport& report, std::string& err) {
  report.mode = "live";
  std::vector<uint16_t> ports;
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) ports.push_back(pid);
  if (ports.empty()) {
    err = "no ports: give some with EAL options (-a PCI address, or --vdev net_af_packet0,iface=eth1 ...), "
          "or use --pcap for offline mode";
    return false;
  }
  if (ports.size() % 2 != 0) {
    err = "an inline engine forwards between port pairs (0<->1, 2<->3, ...); got " +
          std::to_string(ports.size()) + " ports";
    return false;
  }
  std::vector<unsigned> worker_lcores;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) worker_lcores.push_back(lc);
  const bool main_works = worker_lcores.empty(); // a single lcore does both jobs
  const uint16_t n_workers = main_works ? 1 : static_cast<uint16_t>(worker_lcores.size());

  uint64_t need = uint64_t(ports.size()) * n_workers * (cfg.rx_desc + cfg.tx_desc) +
                  uint64_t(n_workers) * (pool_cache * 3 / 2 + burst_size * 4) + held_reserve;
  unsigned n_mbufs = cfg.mbufs != 0 ? cfg.mbufs : round_pool_size(need);
  auto pool = io::PacketPool::create("haka_live", n_mbufs, pool_cache, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()), err);
  if (!pool) return false;

  std::vector<uint16_t> started;
  auto stop_ports = [&] {
    for (uint16_t p : started) io::stop_port(p);
    started.clear();
  };
  for (uint16_t p : ports) {
    io::PortSettings s;
    s.queues = n_workers;
    s.rx_desc = cfg.rx_desc;
    s.tx_desc = cfg.tx_desc;
    io::PortCaps caps;
    if (!io::start_port(p, s, pool->get(), caps, err)) {
      stop_ports();
      return false;
    }
    started.push_back(p);
    report.ports.push_back(PortReport{p, caps.driver});
  }

  std::atomic<bool> quit{false};
  AlertFile alert_file;
  if (!alert_file.open(cfg, err)) {
    stop_ports();
    return false;
  }
  SharedPatterns pats;
  if (!pats.load(cfg, err)) {
    stop_ports();
    return false;
  }
  std::vector<std::unique_ptr<LiveWorker>> workers;
  for (uint16_t w = 0; w < n_workers; ++w) {
    auto lw = std::make_unique<LiveWorker>();
    lw->quit = &quit;
    alert_file.attach(cfg, lw->alerts);
    if (!cfg.forward_only) {
      // Live ports carry Ethernet; every worker gets its own tables.
      lw->tracker = TcpPipeline::create(tracking_config(cfg, net::LinkType::ethernet, pool->get(), pats, w, n_workers), lw->alerts, err);
      if (!lw->tracker) {
        stop_ports();
        return false;
      }
    }
    for (std::size_t i = 0; i + 1 < ports.size(); i += 2) {
      lw->lanes.push_back(Lane{ports[i], w, ports[i + 1], w});
      lw->lanes.push_back(Lane{ports[i + 1], w, ports[i], w});
    }
    workers.push_back(std::move(lw));
  }

  std::vector<const WorkerCounters*> published;
  for (const auto& w : workers) published.push_back(&w->counters);
  TelemetryPublisher telemetry(std::move(published));

  auto t0 = Clock::now();
  auto last = t0;
  CounterSnapshot before;
  auto time_to_stop = [&] {
    return stop.load(std::memory_order_relaxed) || (cfg.duration_s > 0 && seconds_since(t0) >= cfg.duration_s);
  };
  auto maybe_print = [&] {
    if (cfg.stats_interval_s <= 0) return;
    double dt = std::chrono::duration<double>(Clock::now() - last).count();
    if (dt < cfg.stats_interval_s) return;
    CounterSnapshot now = sum(workers);
    print_stats_line(now, before, dt);
    before = now;
    last = Clock::now();
  };

  if (main_works) {
    run_live_worker(*workers[0], [&] {
      if (time_to_stop()) return false;
      maybe_print();
      return true;
    });
  } else {
    for (uint16_t w = 0; w < n_workers; ++w) {
      int rc = rte_eal_remote_launch(live_worker_main, workers[w].get(), worker_lcores[w]);
      if (rc != 0) {
        quit.store(true);
        rte_eal_mp_wait_lcore();
        stop_ports();
        err = "cannot launch a worker on lcore " + std::to_string(worker_lcores[w]);
        return false;
      }
    }
    while (!time_to_stop()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      maybe_print();
    }
    quit.store(true);
    rte_eal_mp_wait_lcore();
  }
  report.seconds = seconds_since(t0);

  for (auto& pr : report.ports) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(pr.port, &st) == 0) {
      pr.ipackets = st.ipackets;
      pr.opackets = st.opackets;
      pr.imissed = st.imissed;
      pr.ierrors = st.ierrors;
      pr.oerrors = st.oerrors;
    }
  }
  stop_ports(); // returns the mbufs the RX rings held
  for (const auto& w : workers) {
    report.workers.push_back(w->counters.snapshot());
    if (w->tracker) merge_groups(report.groups, w->tracker->collect());
    report.alerts += w->alerts.count();
    // Its memory (stream chunks, the byte arena's mbuf, rule buffers) goes
    // back before the pool is checked.
    w->tracker.reset();
  }
  report.total = sum(workers);
  report.pool_size = pool->size();
  report.pool_available = pool->available();
  return true;
}

namespace {

void append_counters_json(std::string& o, const CounterSnapshot& s) {
  char b[512];
  std::snprintf(b, sizeof b,
                "{\"packets\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"injected\":%" PRIu64 ",\"dropped\":%" PRIu64
                ",\"held\":%" PRIu64 "},\"bytes\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 "},\"dropped\":{",
                s.rx_packets, s.tx_packets, s.injected, s.dropped(), s.held, s.rx_bytes, s.tx_bytes);
  o += b;
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    std::snprintf(b, sizeof b, "%s\"%s\":%" PRIu64, i ? "," : "", drop_reason_name(static_cast<DropReason>(i)),
                  s.dropped_by[i]);
    o += b;
  }
  o += "}}";
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (u < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", u);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

} // namespace

std::string report_json(const RunReport& r) {
  std::string o = "{\"mode\":" + json_string(r.mode);
  if (r.mode == "offline") {
    o += ",\"input\":" + json_string(r.input) + ",\"output\":" + json_string(r.output);
    o += std::string(",\"zero_copy\":") + (r.zero_copy ? "true" : "false");
    o += ",\"input_problem\":" + (r.input_problem.empty() ? std::string("null") : json_string(r.input_problem));
  }
  char b[256];
  std::snprintf(b, sizeof b, ",\"seconds\":%.6f,", r.seconds);
  o += b;
  o += "\"total\":";
  append_counters_json(o, r.total);
  o += ",\"workers\":[";
  for (std::size_t i = 0; i < r.workers.size(); ++i) {
    if (i) o += ',';
    append_counters_json(o, r.workers[i]);
  }
  o += "],\"ports\":[";
  for (std::size_t i = 0; i < r.ports.size(); ++i) {
    const PortReport& p = r.ports[i];
    std::snprintf(b, sizeof b,
                  "%s{\"port\":%u,\"driver\":%s,\"ipackets\":%" PRIu64 ",\"opackets\":%" PRIu64
                  ",\"imissed\":%" PRIu64 ",\"ierrors\":%" PRIu64 ",\"oerrors\":%" PRIu64 "}",
                  i ? "," : "", p.port, json_string(p.driver).c_str(), p.ipackets, p.opackets, p.imissed,
                  p.ierrors, p.oerrors);
    o += b;
  }
  o += "]";
  std::snprintf(b, sizeof b, ",\"alerts\":%" PRIu64, r.alerts);
  o += b;
  for (const CounterGroup& g : r.groups) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "," + string.
    o += ',';
    o += json_string(g.name);
    o += ":{";
    for (std::size_t i = 0; i < g.values.size(); ++i) {
      std::snprintf(b, sizeof b, "%s%s:%" PRIu64, i ? "," : "", json_string(g.values[i].first).c_str(),
                    g.values[i].second);
      o += b;
    }
    o += "}";
  }
  std::snprintf(b, sizeof b,
                ",\"accounting\":{\"balanced\":%s,\"held_at_exit\":%" PRIu64
                ",\"mempool_size\":%u,\"mempool_available\":%u,\"ok\":%s}}",
                r.total.balanced() ? "true" : "false", r.total.held, r.pool_size, r.pool_available,
                r.accounting_ok() ? "true" : "false");
  o += b;
  return o;
}

std::string report_text(const RunReport& r) {
  const CounterSnapshot& t = r.total;
  char b[512];
  std::string o;
  double pps = r.seconds > 0 ? double(t.rx_packets) / r.seconds : 0;
  if (r.mode == "offline") {
    std::snprintf(b, sizeof b, "haka-dpdk: %s: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s (%.0f pps%s)\n",
                  r.input.c_str(), t.rx_packets, t.rx_bytes, r.seconds, pps, r.zero_copy ? ", zero-copy" : "");
  } else {
    std::snprintf(b, sizeof b, "haka-dpdk: live on %zu ports, %zu workers: %" PRIu64 " packets, %" PRIu64
                  " bytes in %.3f s (%.0f pps)\n",
                  r.ports.size(), r.workers.size(), t.rx_packets, t.rx_bytes, r.seconds, pps);
  }
  o += b;
  std::snprintf(b, sizeof b, "  forwarded %" PRIu64 " (%" PRIu64 " bytes), injected %" PRIu64 ", dropped %" PRIu64
                "%s%s\n",
                t.tx_packets, t.tx_bytes, t.injected, t.dropped(), r.output.empty() ? "" : " -> ",
                r.output.c_str());
  o += b;
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    if (t.dropped_by[i] == 0) continue;
    std::snprintf(b, sizeof b, "    dropped %s: %" PRIu64 "\n", drop_reason_name(static_cast<DropReason>(i)),
                  t.dropped_by[i]);
    o += b;
  }
  for (const CounterGroup& g : r.groups) {
    if (g.name != "connections") continue;
    o += "  connections:";
    for (const auto& [k, v] : g.values) {
      if (v == 0 && k != "opened") continue;
      o += ' ';
      o += k;
      o += ' ';
      o += std::to_string(v);
    }
    o += "\n";
  }
  if (r.alerts != 0) o += "  alerts: " + std::to_string(r.alerts) + "\n";
  if (!r.input_problem.empty()) o += "  input stopped early: " + r.input_problem + "\n";
  return o;
}

std::string accounting_error(const RunReport& r) {
  const CounterSnapshot& t = r.total;
  char b[512];
  if (!t.balanced() || t.held != 0) {
    std::snprintf(b, sizeof b,
                  "accounting violated: rx %" PRIu64 " + injected %" PRIu64 " != tx %" PRIu64 " + dropped %" PRIu64
                  " + held %" PRIu64 " (held must be 0 at exit)",
                  t.rx_packets, t.injected, t.tx_packets, t.dropped(), t.held);
    return b;
  }
  if (!r.pool_full()) {
    std::snprintf(b, sizeof b, "mbuf leak: %u of %u mbufs did not return to the pool", r.pool_size - r.pool_available,
                  r.pool_size);
    return b;
  }
  return {};
}

} // namespace haka::engine
