#include "io/pcap_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_prefetch.h>

namespace haka::io {

namespace {

constexpr uint32_t magic_us = 0xa1b2c3d4;
constexpr uint32_t magic_ns = 0xa1b23c4d;
constexpr std::size_t file_header_size = 24;
constexpr std::size_t record_header_size = 16;
// Largest record we accept: libpcap's own ceiling for any link type.
constexpr uint32_t max_record_len = 262144;
// Records whose header lies in the same span of the file share one ext-buffer
// refcount; a span holds at most span/16 records, below the 16-bit limit.
constexpr uint64_t ext_group_span = 256 * 1024;
constexpr uint32_t max_segment_len = UINT16_MAX;
// Ext-buffer references counted before they are added to a group's refcount
// (an int16_t step in DPDK's API).
constexpr uint16_t max_pending_refs = 4096;
// How far ahead of the cursor the mapping is populated, in one madvise call.
constexpr uint64_t populate_window = 4u << 20;
constexpr uint64_t page_size = 4096;
// Writer: bytes gathered (copied or referenced) before one writev, the staging
// buffer for copied bytes (record headers, packets not in the input's mapping),
// and iovecs per writev (IOV_MAX on Linux).
constexpr std::size_t flush_bytes = 1u << 20;
constexpr std::size_t staging_size = 1u << 20;
constexpr std::size_t max_iov = 1024;
// Shorter segments outside a whole mapped record are cheaper copied than referenced.
constexpr std::size_t min_ref_len = 256;

uint32_t load32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? rte_bswap32(v) : v;
}

// The mapping outlives every mbuf attached to it (the engine checks the pool is
// full before closing the reader), so releasing a buffer needs no action.
void ext_buffer_released(void*, void*) {}

std::string errno_text(int e) { return std::strerror(e); }

} // namespace

struct PcapReader::ExtGroup {
  rte_mbuf_ext_shared_info shinfo;
};

std::optional<net::LinkType> link_type_from_dlt(uint32_t dlt) {
  switch (dlt & 0xffff) {
    case 1: return net::LinkType::ethernet;
    case 12:
    case 14:
    case 101: return net::LinkType::raw_ip;
    case 228: return net::LinkType::ipv4;
    case 229: return net::LinkType::ipv6;
    case 113: return net::LinkType::linux_sll;
    case 276: return net::LinkType::linux_sll2;
    default: return std::nullopt;
  }
}

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, rte_mempool* pool, std::string& err,
                                             bool force_libpcap) {
  std::unique_ptr<PcapReader> r(new PcapReader());
  r->pool_ = pool;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": cannot open: " + errno_text(errno);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = path + ": not a regular file";
    ::close(fd);
    return nullptr;
  }
  uint8_t head[4] = {};
  ssize_t got = pread(fd, head, sizeof head, 0);
  uint32_t magic = 0;
  if (got == 4) std::memcpy(&magic, head, 4);
  bool classic = magic == magic_us || magic == magic_ns || magic == rte_bswap32(magic_us) ||
                 magic == rte_bswap32(magic_ns);
  bool ok;
  if (classic && !force_libpcap) {
    ok = r->open_mapped(fd, static_cast<uint64_t>(st.st_size), err);
    if (!ok) err = path + ": " + err;
  } else {
    ok = r->open_libpcap(path, err);
    uint8_t hdr[file_header_size];
    if (ok && classic && pread(fd, hdr, sizeof hdr, 0) == static_cast<ssize_t>(sizeof hdr)) {
      // Keep the file's own resolution and snaplen, so the output matches it.
      bool swapped = magic == rte_bswap32(magic_us) || magic == rte_bswap32(magic_ns);
      r->format_.nanosecond = (swapped ? rte_bswap32(magic) : magic) == magic_ns;
      r->format_.snaplen = load32(hdr + 16, swapped);
      r->format_.linktype = load32(hdr + 20, swapped);
    }
  }
  ::close(fd);
  if (!ok) return nullptr;
  auto lt = link_type_from_dlt(r->format_.linktype);
  if (!lt) {
    err = path + ": unsupported link type " + std::to_string(r->format_.linktype & 0xffff) +
          " (supported: Ethernet 1, raw IP 101/12/14, IPv4 228, IPv6 229, Linux cooked 113/276)";
    return nullptr;
  }
  r->link_type_ = *lt;
  return r;
}

bool PcapReader::open_mapped(int fd, uint64_t size, std::string& err) {
  if (size < file_header_size) {
    err = "truncated pcap file header";
    return false;
  }
  // Private and writable: a rule that rewrites header bytes in place changes
  // only our copy-on-write page, never the file.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    err = "cannot map: " + errno_text(errno);
    return false;
  }
  madvise(p, size, MADV_SEQUENTIAL);
  map_ = static_cast<uint8_t*>(p);
  map_size_ = size;
  uint32_t magic;
  std::memcpy(&magic, map_, 4);
  swapped_ = magic == rte_bswap32(magic_us) || magic == rte_bswap32(magic_ns);
  uint32_t native = swapped_ ? rte_bswap32(magic) : magic;
  format_.nanosecond = native == magic_ns;
  format_.snaplen = load32(map_ + 16, swapped_);
  format_.linktype = load32(map_ + 20, swapped_);
  cursor_ = file_header_size;
  groups_.resize(size / ext_group_span + 1);
  for (auto& g : groups_) {
    g.shinfo.free_cb = ext_buffer_released;
    g.shinfo.fcb_opaque = nullptr;
    rte_mbuf_ext_refcnt_set(&g.shinfo, 0);
  }
  iova_va_ = rte_eal_iova_mode() == RTE_IOVA_VA;
  done_ = cursor_ == map_size_;
  return true;
}

bool PcapReader::open_libpcap(const std::string& path, std::string& err) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_ = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap_ == nullptr) {
    err = path + ": not a capture libpcap can read: " + errbuf;
    return false;
  }
  format_.linktype = static_cast<uint32_t>(pcap_datalink(pcap_));
  format_.snaplen = static_cast<uint32_t>(pcap_snapshot(pcap_));
  format_.nanosecond = true;
  return true;
}

PcapReader::~PcapReader() {
  if (pcap_ != nullptr) pcap_close(pcap_);
  if (map_ != nullptr) {
    for (const auto& g : groups_) {
      if (rte_mbuf_ext_refcnt_read(&g.shinfo) != 0) {
        // An mbuf still points into the mapping: keeping it mapped is the only
        // safe choice, and so is keeping the groups' shared info, which that
        // mbuf's free will update (moving the vector keeps its storage). The
        // engine reports the leak through its pool check.
        static std::vector<std::vector<ExtGroup>> still_referenced;
        still_referenced.push_back(std::move(groups_));
        return;
      }
    }
    munmap(map_, map_size_);
  }
}

uint16_t PcapReader::read_burst(rte_mbuf** pkts, uint16_t n) {
  if (done_ || n == 0) return 0;
  return map_ != nullptr ? read_mapped(pkts, n) : read_libpcap(pkts, n);
}

void PcapReader::settle_refs() {
  if (pending_refs_ != 0) rte_mbuf_ext_refcnt_update(&groups_[pending_group_].shinfo, pending_refs_);
  pending_refs_ = 0;
}

bool PcapReader::attach_record(rte_mbuf* head, uint64_t rec_off, uint32_t caplen) {
  const uint64_t group = rec_off / ext_group_span;
  if (group != pending_group_ || pending_refs_ >= max_pending_refs) {
    settle_refs();
    pending_group_ = group;
  }
  rte_mbuf_ext_shared_info* shinfo = &groups_[group].shinfo;
  uint8_t* data = map_ + rec_off + record_header_size;
  rte_mbuf* seg = head;
  rte_mbuf* prev = nullptr;
  uint32_t left = caplen;
  uint16_t nb_segs = 0;
  do {
    if (seg == nullptr) {
      seg = rte_pktmbuf_alloc(pool_);
      if (seg == nullptr) return false;
      prev->next = seg;
    }
    uint16_t len = static_cast<uint16_t>(left < max_segment_len ? left : max_segment_len);
    rte_iova_t iova = iova_va_ ? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(data)) : RTE_BAD_IOVA;
    // Counted now, added to the group's refcount once per burst (settle_refs):
    // one atomic per burst instead of one per packet.
    ++pending_refs_;
    rte_pktmbuf_attach_extbuf(seg, data, iova, len, shinfo);
    seg->data_len = len;
    data += len;
    left -= len;
    ++nb_segs;
    prev = seg;
    seg = nullptr;
  } while (left > 0);
  head->nb_segs = nb_segs;
  head->pkt_len = caplen;
  return true;
}

void PcapReader::populate_ahead() {
  // Map the next window of the file into our page tables with one call, ahead
  // of the cursor, instead of taking a page fault every few records; prefetches
  // then reach lines that are already mapped. Still inside the timed read loop.
  uint64_t want = cursor_ + populate_window;
  if (want > map_size_) want = map_size_;
  if (want <= populated_) return;
  uint64_t from = populated_ & ~(page_size - 1);
  uint64_t to = (want + page_size - 1) & ~(page_size - 1);
  if (!populate_ok_ || madvise(map_ + from, to - from, MADV_POPULATE_READ) != 0) {
    // Kernels before 5.14 know no MADV_POPULATE_READ: page faults do the same, slower.
    populate_ok_ = false;
  }
  populated_ = want;
}

uint16_t PcapReader::read_mapped(rte_mbuf** pkts, uint16_t n) {
  if (rte_pktmbuf_alloc_bulk(pool_, pkts, n) != 0) {
    // Not enough for a whole burst: try one by one, so a nearly empty pool still
    // makes progress.
    uint16_t k = 0;
    while (k < n && (pkts[k] = rte_pktmbuf_alloc(pool_)) != nullptr) ++k;
    if (k == 0) {
      ++pool_starved_;
      return 0;
    }
    n = k;
  }
  if (cursor_ + populate_window / 2 > populated_) populate_ahead();
  uint16_t filled = 0;
  while (filled < n) {
    if (cursor_ == map_size_) {
      done_ = true;
      break;
    }
    if (map_size_ - cursor_ < record_header_size) {
      stop_ = ReadStop::truncated_record;
      break;
    }
    const uint8_t* rh = map_ + cursor_;
    uint32_t ts_sec = load32(rh, swapped_);
    uint32_t ts_frac = load32(rh + 4, swapped_);
    uint32_t caplen = load32(rh + 8, swapped_);
    if (caplen > max_record_len) {
      stop_ = ReadStop::bad_record_length;
      break;
    }
    if (map_size_ - cursor_ - record_header_size < caplen) {
      stop_ = ReadStop::truncated_record;
      break;
    }
    // The next record's header (and the packet headers after it) and, guessing
    // records of similar size, the one after: the walk is bound by these misses.
    const uint64_t next = cursor_ + record_header_size + caplen;
    if (next + 2 * record_header_size + caplen < populated_) {
      rte_prefetch0(map_ + next);
      rte_prefetch0(map_ + next + record_header_size + caplen);
    }
    rte_mbuf* m = pkts[filled];
    if (caplen == 0) {
      // Nothing to attach: an empty direct mbuf says the same.
      m->data_len = 0;
      m->pkt_len = 0;
    } else if (caplen <= max_segment_len) {
      // The usual record: one segment, attached here without attach_record's
      // chain loop.
      const uint64_t group = cursor_ / ext_group_span;
      if (group != pending_group_ || pending_refs_ >= max_pending_refs) {
        settle_refs();
        pending_group_ = group;
      }
      ++pending_refs_;
      uint8_t* data = map_ + cursor_ + record_header_size;
      rte_iova_t iova = iova_va_ ? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(data)) : RTE_BAD_IOVA;
      rte_pktmbuf_attach_extbuf(m, data, iova, static_cast<uint16_t>(caplen), &groups_[group].shinfo);
      m->data_len = static_cast<uint16_t>(caplen);
      m->pkt_len = caplen;
    } else if (!attach_record(m, cursor_, caplen)) {
      // Out of mbufs for the chain of a huge record: give back what this record
      // took and retry it on the next burst.
      settle_refs();
      rte_pktmbuf_free(m);
      pkts[filled] = nullptr;
      ++pool_starved_;
      for (uint16_t i = filled + 1; i < n; ++i) rte_pktmbuf_free(pkts[i]);
      return filled;
    }
    net::PacketMeta& pm = net::meta(m);
    pm = net::PacketMeta{};
    pm.timestamp_ns = uint64_t{ts_sec} * 1'000'000'000u + (format_.nanosecond ? ts_frac : uint64_t{ts_frac} * 1000u);
    cursor_ += record_header_size + caplen;
    ++filled;
    ++packets_read_;
  }
  settle_refs();
  if (stop_ != ReadStop::none) {
    done_ = true;
    stop_offset_ = cursor_;
  }
  for (uint16_t i = filled; i < n; ++i) rte_pktmbuf_free(pkts[i]);
  return filled;
}

uint16_t PcapReader::read_libpcap(rte_mbuf** pkts, uint16_t n) {
  uint16_t filled = 0;
  while (filled < n) {
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(pcap_, &hdr, &data);
    if (rc == PCAP_ERROR_BREAK) {
      done_ = true;
      break;
    }
    if (rc != 1) {
      done_ = true;
      stop_ = ReadStop::libpcap_error;
      break;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
      // libpcap cannot un-read a packet: wait for mbufs is not possible here, so
      // this is a counted stop. Pools are sized so offline never gets here.
      ++pool_starved_;
      done_ = true;
      stop_ = ReadStop::libpcap_error;
      break;
    }
    uint32_t left = hdr->caplen;
    const u_char* src = data;
    rte_mbuf* seg = m;
    bool ok = true;
    while (true) {
      uint16_t room = rte_pktmbuf_tailroom(seg);
      uint16_t len = static_cast<uint16_t>(left < room ? left : room);
      std::memcpy(rte_pktmbuf_mtod(seg, uint8_t*), src, len);
      seg->data_len = len;
      src += len;
      left -= len;
      if (left == 0) break;
      rte_mbuf* next = rte_pktmbuf_alloc(pool_);
      if (next == nullptr || rte_pktmbuf_chain(m, next) != 0) {
        if (next) rte_pktmbuf_free(next);
        ok = false;
        break;
      }
      seg = next;
    }
    if (!ok) {
      rte_pktmbuf_free(m);
      ++pool_starved_;
      done_ = true;
      stop_ = ReadStop::libpcap_error;
      break;
    }
    m->pkt_len = hdr->caplen;
    net::PacketMeta& pm = net::meta(m);
    pm = net::PacketMeta{};
    pm.timestamp_ns = uint64_t(hdr->ts.tv_sec) * 1'000'000'000u + uint64_t(hdr->ts.tv_usec);
    pkts[filled++] = m;
    ++packets_read_;
  }
  return filled;
}

// ---------------------------------------------------------------------------

std::unique_ptr<PcapWriter> PcapWriter::open(const std::string& path, const CaptureFormat& format,
                                             std::string& err) {
  std::unique_ptr<PcapWriter> w(new PcapWriter());
  w->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    err = path + ": cannot create: " + errno_text(errno);
    return nullptr;
  }
  w->path_ = path;
  w->format_ = format;
  w->buf_.resize(staging_size);
  w->iov_.resize(max_iov);
  uint32_t hdr[6] = {format.nanosecond ? magic_ns : magic_us, 0x00040002u, 0, 0, format.snaplen,
                     format.linktype};
  w->append_copy(hdr, sizeof hdr);
  return w;
}

PcapWriter::~PcapWriter() {
  if (fd_ >= 0) {
    std::string ignored;
    close(ignored);
  }
}

void PcapWriter::append_copy(const void* p, std::size_t len) {
  if (used_ + len > buf_.size() || n_iov_ == iov_.size()) flush();
  uint8_t* dst = buf_.data() + used_;
  std::memcpy(dst, p, len);
  used_ += len;
  pending_ += len;
  copied_ += len;
  if (n_iov_ != 0 && static_cast<uint8_t*>(iov_[n_iov_ - 1].iov_base) + iov_[n_iov_ - 1].iov_len == dst) {
    iov_[n_iov_ - 1].iov_len += len;
    return;
  }
  iov_[n_iov_++] = iovec{dst, len};
}

void PcapWriter::append_ref(const uint8_t* p, std::size_t len) {
  if (n_iov_ == iov_.size()) flush();
  pending_ += len;
  if (n_iov_ != 0 && static_cast<const uint8_t*>(iov_[n_iov_ - 1].iov_base) + iov_[n_iov_ - 1].iov_len == p) {
    iov_[n_iov_ - 1].iov_len += len;
    return;
  }
  iov_[n_iov_++] = iovec{const_cast<uint8_t*>(p), len};
}

bool PcapWriter::flush() {
  iovec* v = iov_.data();
  std::size_t left = n_iov_;
  while (left != 0 && write_errno_ == 0) {
    ssize_t w = ::writev(fd_, v, static_cast<int>(left));
    ++writes_;
    if (w < 0) {
      if (errno == EINTR) continue;
      write_errno_ = errno;
      break;
    }
    if (w == 0) {
      write_errno_ = EIO;
      break;
    }
    // A short write: skip what went out and go on with the rest.
    auto done = static_cast<std::size_t>(w);
    while (left != 0 && done >= v->iov_len) {
      done -= v->iov_len;
      ++v;
      --left;
    }
    if (left != 0) {
      v->iov_base = static_cast<uint8_t*>(v->iov_base) + done;
      v->iov_len -= done;
    }
  }
  n_iov_ = 0;
  used_ = 0;
  pending_ = 0;
  return write_errno_ == 0;
}

void PcapWriter::write_burst(rte_mbuf* const* pkts, uint16_t n, std::span<const uint8_t> stable) {
  const auto lo = reinterpret_cast<uintptr_t>(stable.data());
  const std::size_t size = stable.size();
  // Compared as integers: the pointer may lie in any buffer, or just before one.
  auto in_stable = [lo, size](const uint8_t* p, std::size_t len) {
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= lo && a - lo <= size && len <= size - (a - lo);
  };
  for (uint16_t i = 0; i < n; ++i) {
    const rte_mbuf* m = pkts[i];
    uint64_t ts = net::meta(m).timestamp_ns;
    uint32_t sec = static_cast<uint32_t>(ts / 1'000'000'000u);
    uint32_t frac = static_cast<uint32_t>(ts % 1'000'000'000u);
    if (!format_.nanosecond) frac /= 1000;
    uint32_t rec[4] = {sec, frac, m->pkt_len, m->pkt_len};
    const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
    const rte_mbuf* s = m;
    const auto* h = reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(d) - record_header_size);
    if (m->data_len != 0 && in_stable(h, record_header_size + m->data_len) &&
        std::memcmp(h, rec, sizeof rec) == 0) {
      // The record as the input holds it, header and all (a pass-through
      // packet): written from the mapping, no byte copied, and merged with the
      // records next to it into one iovec.
      append_ref(h, record_header_size + m->data_len);
      s = m->next;
    } else {
      append_copy(rec, sizeof rec);
    }
    for (; s != nullptr; s = s->next) {
      const uint8_t* sd = rte_pktmbuf_mtod(s, const uint8_t*);
      if (s->data_len >= min_ref_len && in_stable(sd, s->data_len))
        append_ref(sd, s->data_len);
      else if (s->data_len != 0)
        append_copy(sd, s->data_len);
    }
    if (m->pkt_len > max_caplen_) max_caplen_ = m->pkt_len;
    ++packets_;
    if (pending_ >= flush_bytes) flush();
  }
}

bool PcapWriter::close(std::string& err) {
  if (fd_ < 0) return true;
  flush();
  if (max_caplen_ > format_.snaplen && write_errno_ == 0) {
    // A rule grew a packet past the input's snaplen: raise it so readers take
    // the records whole. Unchanged otherwise, so a pass-through run is
    // byte-identical to its input.
    uint32_t snap = max_caplen_;
    if (pwrite(fd_, &snap, sizeof snap, 16) != static_cast<ssize_t>(sizeof snap)) write_errno_ = errno;
  }
  if (::close(fd_) != 0 && write_errno_ == 0) write_errno_ = errno;
  fd_ = -1;
  if (write_errno_ != 0) {
    err = path_ + ": write failed: " + errno_text(write_errno_);
    return false;
  }
  return true;
}

} // namespace haka::io
