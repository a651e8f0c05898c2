// Whole-pipeline bench: the real Worker loop on one lcore over TCP traffic
// preloaded into mbufs (no I/O in the timed part), tracking next to
// forward-only on the same packets in the same run.
//
//   bench_pipeline [--conns N] [--segs K] [--payload B] [--reps R] [--sw-checksums] [--rules FILE]... [--waves P]
//                  [--eal "..."]
// With --rules, a fourth processor runs: reassembly plus the rule files, and
// the time each adds per data packet is printed.
// With --waves P the traffic is not preloaded: each processor gets the same
// packets (same bytes, same timestamps) built P at a time, each wave forged
// untimed, run timed, and let go, while the processor's flow and stream state
// spans every connection; the mbuf pool then holds one wave plus what the
// reassembly may keep (its per-worker cap on kept chunks), so 10M connections
// fit. The peak RSS and where the memory lives are printed too.
//
// Prints, per scenario, the median packets per second and cycles per packet
// over R repetitions and the ratio to forward-only measured alternately in
// the same run; plus
// connection set-up + teardown per second and bytes per tracked connection.
#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "engine/alerts.hpp"
#include "engine/tcp_pipeline.hpp"
#include "engine/pattern_stage.hpp"
#include "engine/worker.hpp"
#include "io/packet_pool.hpp"
#include "net/forge.hpp"

using namespace haka;

namespace {

using Clock = std::chrono::steady_clock;

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

/// Preloaded packets as an Io: each packet carries one extra reference, so the
/// processors' frees leave it alive for the next repetition.
struct PreloadedIo {
  static constexpr bool stamps_packets = true;
  std::vector<rte_mbuf*>* pkts = nullptr;
  std::size_t pos = 0;
  uint16_t rx(uint16_t, uint16_t, rte_mbuf** out, uint16_t n) {
    std::size_t k = std::min<std::size_t>(n, pkts->size() - pos);
    std::memcpy(out, pkts->data() + pos, k * sizeof(rte_mbuf*));
    pos += k;
    return static_cast<uint16_t>(k);
  }
  uint16_t tx(uint16_t, uint16_t, rte_mbuf** p, uint16_t n) {
    rte_pktmbuf_free_bulk(p, n);
    return n;
  }
  bool done() const { return pos >= pkts->size(); }
};

struct Options {
  uint32_t conns = 100000;
  uint32_t segs = 8;      // data segments per connection (half each way)
  uint32_t payload = 10;  // bytes: 14 + 20 + 20 + 10 = a 64-byte frame
  int reps = 5;
  bool nic_checksums = true;
  std::string eal;
  std::vector<std::string> rules; // each file measured on its own
  std::string patterns;           // --patterns file: a fifth processor, reassembly plus the scan
  bool imix = false;
  uint64_t waves = 0; // --waves P: built and run P packets at a time (0: everything preloaded)
};

/// The three parts of the traffic, in the order they are sent.
enum class Phase : uint8_t { handshake, data, close };

/// The traffic of `o.conns` connections as one numbered sequence of packets:
/// the handshakes (3 per connection), the data (round robin over the
/// connections, `o.segs` rounds) and the closes (3 per connection). Any slice
/// of a phase can be forged on its own, so the traffic can be preloaded whole
/// or built a wave at a time (--waves); either way each packet has the same
/// bytes and timestamp.
class TrafficGen {
 public:
  TrafficGen(rte_mempool* pool, const Options& o) : pool_(pool), o_(o), big_(1460, 'x') {
    // Bytes each side sent before each round: each segment acknowledges
    // everything the other side sent so far.
    uint32_t sent[2] = {0, 0}; // client, server
    for (uint32_t r = 0; r < o.segs; ++r) {
      before_.push_back({sent[0], sent[1]});
      sent[r % 2 == 1 ? 1 : 0] += size_of(r);
    }
    sent_[0] = sent[0];
    sent_[1] = sent[1];
  }

  uint64_t count(Phase ph) const { return uint64_t(o_.conns) * (ph == Phase::data ? o_.segs : 3); }

  /// Forges packets [first, first + n) of `ph` and appends them to `v`.
  void build(Phase ph, uint64_t first, uint64_t n, std::vector<rte_mbuf*>& v) {
    const uint64_t base = ph == Phase::handshake ? 0 : ph == Phase::data ? count(Phase::handshake)
                                                                         : count(Phase::handshake) + count(Phase::data);
    for (uint64_t i = first; i < first + n; ++i) {
      // Timestamps 1 us apart along the whole sequence.
      uint64_t ts = kTime + (base + i + 1) * 1000;
      if (ph == Phase::handshake) add(v, handshake(static_cast<uint32_t>(i / 3), i % 3), ts, o_.nic_checksums);
      else if (ph == Phase::close) add(v, close(static_cast<uint32_t>(i / 3), i % 3), ts, o_.nic_checksums);
      else {
        add(v, data(static_cast<uint32_t>(i / o_.conns), static_cast<uint32_t>(i % o_.conns)), ts, o_.nic_checksums);
        data_wire_bytes += v.back()->pkt_len;
        data_payload_bytes += size_of(static_cast<uint32_t>(i / o_.conns));
        ++data_built;
      }
    }
  }

  uint64_t data_wire_bytes = 0, data_payload_bytes = 0, data_built = 0; // over the data packets built so far

 private:
  static constexpr uint64_t kTime = 1'700'000'000'000'000'000ull;
  static constexpr uint32_t cisn = 1000, sisn = 5000;
  // Payload sizes per round: fixed, or with --imix the classic 7:4:1 mix of
  // 64-, 576- and 1500-byte frames (10, 522 and 1446 bytes of payload here).
  static constexpr uint32_t imix[12] = {10, 522, 10, 10, 1446, 522, 10, 10, 522, 10, 522, 10};

  uint32_t size_of(uint32_t round) const { return o_.imix ? imix[round % 12] : o_.payload; }

  static net::TcpEndpoints endpoints(uint32_t c, bool reply) {
    net::TcpEndpoints ep;
    uint8_t cli[4] = {10, static_cast<uint8_t>(c >> 16), static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)};
    uint8_t srv[4] = {192, 168, 1, 1};
    std::memcpy(reply ? ep.src : ep.dst, srv, 4);
    std::memcpy(reply ? ep.dst : ep.src, cli, 4);
    uint16_t cport = static_cast<uint16_t>(1024 + c % 60000), sport = 80;
    ep.sport = reply ? sport : cport;
    ep.dport = reply ? cport : sport;
    return ep;
  }

  rte_mbuf* forge(uint32_t c, bool reply, const net::TcpSegmentSpec& s) {
    return net::forge_tcp(pool_, net::LinkType::ethernet, endpoints(c, reply), s);
  }

  rte_mbuf* handshake(uint32_t c, uint64_t k) {
    net::TcpSegmentSpec s;
    s.mss = 1460;
    if (k == 0) {
      s.seq = cisn;
      s.flags = 0x02;
    } else if (k == 1) {
      s.seq = sisn;
      s.ack = cisn + 1;
      s.flags = 0x12;
    } else {
      s = {};
      s.seq = cisn + 1;
      s.ack = sisn + 1;
      s.flags = 0x10;
    }
    return forge(c, k == 1, s);
  }

  rte_mbuf* data(uint32_t r, uint32_t c) {
    const bool reply = r % 2 == 1;
    const auto& b = before_[r];
    net::TcpSegmentSpec s;
    s.flags = 0x18;
    s.payload = std::span<const uint8_t>(big_.data(), size_of(r));
    s.seq = (reply ? sisn : cisn) + 1 + b[reply ? 1 : 0];
    s.ack = (reply ? cisn : sisn) + 1 + b[reply ? 0 : 1];
    return forge(c, reply, s);
  }

  rte_mbuf* close(uint32_t c, uint64_t k) {
    const uint32_t cfin = cisn + 1 + sent_[0], sfin = sisn + 1 + sent_[1];
    net::TcpSegmentSpec s;
    s.flags = k == 2 ? 0x10 : 0x11;
    s.seq = k == 0 ? cfin : k == 1 ? sfin : cfin + 1;
    s.ack = k == 0 ? sfin : k == 1 ? cfin + 1 : sfin + 1;
    return forge(c, k == 1, s);
  }

  static void add(std::vector<rte_mbuf*>& v, rte_mbuf* m, uint64_t ts, bool nic) {
    if (m == nullptr) {
      std::fprintf(stderr, "bench_pipeline: mbuf pool too small\n");
      std::exit(1);
    }
    net::meta(m) = net::PacketMeta{};
    net::meta(m).timestamp_ns = ts;
    if (nic) m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    v.push_back(m);
  }

  rte_mempool* pool_;
  const Options& o_;
  std::vector<uint8_t> big_;
  std::vector<std::array<uint32_t, 2>> before_; // per round: bytes client, server sent before it
  uint32_t sent_[2] = {0, 0};                    // in all the rounds
};

/// The whole traffic, preloaded: handshakes, data, and closes.
struct Traffic {
  std::vector<rte_mbuf*> handshake, data, close;
};

Traffic make_traffic(TrafficGen& g) {
  Traffic t;
  g.build(Phase::handshake, 0, g.count(Phase::handshake), t.handshake);
  g.build(Phase::data, 0, g.count(Phase::data), t.data);
  g.build(Phase::close, 0, g.count(Phase::close), t.close);
  return t;
}

void hold(std::vector<rte_mbuf*>& v) {
  for (rte_mbuf* m : v) rte_mbuf_refcnt_update(m, 1);
}

template <class Proc>
double run(Proc& proc, std::vector<rte_mbuf*>& pkts, engine::WorkerCounters& c) {
  hold(pkts);
  PreloadedIo io{&pkts};
  engine::Worker<PreloadedIo, Proc> w(io, proc, {engine::Lane{}}, c);
  // The worker thread's CPU time, not wall time: on a shared machine the
  // thread may be descheduled mid-run, which wall time would count.
  const double t0 = thread_seconds();
  while (!io.done()) w.poll();
  return thread_seconds() - t0;
}

/// Where the processors' packets come from: the preloaded traffic, or (with
/// --waves) slices of at most `wave` packets, each forged untimed just before
/// it runs and let go after, so the pool holds one wave plus what the
/// pipeline keeps while the pipeline's state covers every connection.
struct PacketSource {
  TrafficGen* gen = nullptr;
  Traffic* pre = nullptr; // preloaded (no --waves)
  uint64_t wave = 0;
  uint64_t waves_run = 0;
  std::vector<rte_mbuf*> buf;

  /// Runs the packets of phase `ph` through `proc`: the worker thread's CPU
  /// seconds; `wall`, if given, gets the wall seconds added.
  template <class Proc>
  double run_phase(Proc& proc, Phase ph, engine::WorkerCounters& c, double* wall = nullptr) {
    if (pre != nullptr) {
      auto& v = ph == Phase::handshake ? pre->handshake : ph == Phase::data ? pre->data : pre->close;
      const auto w0 = Clock::now();
      const double t = run(proc, v, c);
      if (wall != nullptr) *wall += std::chrono::duration<double>(Clock::now() - w0).count();
      return t;
    }
    const uint64_t total = gen->count(ph);
    // Handshakes and closes are cut at connection boundaries.
    const uint64_t step = ph == Phase::data ? wave : std::max<uint64_t>(wave / 3, 1) * 3;
    double t = 0;
    for (uint64_t first = 0; first < total; first += step) {
      buf.clear();
      gen->build(ph, first, std::min(step, total - first), buf);
      const auto w0 = Clock::now();
      t += run(proc, buf, c);
      if (wall != nullptr) *wall += std::chrono::duration<double>(Clock::now() - w0).count();
      // run() took one more reference, as for preloaded packets; dropping the
      // wave's own leaves only what the pipeline still keeps.
      for (rte_mbuf* m : buf) rte_pktmbuf_free(m);
      ++waves_run;
    }
    return t;
  }
};

/// This process's resident and THP-backed bytes right now (/proc/self/smaps_rollup).
struct Resident {
  uint64_t rss = 0, thp = 0;
  static Resident now() {
    Resident r;
    FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
    if (f == nullptr) return r;
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "Rss: %llu kB", &kb) == 1) r.rss = kb * 1024;
      if (std::sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) r.thp = kb * 1024;
    }
    std::fclose(f);
    return r;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--conns") o.conns = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--segs") o.segs = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--payload") o.payload = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--rules") o.rules.push_back(next());
    else if (a == "--patterns") o.patterns = next();
    else if (a == "--imix") o.imix = true;
    else if (a == "--reps") o.reps = std::stoi(next());
    else if (a == "--sw-checksums") o.nic_checksums = false;
    else if (a == "--eal") o.eal = next();
    else if (a == "--waves") o.waves = std::stoull(next());
    else {
      std::fprintf(stderr, "usage: bench_pipeline [--conns N] [--segs K] [--payload B | --imix] [--reps R] [--sw-checksums]\n"
                           "                      [--rules FILE]... [--patterns FILE] [--waves P] [--eal ARGS]\n");
      return 2;
    }
  }
  if (o.waves != 0 && o.waves < 1024) {
    std::fprintf(stderr, "bench_pipeline: --waves wants at least 1024 packets a wave\n");
    return 2;
  }
  std::vector<std::string> eal = {"bench_pipeline", "-l", "0", "--no-pci", "--no-telemetry", "--log-level=*:error",
                                  "--no-shconf", "--file-prefix=bench-pipeline-" + std::to_string(getpid())};
  if (o.eal.empty()) {
    eal.push_back("--socket-mem");
    eal.push_back("3072");
    // Hugepage files unlinked at once: a killed run leaves none behind to
    // starve later runs of hugepages.
    eal.push_back("--huge-unlink");
  }
  for (std::size_t p = 0, q; p < o.eal.size(); p = q + 1) {
    q = o.eal.find(' ', p);
    if (q == std::string::npos) q = o.eal.size();
    if (q > p) eal.push_back(o.eal.substr(p, q - p));
  }
  std::vector<char*> eargv;
  for (auto& s : eal) eargv.push_back(s.data());
  if (rte_eal_init(static_cast<int>(eargv.size()), eargv.data()) < 0) {
    std::fprintf(stderr, "bench_pipeline: EAL: %s (reserve hugepages, or pass --eal \"--no-huge -m 4096\")\n",
                 rte_strerror(rte_errno));
    return 1;
  }
  const uint64_t n_pkts = uint64_t(o.conns) * (o.segs + 6);
  // With waves: one wave, plus every mbuf the reassembly can keep (kept
  // bytes awaiting their ACK, capped per worker) or hold, plus the output
  // queue's own; never more than the preloaded traffic would take.
  const engine::TrackingConfig defaults;
  const uint64_t pool_size =
      o.waves == 0 ? n_pkts + 4096
                   : std::min<uint64_t>(n_pkts + 4096, o.waves + defaults.streams.stream.max_kept_chunks +
                                                           2ull * defaults.streams.stream.held_packets + 8192);
  std::string err;
  auto pool = io::PacketPool::create("bench", static_cast<unsigned>(pool_size), 256,
                                     static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + 128 + (o.imix ? 1460 : o.payload)),
                                     SOCKET_ID_ANY,
                                     err);
  if (!pool) {
    std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
    return 1;
  }
  TrafficGen gen(pool->get(), o);
  Traffic t;
  PacketSource src;
  src.gen = &gen;
  src.wave = o.waves;
  if (o.waves == 0) {
    t = make_traffic(gen);
    src.pre = &t;
  } else {
    src.buf.reserve(o.waves);
  }
  const uint64_t n_handshake = gen.count(Phase::handshake), n_data = gen.count(Phase::data);
  Resident peak;
  auto sample = [&] {
    if (o.waves == 0) return;
    const Resident r = Resident::now();
    peak.rss = std::max(peak.rss, r.rss);
    peak.thp = std::max(peak.thp, r.thp);
  };

  engine::TrackingConfig tc;
  tc.flows_v4 = std::max<uint32_t>(o.conns + o.conns / 8, 1024);
  tc.flows_v6 = 1024;
  tc.pool = pool->get();
  engine::AlertSink alerts;

  // Three processors on the same preloaded traffic, one after the other in
  // every repetition: forward-only, tracking alone (issue 3, S2) and
  // tracking with stream reassembly of both directions (S3).
  std::vector<double> fwd_pps, trk_pps, rsm_pps, ratios, rsm_ratios, setup_cps;
  std::vector<std::vector<double>> rule_pps(o.rules.size()), rule_ratios(o.rules.size()), rule_ns(o.rules.size());
  std::vector<double> pat_pps, pat_ratios;
  std::shared_ptr<const match::Database> pat_db;
  std::vector<std::string> pat_texts;
  if (!o.patterns.empty()) {
    pat_db = engine::load_pattern_file(o.patterns, pat_texts, err);
    if (!pat_db) {
      std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
      return 1;
    }
  }
  std::size_t bytes_per_conn = 0, stream_bytes = 0;
  for (int r = 0; r < o.reps; ++r) {
    engine::WorkerCounters c0;
    engine::ForwardAll fwd;
    double tf = src.run_phase(fwd, Phase::data, c0);
    double tt_mode[2] = {0, 0};
    for (int mode = 0; mode < 2; ++mode) {
      engine::WorkerCounters c1, c2;
      tc.reassemble = mode == 1;
      auto trk = engine::TcpPipeline::create(tc, alerts, err);
      if (!trk) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 1;
      }
      double t_setup = 0;
      src.run_phase(*trk, Phase::handshake, c1, &t_setup);
      tt_mode[mode] = src.run_phase(*trk, Phase::data, c1);
      sample();
      double t_close = src.run_phase(*trk, Phase::close, c2);
      if (mode == 0) {
        bytes_per_conn = trk->memory_bytes() / o.conns;
        setup_cps.push_back(double(o.conns) / (t_setup + t_close));
      } else {
        stream_bytes = trk->stream_memory_bytes();
      }
      auto groups = trk->collect();
      uint64_t opened = 0, closed = 0, fwd_tx = c1.snapshot().tx_packets;
      for (auto& g : groups)
        if (g.name == "connections")
          for (auto& [k, v] : g.values) {
            if (k == "opened") opened = v;
            if (k == "closed_fin") closed = v;
          }
      if (opened != o.conns || closed != o.conns || fwd_tx != n_handshake + n_data) {
        std::fprintf(stderr, "bench_pipeline: %s lost its way: opened %" PRIu64 " closed %" PRIu64
                     " forwarded %" PRIu64 " of %" PRIu64 "\n", mode ? "reassembly" : "tracking", opened, closed, fwd_tx,
                     n_handshake + n_data);
        return 1;
      }
    }
    for (std::size_t k = 0; k < o.rules.size(); ++k) {
      engine::WorkerCounters c1, c2;
      engine::TrackingConfig rc = tc;
      rc.reassemble = true;
      rc.rule_files = {o.rules[k]};
      auto trk = engine::TcpPipeline::create(rc, alerts, err);
      if (!trk) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 1;
      }
      src.run_phase(*trk, Phase::handshake, c1);
      const double tr = src.run_phase(*trk, Phase::data, c1);
      sample();
      src.run_phase(*trk, Phase::close, c2);
      if (c1.snapshot().tx_packets != n_handshake + n_data) {
        std::fprintf(stderr, "bench_pipeline: %s: rules dropped packets (the bench wants pass-all rules)\n",
                     o.rules[k].c_str());
        return 1;
      }
      rule_pps[k].push_back(double(n_data) / tr);
      rule_ratios[k].push_back(tt_mode[1] / tr);
      rule_ns[k].push_back((tr - tt_mode[1]) / double(n_data) * 1e9);
    }
    if (pat_db) {
      engine::WorkerCounters c1, c2;
      engine::TrackingConfig pc = tc;
      pc.reassemble = true;
      pc.patterns = pat_db;
      pc.pattern_texts = &pat_texts;
      engine::AlertSink quiet_alerts;
      quiet_alerts.set_text_stream(nullptr);
      auto trk = engine::TcpPipeline::create(pc, quiet_alerts, err);
      if (!trk) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 1;
      }
      src.run_phase(*trk, Phase::handshake, c1);
      const double tp = src.run_phase(*trk, Phase::data, c1);
      sample();
      src.run_phase(*trk, Phase::close, c2);
      pat_pps.push_back(double(n_data) / tp);
      pat_ratios.push_back(tf / tp);
    }
    fwd_pps.push_back(double(n_data) / tf);
    trk_pps.push_back(double(n_data) / tt_mode[0]);
    rsm_pps.push_back(double(n_data) / tt_mode[1]);
    ratios.push_back(tf / tt_mode[0]);
    rsm_ratios.push_back(tf / tt_mode[1]);
  }
  // Per data packet, on average (one size, or the --imix mix).
  const double frame = double(gen.data_wire_bytes) / double(gen.data_built);
  const double pay = double(gen.data_payload_bytes) / double(gen.data_built);
  std::printf("conns %u, %u data segments each, %.0f-byte frames on average%s, %s checksums, %d reps\n", o.conns,
              o.segs, frame, o.imix ? " (IMIX 7:4:1)" : "", o.nic_checksums ? "NIC-verified" : "software", o.reps);
  std::printf("forward-only   %8.2f Mpps (%.2f Gbit/s)\n", median(fwd_pps) / 1e6, median(fwd_pps) * frame * 8 / 1e9);
  std::printf("tracking       %8.2f Mpps (%.2f Gbit/s)  ratio to forward-only %.3f (median of same-run ratios)\n",
              median(trk_pps) / 1e6, median(trk_pps) * frame * 8 / 1e9, median(ratios));
  std::printf("+ reassembly   %8.2f Mpps (%.2f Gbit/s, payload %.2f Gbit/s)  ratio to forward-only %.3f\n",
              median(rsm_pps) / 1e6, median(rsm_pps) * frame * 8 / 1e9, median(rsm_pps) * pay * 8 / 1e9,
              median(rsm_ratios));
  for (std::size_t k = 0; k < o.rules.size(); ++k)
    std::printf("+ rules %s\n               %8.2f Mpps (payload %.2f Gbit/s)  ratio to reassembly alone %.3f, "
                "%.0f ns added per data packet\n",
                o.rules[k].c_str(), median(rule_pps[k]) / 1e6, median(rule_pps[k]) * pay * 8 / 1e9,
                median(rule_ratios[k]), median(rule_ns[k]));
  if (pat_db)
    std::printf("+ patterns %s (%zu)\n               %8.2f Mpps (payload %.2f Gbit/s)  ratio to forward-only %.3f\n",
                o.patterns.c_str(), pat_db->size(), median(pat_pps) / 1e6, median(pat_pps) * pay * 8 / 1e9,
                median(pat_ratios));
  {
    // Cycles per data packet: the worker's CPU time per packet at the TSC's
    // rate (the core's nominal clock).
    const double hz = double(rte_get_tsc_hz());
    std::printf("cycles/packet  forward-only %.0f, tracking %.0f, + reassembly %.0f", hz / median(fwd_pps),
                hz / median(trk_pps), hz / median(rsm_pps));
    for (std::size_t k = 0; k < o.rules.size(); ++k) std::printf(", + rules %zu: %.0f", k + 1, hz / median(rule_pps[k]));
    if (pat_db) std::printf(", + patterns %.0f", hz / median(pat_pps));
    std::printf(" (TSC %.2f GHz)\n", hz / 1e9);
  }
  std::printf("setup+teardown %8.0f connections/s (3 + 3 packets each)\n", median(setup_cps));
  std::printf("memory         %8zu bytes per tracked connection (flow tables, timers, TCP state; tables sized\n"
              "               for %u IPv4 + %u IPv6 connections); stream state reserved: %zu bytes\n",
              bytes_per_conn, tc.flows_v4, tc.flows_v6, stream_bytes);
  if (o.waves != 0) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const rte_mempool* mp = pool->get();
    const double pool_gb = double(mp->size) * double(mp->header_size + mp->elt_size + mp->trailer_size) / 1e9;
    uint64_t eal_bytes = 0;
    for (unsigned sock = 0; sock < rte_socket_count(); ++sock) {
      rte_malloc_socket_stats st{};
      if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(sock), &st) == 0) eal_bytes += st.heap_allocsz_bytes;
    }
    std::printf("waves          at most %" PRIu64 " packets each, %" PRIu64 " waves run; mbuf pool %u mbufs (%.2f GB)\n",
                o.waves, src.waves_run, mp->size, pool_gb);
    std::printf("peak RSS       %.2f GB (getrusage), %.2f GB of it THP-backed at the end of a data phase;\n"
                "               EAL memory allocated %.2f GB (mostly the mbuf pool), %s\n",
                double(ru.ru_maxrss) * 1024 / 1e9, double(peak.thp) / 1e9, double(eal_bytes) / 1e9,
                rte_eal_has_hugepages() ? "hugetlbfs 2 MB pages (not counted in RSS)" : "--no-huge: ordinary pages (in RSS)");
  }
  for (rte_mbuf* m : t.handshake) rte_pktmbuf_free(m);
  for (rte_mbuf* m : t.data) rte_pktmbuf_free(m);
  for (rte_mbuf* m : t.close) rte_pktmbuf_free(m);
  return 0;
}
