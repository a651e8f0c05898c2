// The tracking processor: decode, defragment, track TCP connections, apply
// tcp_connection's policies, give every packet its verdict.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "engine/alerts.hpp"
#include "engine/counters.hpp"
#include "engine/lane.hpp"
#include "engine/output_queue.hpp"
#include "engine/lua_stage.hpp"
#include "engine/pattern_stage.hpp"
#include "engine/stream_stage.hpp"
#include "engine/tx_batch.hpp"
#include "flow/flow_key.hpp"
#include "flow/flow_table.hpp"
#include "flow/timer_wheel.hpp"
#include "net/decode.hpp"
#include "net/fragments.hpp"
#include "tcp/counters.hpp"
#include "tcp/tracker.hpp"

namespace haka::engine {

/// How connections are tracked on one worker.
struct TrackingConfig {
  uint32_t flows_v4 = 1u << 18; // IPv4 connections tracked at once, per worker
  uint32_t flows_v6 = 1u << 16; // IPv6 connections, per worker
  bool pass_through = false;    // count every verdict, forward every packet
  uint16_t mtu = 1500;          // IP bytes per packet on output (re-fragmentation)
  net::DecodeConfig decode;
  tcp::TrackerConfig tcp;
  uint32_t fragment_capacity = 4096;
  uint64_t fragment_timeout_ns = 30'000'000'000ull;
  rte_mempool* pool = nullptr; // for re-fragmented and cloned packets
  bool reassemble = true;      // reassemble streams (false: tracking only)
  StreamStageConfig streams;   // its settings (pool, mtu and worker are filled in)
  std::string dump_streams;    // --dump-streams directory ("" = none)
  std::vector<std::string> rule_files; // Lua rules (need reassembly)
  std::shared_ptr<const match::Database> patterns; // --patterns, compiled once for all workers
  const std::vector<std::string>* pattern_texts = nullptr; // their lines, by id
  std::string lua_dir;         // "" = the source tree's lua/
  uint64_t instruction_limit = 50'000'000;
  uint32_t worker = 0;
};

/// One worker's connection tracking, as a Worker processor. Owns the flow
/// tables, the connection states, their timers and the fragment table.
class TcpPipeline {
 public:
  static std::unique_ptr<TcpPipeline> create(const TrackingConfig& cfg, AlertSink& alerts, std::string& err);
  ~TcpPipeline();
  TcpPipeline(const TcpPipeline&) = delete;
  TcpPipeline& operator=(const TcpPipeline&) = delete;

  /// Gives each packet of a burst its verdict. Packets without a timestamp
  /// (live) are stamped with `now_ns` first.
  template <class Io>
  void process(std::span<rte_mbuf*> pkts, uint64_t, const Lane&, TxBatch<Io>& out) {
    if constexpr (!Io::stamps_packets) stamp(pkts, clock_now());
    classify(pkts);
    drain(out);
    count_fragments(out);
  }

  /// At shutdown: frees the fragments still held, releases or drops what
  /// the streams hold (counted).
  template <class Io>
  void finish(TxBatch<Io>& out) {
    flush_fragments();
    if (stage_) stage_->close_all();
    drain(out);
    count_fragments(out);
  }

  /// Rule actions, called (by the Lua host) while a packet of the connection
  /// is processed. drop: Haka's flow:drop(): the connection goes to reset,
  /// its held packets and the current one are dropped, later packets of the
  /// tuple are dropped silently until the reset timeout.
  void rule_drop(tcp::Connection& c, tcp::EndReason why = tcp::EndReason::dropped);
  /// flow:reset() (both ends) or flow:halfreset() (server only), then drop.
  /// `current` is the packet being processed, of direction `cur`.
  void rule_reset(tcp::Connection& c, const rte_mbuf* current, tcp::Dir cur, bool halfreset);
  /// flow:send(dir): release what nothing holds in that direction.
  /// A packet a rule forged (pkt:inject()): decoded, counted as injected,
  /// and sent on after the packet being processed.
  void inject_packet(rte_mbuf* m);
  void rule_send(tcp::Connection& c, tcp::Dir d) {
    if (stage_) stage_->send(c, d);
  }

  /// What the rule stage needs to know about the packet being processed.
  tcp::Connection* connection_base() { return conns_.data(); }
  const rte_mbuf* current_packet() const { return current_packet_; }
  tcp::Dir current_dir() const { return current_dir_; }
  const tcp::Connection* current_connection() const { return current_conn_; }

  /// Adds a consumer of the reassembled bytes (no-op without reassembly).
  void add_stream_listener(StreamListener* l) {
    if (stage_) stage_->add_listener(l);
  }

  uint64_t held() const;
  /// Connections tracked now.
  uint64_t connections() const { return tcp_.active; }
  /// Bytes of tracking state: flow tables, timers, connection states.
  std::size_t memory_bytes() const;
  /// Bytes of stream state reserved (0 without reassembly).
  std::size_t stream_memory_bytes() const;
  /// This worker's counters, as named groups for the reports.
  std::vector<CounterGroup> collect() const;

 private:
  /// What becomes of one received packet.
  struct Fate {
    bool forward = true;
    DropReason reason = DropReason::tx_full; // when !forward
    bool taken = false; // the stream stage took the packet (held, or its verdict queued)
  };

  TcpPipeline() = default;
  template <class Io>
  void drain(TxBatch<Io>& out) {
    out_.drain(out, [&](rte_mbuf* m) {
      // tcp send_packet rules see each TCP packet as it leaves.
      if (lua_ && lua_->wants(lua::Event::tcp_send_packet)) {
        const bool keep = send_packet(m);
        if (!keep) out.drop(m, DropReason::rule_dropped);
        else out.forward(m);
        // What they forged leaves right after it.
        for (uint16_t i = 0; i < n_pending_inject_; ++i) out.inject_forward(pending_inject_[i]);
        n_pending_inject_ = 0;
        return true;
      }
      if (!needs_refragment(m)) [[likely]]
        return false;
      std::array<rte_mbuf*, 64> frags;
      const int k = refragment(m, frags);
      if (k <= 0) {
        out.drop(m, DropReason::fragment_dropped);
        return true;
      }
      out.count_injected(static_cast<uint64_t>(k));
      for (int i = 0; i < k; ++i) out.forward(frags[static_cast<std::size_t>(i)]);
      out.drop(m, DropReason::refragmented);
      return true;
    });
  }
  template <class Io>
  void count_fragments(TxBatch<Io>& out) {
    if (!frags_) return;
    net::FragmentCounters d = frags_->drain();
    if (d.merged != 0) out.count_dropped(DropReason::fragment_merged, d.merged);
    if (d.freed() != 0) out.count_dropped(DropReason::fragment_dropped, d.freed());
  }
  void stamp(std::span<rte_mbuf*> pkts, uint64_t now);
  uint64_t clock_now() const;
  void classify(std::span<rte_mbuf*> pkts);
  Fate on_decoded(rte_mbuf*& m, std::size_t i);
  Fate on_tcp(rte_mbuf* m);
  /// Builds the flow key of a TCP packet into the burst's key arrays.
  bool stage_key(rte_mbuf* m, std::size_t i);
  template <class Key>
  Fate track(flow::FlowTable<Key>& table, const Key& key, bool swapped, uint32_t h, uint32_t slot, rte_mbuf* m);
  Fate refuse(DropReason r);
  static Fate taken() { return Fate{true, DropReason::tx_full, true}; }
  Fate apply_policy(tcp::Policy p, rte_mbuf* m);
  void close_slot(uint32_t slot);
  void advance_timers(uint64_t now);
  void reassembled(rte_mbuf* datagram);
  void flush_fragments();
  void add_extra(rte_mbuf* m, Fate f);
  bool needs_refragment(const rte_mbuf* m) const;
  bool send_packet(rte_mbuf* m);
  int refragment(rte_mbuf* d, std::span<rte_mbuf*> out);
  void emit(rte_mbuf* m, const Fate& f);
  void flush_injected();
  bool erase_slot(uint32_t slot);

  TrackingConfig cfg_;
  AlertSink* alerts_ = nullptr;
  std::unique_ptr<net::FragmentReassembler> frags_;
  std::unique_ptr<flow::FlowTable<flow::FlowKey4>> table4_;
  std::unique_ptr<flow::FlowTable<flow::FlowKey6>> table6_;
  std::unique_ptr<flow::TimerWheel> timers_;
  std::vector<tcp::Connection> conns_;
  bool table_changed_ = false; // an insert or erase happened in this burst
  tcp::Connection* current_conn_ = nullptr; // connection of the packet being tracked
  const rte_mbuf* current_packet_ = nullptr;
  tcp::Dir current_dir_ = tcp::Dir::up;
  // Packets rules forged while a packet was processed: they leave right
  // after it (Haka's order), not before.
  std::array<rte_mbuf*, 64> pending_inject_{};
  uint16_t n_pending_inject_ = 0;
  bool current_dropped_ = false;            // a rule dropped it while its packet was processed
  uint64_t current_now_ = 0;
  uint64_t next_tick_ = 0; // packet time at which the timer wheel next needs advancing
  uint64_t tsc_base_ = 0, ns_base_ = 0;
  double ns_per_tsc_ = 0;

  OutputQueue out_{1};
  std::unique_ptr<StreamStage> stage_;
  std::unique_ptr<StreamDumpWriter> dump_;
  std::unique_ptr<LuaStage> lua_; // after stage_: its runtime uses the stage's buffer pool
  std::unique_ptr<PatternAlerts> pattern_alerts_;
  std::unique_ptr<PatternStage> patterns_;
  std::unique_ptr<PatternStage> rule_patterns_; // patterns declared by rules (after lua_: it calls it)

  /// A burst's flow lookups, done in bulk before the packets are stepped in
  /// order: keys and hashes per family, the slots found, and for each packet
  /// which family and index it uses (family 0: none).
  template <class Key>
  struct BurstKeys {
    std::array<Key, 64> keys;
    std::array<uint32_t, 64> hashes, slots;
    std::array<bool, 64> swapped;
    uint16_t n = 0;
  };
  BurstKeys<flow::FlowKey4> b4_;
  BurstKeys<flow::FlowKey6> b6_;
  struct KeyRef {
    uint8_t family = 0;
    uint8_t index = 0;
  };
  std::array<KeyRef, 64> key_ref_{};
  /// Plain counters: this worker writes them; reports read them after it stopped.
  tcp::TcpCounters tcp_;
  struct Tallies {
    std::array<uint64_t, net::decode_outcome_count> decode{};
    std::array<uint64_t, static_cast<std::size_t>(tcp::Policy::count_)> policy{};
    uint64_t refused_table_full = 0;
    uint64_t reassembled = 0, refragmented = 0;
  } t_;
};

} // namespace haka::engine
