// Offline capture input and output: classic pcap mapped zero-copy, pcapng via libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/uio.h>

#include <rte_mbuf.h>

#include "net/packet_meta.hpp"

struct pcap;

namespace haka::io {

/// What a capture file's header says about its packets.
struct CaptureFormat {
  uint32_t linktype = 1;    // the header's link-type field as found (FCS bits included)
  uint32_t snaplen = 65535;
  bool nanosecond = false;  // timestamps with nanosecond resolution
};

/// The decoder's link type for a pcap link-type value, if we read it.
std::optional<net::LinkType> link_type_from_dlt(uint32_t dlt);

/// Why reading a capture stopped before its end.
enum class ReadStop : uint8_t { none, truncated_record, bad_record_length, libpcap_error };

/// Reads a capture into mbufs of a pool. Classic pcap files (either byte order,
/// micro- or nanosecond) are mapped and every packet is attached to its mbuf as an
/// external buffer, so no byte is copied; anything else libpcap reads (pcapng) is
/// copied into the mbufs. Each mbuf's PacketMeta gets the packet's timestamp.
class PcapReader {
 public:
  /// Opens `path`; nullptr with `err` set (naming the file and the problem) on failure.
  /// `force_libpcap` takes the copying path even for classic pcap (tests, benches).
  static std::unique_ptr<PcapReader> open(const std::string& path, rte_mempool* pool, std::string& err,
                                          bool force_libpcap = false);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  /// Up to `n` next packets; fewer (maybe 0) when the pool is short of mbufs or at the end.
  uint16_t read_burst(rte_mbuf** pkts, uint16_t n);
  /// True once every packet was handed out (or reading stopped on a bad record).
  bool done() const { return done_; }
  bool zero_copy() const { return map_ != nullptr; }
  const CaptureFormat& format() const { return format_; }
  net::LinkType link_type() const { return link_type_; }
  ReadStop stop_reason() const { return stop_; }
  /// Byte offset of the record where reading stopped, for the error message.
  uint64_t stop_offset() const { return stop_offset_; }
  uint64_t packets_read() const { return packets_read_; }
  /// Times read_burst found the pool empty.
  uint64_t pool_starved() const { return pool_starved_; }
  /// The mapped file (empty when reading through libpcap): stays mapped and, for
  /// packets already handed on and freed, unchanged until the reader is destroyed.
  std::span<const uint8_t> mapped() const { return {map_, map_ != nullptr ? map_size_ : 0}; }

 private:
  PcapReader() = default;
  bool open_mapped(int fd, uint64_t size, std::string& err);
  bool open_libpcap(const std::string& path, std::string& err);
  uint16_t read_mapped(rte_mbuf** pkts, uint16_t n);
  uint16_t read_libpcap(rte_mbuf** pkts, uint16_t n);
  bool attach_record(rte_mbuf* head, uint64_t rec_off, uint32_t caplen);
  void settle_refs();
  void populate_ahead();

  rte_mempool* pool_ = nullptr;
  CaptureFormat format_;
  net::LinkType link_type_ = net::LinkType::ethernet;
  bool done_ = false;
  ReadStop stop_ = ReadStop::none;
  uint64_t stop_offset_ = 0;
  uint64_t packets_read_ = 0;
  uint64_t pool_starved_ = 0;

  // Mapped path.
  uint8_t* map_ = nullptr;
  uint64_t map_size_ = 0;
  uint64_t cursor_ = 0;  // offset of the next record header
  bool swapped_ = false; // file written on a host of the other byte order
  bool iova_va_ = false;
  bool populate_ok_ = true;
  uint64_t populated_ = 0;       // the mapping is in our page tables up to here
  uint64_t pending_group_ = 0;   // group whose refcount owes pending_refs_
  uint16_t pending_refs_ = 0;
  // One shared-info block per group of records: the ext-buffer refcount of a
  // group stays far below its 16-bit limit whatever the pool size.
  struct ExtGroup;
  std::vector<ExtGroup> groups_;

  // libpcap path.
  ::pcap* pcap_ = nullptr;
};

/// Writes packets to a classic pcap file in a given format (the input's link type
/// and timestamp resolution); timestamps come from each PacketMeta. Output goes out
/// in writev calls of about 1 MiB: record headers and packets from elsewhere are
/// copied into a staging buffer, packets lying in `stable` memory (the reader's
/// mapping) are written from where they lie, and a record identical to the one in
/// the mapping, header included, goes out with its neighbours as one range.
class PcapWriter {
 public:
  static std::unique_ptr<PcapWriter> open(const std::string& path, const CaptureFormat& format,
                                          std::string& err);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  /// Appends the packets (whole chains); does not free them. Bytes inside `stable`
  /// may be written later, up to close(): they must stay mapped and unchanged until
  /// then (the reader's mapping: freed packets are never written to, clones are
  /// read-only). Anything else is copied before this returns.
  void write_burst(rte_mbuf* const* pkts, uint16_t n, std::span<const uint8_t> stable = {});
  /// Flushes and closes; false with `err` set if any write failed.
  bool close(std::string& err);
  uint64_t packets_written() const { return packets_; }
  /// Bytes that went through the staging buffer (the rest was written in place).
  uint64_t bytes_copied() const { return copied_; }
  /// writev calls so far.
  uint64_t writes() const { return writes_; }

 private:
  PcapWriter() = default;
  void append_copy(const void* p, std::size_t len);
  void append_ref(const uint8_t* p, std::size_t len);
  bool flush();

  int fd_ = -1;
  std::string path_;
  CaptureFormat format_;
  uint32_t max_caplen_ = 0;
  uint64_t packets_ = 0;
  int write_errno_ = 0;
  std::vector<uint8_t> buf_;   // staging for copied bytes
  std::size_t used_ = 0;
  std::vector<iovec> iov_;     // what the next writev sends, in order
  std::size_t n_iov_ = 0;
  std::size_t pending_ = 0;    // bytes in iov_
  uint64_t copied_ = 0;
  uint64_t writes_ = 0;
};

} // namespace haka::io
