// bench_offline: the two reference readers haka-dpdk's offline mode is compared
// with (bench/offline_throughput.sh), with nothing of the engine in them.
//
//   bench_offline libpcap FILE   pcap_next_ex loop, touching each packet's first byte
//   bench_offline walk FILE      mmap the file, read each record header and the
//                                packet's first byte
//   bench_offline copy FILE OUT  the walk, writing the mapped records to OUT as it
//                                goes (write() of about 1 MiB at a time): what an
//                                output pcap costs the kernel, without any engine
//
// Prints one line: "<mode> <packets> <bytes> <seconds> <pps> <checksum>". The
// time covers opening the file, the whole loop and closing it (mmap and munmap
// included for the walk), so both pay for their own set-up like haka-dpdk pays
// for its reader's. The checksum of first bytes keeps the touches from being
// optimised away.
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

/// What one pass over a capture counted.
struct Pass {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t checksum = 0;
  bool ok = false;
};

Pass run_libpcap(const char* path) {
  Pass p;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pc == nullptr) {
    std::fprintf(stderr, "bench_offline: %s: %s\n", path, errbuf);
    return p;
  }
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
    ++p.packets;
    p.bytes += hdr->caplen;
    if (hdr->caplen != 0) p.checksum += data[0];
  }
  p.ok = rc == PCAP_ERROR_BREAK;
  if (!p.ok) std::fprintf(stderr, "bench_offline: %s: %s\n", path, pcap_geterr(pc));
  pcap_close(pc);
  return p;
}

uint32_t load32(const uint8_t* q, bool swapped) {
  uint32_t v;
  std::memcpy(&v, q, sizeof v);
  return swapped ? __builtin_bswap32(v) : v;
}

bool write_all(int fd, const uint8_t* p, uint64_t len) {
  while (len != 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= static_cast<uint64_t>(w);
  }
  return true;
}

// out_path: nullptr for the plain walk.
Pass run_walk(const char* path, const char* out_path) {
  Pass p;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
    std::fprintf(stderr, "bench_offline: %s: cannot open or too short\n", path);
    if (fd >= 0) close(fd);
    return p;
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  // A plain private read-only mapping: no populate, no advice, the simplest walk.
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "bench_offline: %s: mmap failed: %s\n", path, std::strerror(errno));
    return p;
  }
  const auto* base = static_cast<const uint8_t*>(m);
  uint32_t magic = load32(base, false);
  bool swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
  if (!swapped && magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) {
    std::fprintf(stderr, "bench_offline: %s: not a classic pcap file\n", path);
    munmap(m, size);
    return p;
  }
  int out = -1;
  if (out_path != nullptr && (out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    std::fprintf(stderr, "bench_offline: %s: cannot create: %s\n", out_path, std::strerror(errno));
    munmap(m, size);
    return p;
  }
  uint64_t off = 24;
  uint64_t written = 0;
  bool wrote = true;
  while (size - off >= 16) {
    uint32_t caplen = load32(base + off + 8, swapped);
    if (caplen > size - off - 16) break;
    ++p.packets;
    p.bytes += caplen;
    if (caplen != 0) p.checksum += base[off + 16];
    off += 16 + uint64_t{caplen};
    if (out >= 0 && off - written >= (1u << 20)) {
      wrote = wrote && write_all(out, base + written, off - written);
      written = off;
    }
  }
  p.ok = off == size;
  if (out >= 0) {
    wrote = wrote && write_all(out, base + written, off - written);
    if (close(out) != 0 || !wrote) {
      std::fprintf(stderr, "bench_offline: %s: write failed\n", out_path);
      p.ok = false;
    }
  }
  if (!p.ok) std::fprintf(stderr, "bench_offline: %s: stopped at byte %" PRIu64 "\n", path, off);
  munmap(m, size);
  return p;
}

} // namespace

int main(int argc, char** argv) {
  const bool copy = argc == 4 && std::strcmp(argv[1], "copy") == 0;
  if (!copy && (argc != 3 || (std::strcmp(argv[1], "libpcap") != 0 && std::strcmp(argv[1], "walk") != 0))) {
    std::fprintf(stderr, "usage: %s libpcap|walk FILE.pcap | copy FILE.pcap OUT.pcap\n", argv[0]);
    return 2;
  }
  const bool walk = std::strcmp(argv[1], "walk") == 0;
  auto t0 = Clock::now();
  Pass p = copy ? run_walk(argv[2], argv[3]) : walk ? run_walk(argv[2], nullptr) : run_libpcap(argv[2]);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!p.ok) return 1;
  std::printf("%s %" PRIu64 " %" PRIu64 " %.6f %.0f %" PRIu64 "\n", argv[1], p.packets, p.bytes, s,
              s > 0 ? double(p.packets) / s : 0.0, p.checksum);
  return 0;
}
