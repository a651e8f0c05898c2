// The stream stage of the tracking pipeline: per-connection reassembly of
// both directions, the listeners of the reassembled bytes, and the release
// of held packets (as they are, or rebuilt) into the burst's output.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <rte_mbuf.h>

#include "engine/counters.hpp"
#include "engine/output_queue.hpp"
#include "flow/page_buffer.hpp"
#include "net/packet_meta.hpp"
#include "tcp/connection.hpp"
#include "tcp/seq_offset_map.hpp"
#include "tcp/tcp_stream.hpp"
#include "vbuffer/vbuffer.hpp"

namespace haka::engine {

/// Identity of a connection for stream listeners.
struct StreamConn {
  uint64_t uid;      // unique per worker for its lifetime
  tcp::Connection* conn;  // its tracker state (the pipeline maps it to its slot)
  uint32_t worker;   // the worker's index
  const rte_mbuf* packet; // the packet being processed (addresses and ports; may be of either direction)
  tcp::Dir packet_dir;    // its direction
  vbuffer::Stream* stream = nullptr; // the stream of the event's direction
};

/// Something that consumes reassembled bytes (the dump writer; later the Lua
/// rules and the pattern scan). Called in order, once per byte.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  /// `n` new in-order bytes of direction `d`, from `first`.
  virtual void on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t n) = 0;
  /// The direction's stream ended with a FIN (every byte before it delivered).
  virtual void on_end(const StreamConn& conn, tcp::Dir d) = 0;
  /// The connection's streams are going (closed, reset, dropped, timed
  /// out, shutdown): `conn.packet` and `conn.stream` are null; the streams'
  /// bytes are still there during the call.
  virtual void on_close(const StreamConn& conn) = 0;
  /// After on_data/on_end returned: a listener that acted on the connection
  /// (drop, reset) asks the stage to stop delivering (true).
  virtual bool stop_delivery(const StreamConn&) { return false; }
};

/// Settings of the stream stage, one per worker.
struct StreamStageConfig {
  tcp::StreamConfig stream;
  uint32_t connections = 1u << 16; // connections with stream state at once (the rest are refused data: counted)
  uint32_t chunks = 1u << 18;      // vbuffer chunk nodes (64 B each)
  uint16_t mtu = 1500;             // rebuilt packets are split to fit
  uint32_t modified_directions = 4096; // stream directions with unacknowledged length edits at once
  net::LinkType link = net::LinkType::ethernet; // forged RSTs' link header
  rte_mempool* pool = nullptr;     // mbufs for rebuilt packets and owned bytes
  uint32_t worker = 0;
  bool pass_through = false;       // observe: nothing dropped or rebuilt (packets still wait for marks, as Haka)
};

/// One worker's reassembly of every tracked connection.
class StreamStage {
 public:
  static std::unique_ptr<StreamStage> create(const StreamStageConfig& cfg, OutputQueue& out, std::string& err);
  ~StreamStage();
  StreamStage(const StreamStage&) = delete;
  StreamStage& operator=(const StreamStage&) = delete;

  void add_listener(StreamListener* l) { listeners_.push_back(l); }

  /// Prefetches the stream state of the connections a burst's flow lookups
  /// found (`slots` index `conns`; refused lookups are skipped), called right
  /// after their tcp::Connection lines were prefetched. Three passes, each
  /// reading what the previous one prefetched: the pairs' lines, then the
  /// oldest kept chunk of each direction (the packet's ACK frees the other
  /// direction's), then that chunk's mbuf (its reference is dropped). Each
  /// pass's misses overlap across the burst instead of coming one after the
  /// other in on_segment.
  void prefetch(const tcp::Connection* conns, std::span<const uint32_t> slots) const;

  /// A segment the tracker accepted for connection `c`, direction `d`.
  /// True when the stage took the packet (held, or its verdict put in the
  /// output queue); false: the caller forwards it as it is.
  bool on_segment(tcp::Connection& c, tcp::Dir d, rte_mbuf* m, const tcp::StepResult& r);
  /// A packet of a connection whose streams were modified (conn_flag::translated)
  /// that leaves without going through a stream (pure ACK, RST, FIN,
  /// retransmission): its seq, ack and SACK blocks are translated in place.
  void translate(tcp::Connection& c, tcp::Dir d, rte_mbuf* m);
  /// The packet's ACK (of the other direction's bytes, as its receiver got
  /// them) in the other direction's original space, for the tracker.
  tcp::Seq ack_to_original(tcp::Connection& c, tcp::Dir d, tcp::Seq ack);
  /// flow:reset() (to_server and to_client) or halfreset() (to_server only):
  /// forges RSTs from the peer's address, with the sequence number the
  /// receiver expects next (the end of what was released to it, in output
  /// space, FIN included), so a real stack accepts them (RFC 5961 exact
  /// match). `current` (direction `cur`) gives addresses and MACs; the RST
  /// toward its sender goes back out the port it came in by. Haka's order
  /// and fields: toward the client first; RST only, ack 0, window 0, TTL 64,
  /// IP id 0. Returns how many were queued (injected).
  int forge_resets(tcp::Connection& c, const rte_mbuf* current, tcp::Dir cur, bool to_client, bool to_server);
  /// Releases what nothing holds in `d` (flow:send(dir)).
  void send(tcp::Connection& c, tcp::Dir d);
  /// The connection ends: with `release_first` what can leave leaves (a
  /// close, a peer's RST), the rest is dropped (`why`); without, everything
  /// held is dropped (a rule's drop or reset, as Haka).
  void on_close(tcp::Connection& c, DropReason why, bool release_first = true);
  /// Shutdown: every connection's streams as on_close (counted `shutdown`).
  void close_all();

  uint64_t held() const { return spool_->counters().held_now; }
  vbuffer::BufferPool& buffers() { return *buffers_; }
  std::size_t memory_bytes() const;
  std::vector<CounterGroup> collect() const;

 private:
  struct Pair {
    tcp::TcpStream dir[2];
    tcp::SeqOffsetMap map[2]; // original -> output, per direction (empty until rules change a length)
    uint64_t uid = 0;
    tcp::Connection* owner = nullptr; // the connection the pair belongs to
    uint32_t next_free = 0; // free list: index + 1
    uint8_t live = 0;
    uint8_t ended[2] = {0, 0};
  };

  StreamStage(const StreamStageConfig& cfg, OutputQueue& out);
  Pair* pair_of(tcp::Connection& c, bool create);
  bool start(Pair& p, const tcp::Connection& c, tcp::Dir d);
  void release(tcp::Connection& c, Pair& p, tcp::Dir d);
  void emit(tcp::Connection& c, Pair& p, tcp::Dir d, const tcp::HeldPacket* h, vbuffer::Buffer& bytes);
  bool rebuild(rte_mbuf* m, uint32_t seq, uint32_t ack, const vbuffer::Buffer& bytes);
  void translate_headers(Pair& p, tcp::Dir d, rte_mbuf* m, tcp::Seq out_seq);
  void check_end(Pair& p, const tcp::Connection& c, tcp::Dir d, const rte_mbuf* m);
  void drain_dropped();
  void free_pair(tcp::Connection& c, Pair& p, DropReason why, bool release_first);

  StreamStageConfig cfg_;
  OutputQueue& out_;
  std::unique_ptr<vbuffer::BufferPool> buffers_;
  std::unique_ptr<tcp::StreamPool> spool_;
  std::unique_ptr<tcp::SeqOffsetPool> offsets_;
  // Storage for `cap_` pairs, pre-faulted at start-up (as the flow tables
  // are: a first touch on the packet path was a page fault every dozen
  // connections), constructed in place as connections first carry data;
  // `made_` are constructed.
  flow::PageBuffer pairs_mem_;
  Pair* pairs_ = nullptr;
  uint32_t cap_ = 0, made_ = 0;
  uint32_t free_ = 0;       // free list head: index + 1
  uint64_t next_uid_ = 1;
  std::vector<StreamListener*> listeners_;
  struct Tallies {
    uint64_t no_state = 0;     // data refused: no stream state left for the connection
    uint64_t rebuilt = 0;      // packets rebuilt
    uint64_t rebuild_failed = 0;
    uint64_t translation_lost = 0; // a modified packet the offset map could not record: connection's data dropped
    uint64_t translated_packets = 0;
    uint64_t resets_forged = 0, resets_failed = 0;
    uint64_t streams_ended = 0;
    uint64_t pairs_peak = 0, pairs_now = 0;
  } t_;
};

/// Writes every reassembled stream as the rules see it, one file per
/// connection and direction: <client>_<port>-<server>_<port>.<up|down>,
/// ".2", ".3" appended for later connections on the same four-tuple. A
/// forensic and test mode: it writes with stdio as bytes arrive.
class StreamDumpWriter : public StreamListener {
 public:
  /// Creates `dir` if needed; an error names the path.
  static std::unique_ptr<StreamDumpWriter> create(const std::string& dir, std::string& err);
  ~StreamDumpWriter() override;
  void on_data(const StreamConn& conn, tcp::Dir d, vbuffer::Iterator first, uint32_t n) override;
  void on_end(const StreamConn& conn, tcp::Dir d) override;
  void on_close(const StreamConn& conn) override;
  uint64_t write_errors() const { return write_errors_; }

 private:
  explicit StreamDumpWriter(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(const StreamConn& conn, tcp::Dir d, bool* first = nullptr);
  std::string dir_;
  struct Name {
    std::string base; // <client>_<port>-<server>_<port>
    uint32_t nth;     // 1 for the first connection on the four-tuple
    bool begun[2] = {false, false}; // file created by this run (later writes append)
  };
  std::unordered_map<uint64_t, Name> open_;        // live connections' names
  std::unordered_map<std::string, uint32_t> used_; // four-tuple name -> connections seen on it
  uint64_t write_errors_ = 0;
};

} // namespace haka::engine
