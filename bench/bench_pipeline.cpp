// Whole-pipeline bench: the real Worker loop on one lcore over TCP traffic
// preloaded into mbufs (no I/O in the timed part), tracking next to
// forward-only on the same packets in the same run.
//
//   bench_pipeline [--conns N] [--segs K] [--payload B] [--reps R] [--sw-checksums] [--rules FILE]... [--eal "..."]
// With --rules, a fourth processor runs: reassembly plus the rule files, and
// the time each adds per data packet is printed.
//
// Prints, per scenario, the median packets per second over R repetitions and
// the ratio to forward-only measured alternately in the same run; plus
// connection set-up + teardown per second and bytes per tracked connection.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
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
};

/// Builds the traffic of `o.conns` connections: handshakes, data, and closes.
struct Traffic {
  std::vector<rte_mbuf*> handshake, data, close;
  uint64_t data_wire_bytes = 0, data_payload_bytes = 0; // over all data packets
};

void add(std::vector<rte_mbuf*>& v, rte_mbuf* m, uint64_t& t, bool nic) {
  if (m == nullptr) {
    std::fprintf(stderr, "bench_pipeline: mbuf pool too small\n");
    std::exit(1);
  }
  net::meta(m) = net::PacketMeta{};
  net::meta(m).timestamp_ns = (t += 1000);
  if (nic) m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  v.push_back(m);
}

Traffic make_traffic(rte_mempool* pool, const Options& o) {
  Traffic t;
  uint64_t ts = 1'700'000'000'000'000'000ull;
  auto endpoints = [](uint32_t c, bool reply) {
    net::TcpEndpoints ep;
    uint8_t cli[4] = {10, static_cast<uint8_t>(c >> 16), static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)};
    uint8_t srv[4] = {192, 168, 1, 1};
    std::memcpy(reply ? ep.src : ep.dst, srv, 4);
    std::memcpy(reply ? ep.dst : ep.src, cli, 4);
    uint16_t cport = static_cast<uint16_t>(1024 + c % 60000), sport = 80;
    ep.sport = reply ? sport : cport;
    ep.dport = reply ? cport : sport;
    return ep;
  };
  const uint32_t cisn = 1000, sisn = 5000;
  for (uint32_t c = 0; c < o.conns; ++c) {
    net::TcpSegmentSpec s;
    s.seq = cisn;
    s.flags = 0x02;
    s.mss = 1460;
    add(t.handshake, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, false), s), ts, o.nic_checksums);
    s = {};
    s.seq = sisn;
    s.ack = cisn + 1;
    s.flags = 0x12;
    s.mss = 1460;
    add(t.handshake, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, true), s), ts, o.nic_checksums);
    s = {};
    s.seq = cisn + 1;
    s.ack = sisn + 1;
    s.flags = 0x10;
    add(t.handshake, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, false), s), ts, o.nic_checksums);
  }
  // Round robin over the connections, alternating directions, each segment
  // acknowledging everything the other side sent so far. Payload sizes per
  // round: fixed, or with --imix the classic 7:4:1 mix of 64-, 576- and
  // 1500-byte frames (10, 522 and 1446 bytes of payload here).
  static constexpr uint32_t imix[12] = {10, 522, 10, 10, 1446, 522, 10, 10, 522, 10, 522, 10};
  uint32_t sent[2] = {0, 0}; // client, server
  std::vector<uint8_t> big(1460, 'x');
  for (uint32_t r = 0; r < o.segs; ++r) {
    const bool reply = r % 2 == 1;
    const uint32_t size = o.imix ? imix[r % 12] : o.payload;
    for (uint32_t c = 0; c < o.conns; ++c) {
      net::TcpSegmentSpec s;
      s.flags = 0x18;
      s.payload = std::span<const uint8_t>(big.data(), size);
      s.seq = (reply ? sisn : cisn) + 1 + sent[reply ? 1 : 0];
      s.ack = (reply ? cisn : sisn) + 1 + sent[reply ? 0 : 1];
      add(t.data, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, reply), s), ts, o.nic_checksums);
      t.data_wire_bytes += t.data.back()->pkt_len;
      t.data_payload_bytes += size;
    }
    sent[reply ? 1 : 0] += size;
  }
  const uint32_t csent = sent[0], ssent = sent[1];
  for (uint32_t c = 0; c < o.conns; ++c) {
    uint32_t cfin = cisn + 1 + csent, sfin = sisn + 1 + ssent;
    net::TcpSegmentSpec s;
    s.flags = 0x11;
    s.seq = cfin;
    s.ack = sfin;
    add(t.close, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, false), s), ts, o.nic_checksums);
    s.seq = sfin;
    s.ack = cfin + 1;
    add(t.close, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, true), s), ts, o.nic_checksums);
    s.flags = 0x10;
    s.seq = cfin + 1;
    s.ack = sfin + 1;
    add(t.close, net::forge_tcp(pool, net::LinkType::ethernet, endpoints(c, false), s), ts, o.nic_checksums);
  }
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
    else {
      std::fprintf(stderr, "usage: bench_pipeline [--conns N] [--segs K] [--payload B | --imix] [--reps R] [--sw-checksums]\n"
                           "                      [--rules FILE]... [--patterns FILE] [--eal ARGS]\n");
      return 2;
    }
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
  std::string err;
  auto pool = io::PacketPool::create("bench", static_cast<unsigned>(n_pkts + 4096), 256,
                                     static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + 128 + (o.imix ? 1460 : o.payload)),
                                     SOCKET_ID_ANY,
                                     err);
  if (!pool) {
    std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
    return 1;
  }
  Traffic t = make_traffic(pool->get(), o);
  // Per data packet, on average (one size, or the --imix mix).
  const double frame = double(t.data_wire_bytes) / double(t.data.size());
  const double pay = double(t.data_payload_bytes) / double(t.data.size());

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
    double tf = run(fwd, t.data, c0);
    double tt_mode[2] = {0, 0};
    for (int mode = 0; mode < 2; ++mode) {
      engine::WorkerCounters c1, c2;
      tc.reassemble = mode == 1;
      auto trk = engine::TcpPipeline::create(tc, alerts, err);
      if (!trk) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 1;
      }
      auto t_setup0 = Clock::now();
      run(*trk, t.handshake, c1);
      double t_setup = std::chrono::duration<double>(Clock::now() - t_setup0).count();
      tt_mode[mode] = run(*trk, t.data, c1);
      double t_close = run(*trk, t.close, c2);
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
      if (opened != o.conns || closed != o.conns || fwd_tx != t.handshake.size() + t.data.size()) {
        std::fprintf(stderr, "bench_pipeline: %s lost its way: opened %" PRIu64 " closed %" PRIu64
                     " forwarded %" PRIu64 " of %zu\n", mode ? "reassembly" : "tracking", opened, closed, fwd_tx,
                     t.handshake.size() + t.data.size());
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
      run(*trk, t.handshake, c1);
      const double tr = run(*trk, t.data, c1);
      run(*trk, t.close, c2);
      if (c1.snapshot().tx_packets != t.handshake.size() + t.data.size()) {
        std::fprintf(stderr, "bench_pipeline: %s: rules dropped packets (the bench wants pass-all rules)\n",
                     o.rules[k].c_str());
        return 1;
      }
      rule_pps[k].push_back(double(t.data.size()) / tr);
      rule_ratios[k].push_back(tt_mode[1] / tr);
      rule_ns[k].push_back((tr - tt_mode[1]) / double(t.data.size()) * 1e9);
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
      run(*trk, t.handshake, c1);
      const double tp = run(*trk, t.data, c1);
      run(*trk, t.close, c2);
      pat_pps.push_back(double(t.data.size()) / tp);
      pat_ratios.push_back(tf / tp);
    }
    fwd_pps.push_back(double(t.data.size()) / tf);
    trk_pps.push_back(double(t.data.size()) / tt_mode[0]);
    rsm_pps.push_back(double(t.data.size()) / tt_mode[1]);
    ratios.push_back(tf / tt_mode[0]);
    rsm_ratios.push_back(tf / tt_mode[1]);
  }
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
  std::printf("setup+teardown %8.0f connections/s (3 + 3 packets each)\n", median(setup_cps));
  std::printf("memory         %8zu bytes per tracked connection (flow tables, timers, TCP state; tables sized\n"
              "               for %u IPv4 + %u IPv6 connections); stream state reserved: %zu bytes\n",
              bytes_per_conn, tc.flows_v4, tc.flows_v6, stream_bytes);
  for (rte_mbuf* m : t.handshake) rte_pktmbuf_free(m);
  for (rte_mbuf* m : t.data) rte_pktmbuf_free(m);
  for (rte_mbuf* m : t.close) rte_pktmbuf_free(m);
  return 0;
}
