// PcapReader / PcapWriter: every header variant, every way a file can be bad.
#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "io/pcap_file.hpp"
#include "test_eal.hpp"

using haka::io::CaptureFormat;
using haka::io::PcapReader;
using haka::io::PcapWriter;
using haka::io::ReadStop;

namespace {

using Bytes = std::vector<uint8_t>;

struct Record {
  uint32_t sec, frac;
  Bytes data;
  uint32_t orig_len = 0; // 0: same as data
};

void put32(Bytes& b, uint32_t v, bool big_endian) {
  if (big_endian) v = rte_bswap32(v);
  uint8_t t[4];
  std::memcpy(t, &v, 4);
  b.insert(b.end(), t, t + 4);
}

Bytes make_pcap(const std::vector<Record>& recs, uint32_t linktype = 1, bool ns = false, bool big_endian = false,
                uint32_t snaplen = 65535) {
  Bytes b;
  put32(b, ns ? 0xa1b23c4d : 0xa1b2c3d4, big_endian);
  uint16_t v[2] = {2, 4};
  if (big_endian) {
    v[0] = rte_bswap16(v[0]);
    v[1] = rte_bswap16(v[1]);
  }
  b.insert(b.end(), reinterpret_cast<uint8_t*>(v), reinterpret_cast<uint8_t*>(v) + 4);
  put32(b, 0, big_endian);
  put32(b, 0, big_endian);
  put32(b, snaplen, big_endian);
  put32(b, linktype, big_endian);
  for (const auto& r : recs) {
    put32(b, r.sec, big_endian);
    put32(b, r.frac, big_endian);
    put32(b, static_cast<uint32_t>(r.data.size()), big_endian);
    put32(b, r.orig_len ? r.orig_len : static_cast<uint32_t>(r.data.size()), big_endian);
    b.insert(b.end(), r.data.begin(), r.data.end());
  }
  return b;
}

Bytes pattern(std::size_t n, uint8_t seed) {
  Bytes d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(seed + i * 7);
  return d;
}

class PcapTest : public ::testing::Test {
 protected:
  static rte_mempool* pool() {
    static rte_mempool* p = haka::test::make_pool("pcap_test", 1023);
    return p;
  }
  std::string temp(const std::string& name) {
    std::string p = ::testing::TempDir() + "haka_pcap_" + std::to_string(getpid()) + "_" + name;
    paths_.push_back(p);
    return p;
  }
  std::string write_file(const std::string& name, const Bytes& b) {
    std::string p = temp(name);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    return p;
  }
  static Bytes read_file(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  static Bytes mbuf_bytes(const rte_mbuf* m) {
    Bytes out;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next)
      out.insert(out.end(), rte_pktmbuf_mtod(s, const uint8_t*), rte_pktmbuf_mtod(s, const uint8_t*) + s->data_len);
    return out;
  }
  // Reads everything, checking mbufs come back to the pool.
  std::vector<Bytes> read_all(PcapReader& r, std::vector<uint64_t>* ts = nullptr) {
    std::vector<Bytes> out;
    rte_mbuf* pkts[8];
    while (!r.done()) {
      uint16_t n = r.read_burst(pkts, 8);
      for (uint16_t i = 0; i < n; ++i) {
        EXPECT_EQ(pkts[i]->pkt_len, mbuf_bytes(pkts[i]).size());
        out.push_back(mbuf_bytes(pkts[i]));
        if (ts) ts->push_back(haka::net::meta(pkts[i]).timestamp_ns);
        rte_pktmbuf_free(pkts[i]);
      }
      if (n == 0 && !r.done()) ADD_FAILURE() << "no progress";
      if (n == 0) break;
    }
    return out;
  }
  void TearDown() override {
    for (auto& p : paths_) std::remove(p.c_str());
    EXPECT_EQ(rte_mempool_avail_count(pool()), pool()->size) << "an mbuf leaked";
  }
  std::vector<std::string> paths_;
};

const std::vector<Record> three = {
    {100, 1, pattern(60, 1)}, {100, 999999, pattern(1514, 2)}, {101, 0, pattern(1, 3)}};

TEST_F(PcapTest, ReadsClassicMicrosecondZeroCopy) {
  std::string p = write_file("us.pcap", make_pcap(three));
  std::string err;
  auto r = PcapReader::open(p, pool(), err);
  ASSERT_TRUE(r) << err;
  EXPECT_TRUE(r->zero_copy());
  EXPECT_EQ(r->format().linktype, 1u);
  EXPECT_FALSE(r->format().nanosecond);
  std::vector<uint64_t> ts;
  auto pkts = read_all(*r, &ts);
  ASSERT_EQ(pkts.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(pkts[i], three[i].data);
  EXPECT_EQ(ts[0], 100'000'001'000u);
  EXPECT_EQ(ts[1], 100'999'999'000u);
  EXPECT_EQ(ts[2], 101'000'000'000u);
  EXPECT_EQ(r->stop_reason(), ReadStop::none);
  EXPECT_EQ(r->packets_read(), 3u);
}

TEST_F(PcapTest, ReadsOtherByteOrderAndNanoseconds) {
  for (bool be : {false, true}) {
    std::string p = write_file(be ? "ns_be.pcap" : "ns_le.pcap", make_pcap(three, 101, true, be));
    std::string err;
    auto r = PcapReader::open(p, pool(), err);
    ASSERT_TRUE(r) << err;
    EXPECT_TRUE(r->format().nanosecond);
    EXPECT_EQ(r->format().linktype, 101u);
    EXPECT_EQ(r->link_type(), haka::net::LinkType::raw_ip);
    std::vector<uint64_t> ts;
    auto pkts = read_all(*r, &ts);
    ASSERT_EQ(pkts.size(), 3u);
    EXPECT_EQ(pkts[1], three[1].data);
    EXPECT_EQ(ts[1], 100'000'999'999u);
  }
}

TEST_F(PcapTest, LibpcapPathReadsTheSame) {
  std::string p = write_file("lp.pcap", make_pcap(three, 228, true));
  std::string err;
  auto mapped = PcapReader::open(p, pool(), err);
  auto copied = PcapReader::open(p, pool(), err, true);
  ASSERT_TRUE(mapped && copied) << err;
  EXPECT_FALSE(copied->zero_copy());
  EXPECT_TRUE(copied->format().nanosecond);
  std::vector<uint64_t> ta, tb;
  EXPECT_EQ(read_all(*mapped, &ta), read_all(*copied, &tb));
  EXPECT_EQ(ta, tb);
}

TEST_F(PcapTest, RoundTripIsByteIdentical) {
  for (bool ns : {false, true}) {
    Bytes in = make_pcap(three, 1, ns);
    std::string p = write_file(ns ? "rt_ns.pcap" : "rt_us.pcap", in);
    std::string out = temp(ns ? "rt_ns_out.pcap" : "rt_us_out.pcap");
    for (bool libpcap : {false, true}) {
      std::string err;
      auto r = PcapReader::open(p, pool(), err, libpcap);
      ASSERT_TRUE(r) << err;
      auto w = PcapWriter::open(out, r->format(), err);
      ASSERT_TRUE(w) << err;
      rte_mbuf* pkts[4];
      uint16_t n;
      while ((n = r->read_burst(pkts, 4)) != 0) {
        w->write_burst(pkts, n);
        rte_pktmbuf_free_bulk(pkts, n);
      }
      ASSERT_TRUE(w->close(err)) << err;
      EXPECT_EQ(read_file(out), in) << "ns=" << ns << " libpcap=" << libpcap;
    }
  }
}

TEST_F(PcapTest, HugeRecordBecomesAChain) {
  Bytes big = pattern(70000, 9);
  std::string p = write_file("big.pcap", make_pcap({{1, 0, big}}, 101, false, false, 262144));
  std::string err;
  auto r = PcapReader::open(p, pool(), err);
  ASSERT_TRUE(r) << err;
  rte_mbuf* m = nullptr;
  ASSERT_EQ(r->read_burst(&m, 1), 1);
  EXPECT_EQ(m->nb_segs, 2);
  EXPECT_EQ(m->pkt_len, 70000u);
  EXPECT_EQ(mbuf_bytes(m), big);
  rte_pktmbuf_free(m);
}

TEST_F(PcapTest, TruncatedRecordStopsWithReason) {
  Bytes f = make_pcap(three);
  f.resize(f.size() - 1); // cut the last packet's last byte
  std::string p = write_file("trunc.pcap", f);
  std::string err;
  auto r = PcapReader::open(p, pool(), err);
  ASSERT_TRUE(r) << err;
  auto pkts = read_all(*r);
  EXPECT_EQ(pkts.size(), 2u);
  EXPECT_TRUE(r->done());
  EXPECT_EQ(r->stop_reason(), ReadStop::truncated_record);
  EXPECT_EQ(r->stop_offset(), 24u + 16 + 60 + 16 + 1514);

  Bytes g = make_pcap(three);
  g.resize(24 + 16 + 60 + 7); // cut inside the second record header
  auto r2 = PcapReader::open(write_file("trunc2.pcap", g), pool(), err);
  ASSERT_TRUE(r2) << err;
  EXPECT_EQ(read_all(*r2).size(), 1u);
  EXPECT_EQ(r2->stop_reason(), ReadStop::truncated_record);
}

TEST_F(PcapTest, ImpossibleRecordLengthStops) {
  Bytes f = make_pcap({{1, 0, pattern(40, 1)}});
  uint32_t bad = 5'000'000;
  std::memcpy(f.data() + 24 + 8, &bad, 4);
  std::string err;
  auto r = PcapReader::open(write_file("badlen.pcap", f), pool(), err);
  ASSERT_TRUE(r) << err;
  EXPECT_TRUE(read_all(*r).empty());
  EXPECT_EQ(r->stop_reason(), ReadStop::bad_record_length);
}

TEST_F(PcapTest, HeaderOnlyFileHasNoPackets) {
  std::string err;
  auto r = PcapReader::open(write_file("empty.pcap", make_pcap({})), pool(), err);
  ASSERT_TRUE(r) << err;
  EXPECT_TRUE(r->done());
  rte_mbuf* m;
  EXPECT_EQ(r->read_burst(&m, 1), 0);
}

TEST_F(PcapTest, BadFilesAreRefusedWithTheirName) {
  std::string err;
  EXPECT_FALSE(PcapReader::open(temp("does_not_exist.pcap"), pool(), err));
  EXPECT_NE(err.find("does_not_exist.pcap: cannot open"), std::string::npos) << err;

  std::string zero = write_file("zero.pcap", {});
  EXPECT_FALSE(PcapReader::open(zero, pool(), err));
  EXPECT_NE(err.find("zero.pcap"), std::string::npos) << err;

  std::string text = write_file("text.pcap", Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n', 0, 0, 0,
                                                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(PcapReader::open(text, pool(), err));
  EXPECT_NE(err.find("not a capture libpcap can read"), std::string::npos) << err;

  Bytes trunc_hdr = make_pcap({});
  trunc_hdr.resize(10);
  EXPECT_FALSE(PcapReader::open(write_file("hdr.pcap", trunc_hdr), pool(), err));
  EXPECT_NE(err.find("truncated pcap file header"), std::string::npos) << err;

  EXPECT_FALSE(PcapReader::open(write_file("usb.pcap", make_pcap(three, 189)), pool(), err));
  EXPECT_NE(err.find("unsupported link type 189"), std::string::npos) << err;

  EXPECT_FALSE(PcapReader::open("/", pool(), err));
  EXPECT_NE(err.find("not a regular file"), std::string::npos) << err;
}

// A minimal pcapng: section header, one Ethernet interface, two enhanced packets.
Bytes make_pcapng(const std::vector<Record>& recs) {
  Bytes b;
  auto block = [&](uint32_t type, const Bytes& body) {
    uint32_t len = static_cast<uint32_t>(12 + body.size());
    put32(b, type, false);
    put32(b, len, false);
    b.insert(b.end(), body.begin(), body.end());
    put32(b, len, false);
  };
  Bytes shb;
  put32(shb, 0x1a2b3c4d, false);
  shb.insert(shb.end(), {1, 0, 0, 0});
  put32(shb, 0xffffffff, false);
  put32(shb, 0xffffffff, false);
  block(0x0a0d0d0a, shb);
  Bytes idb = {1, 0, 0, 0};
  put32(idb, 65535, false);
  block(1, idb);
  for (const auto& r : recs) {
    Bytes epb;
    put32(epb, 0, false);
    uint64_t us = uint64_t(r.sec) * 1'000'000 + r.frac;
    put32(epb, static_cast<uint32_t>(us >> 32), false);
    put32(epb, static_cast<uint32_t>(us), false);
    put32(epb, static_cast<uint32_t>(r.data.size()), false);
    put32(epb, static_cast<uint32_t>(r.data.size()), false);
    epb.insert(epb.end(), r.data.begin(), r.data.end());
    while (epb.size() % 4) epb.push_back(0);
    block(6, epb);
  }
  return b;
}

TEST_F(PcapTest, ReadsPcapngThroughLibpcap) {
  std::string err;
  auto r = PcapReader::open(write_file("a.pcapng", make_pcapng(three)), pool(), err);
  ASSERT_TRUE(r) << err;
  EXPECT_FALSE(r->zero_copy());
  std::vector<uint64_t> ts;
  auto pkts = read_all(*r, &ts);
  ASSERT_EQ(pkts.size(), 3u);
  EXPECT_EQ(pkts[1], three[1].data);
  EXPECT_EQ(ts[1], 100'999'999'000u);
}

// Records of varied sizes over more than one populate window (4 MiB) and many
// ext-buffer groups (256 KiB): every byte and timestamp comes back in order.
TEST_F(PcapTest, LargeFileReadsWholeAcrossWindowsAndGroups) {
  std::vector<Record> recs;
  std::size_t bytes = 0;
  for (uint32_t i = 0; bytes < (9u << 20); ++i) {
    std::size_t len = (i % 5 == 0) ? 60 : (i % 7 == 0) ? 9000 : 1514 - (i % 300);
    recs.push_back({i, i % 1000000, pattern(len, static_cast<uint8_t>(i))});
    bytes += 16 + len;
  }
  std::string err;
  auto r = PcapReader::open(write_file("large.pcap", make_pcap(recs)), pool(), err);
  ASSERT_TRUE(r) << err;
  std::vector<uint64_t> ts;
  auto pkts = read_all(*r, &ts);
  ASSERT_EQ(pkts.size(), recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) {
    ASSERT_EQ(pkts[i], recs[i].data) << "record " << i;
    ASSERT_EQ(ts[i], uint64_t{recs[i].sec} * 1'000'000'000u + uint64_t{recs[i].frac} * 1000u) << "record " << i;
  }
  EXPECT_EQ(r->stop_reason(), ReadStop::none);
}

// The reader adds a burst's references to each group's refcount at once: when
// read_burst returns, every shared-info block counts exactly the mbufs attached
// to it, as they are freed in any order, and the reader keeps its mapping while
// any is held.
TEST_F(PcapTest, ExtBufferRefcountsMatchHeldMbufs) {
  std::vector<Record> recs;
  for (uint32_t i = 0; i < 600; ++i) recs.push_back({i, 0, pattern(1514, static_cast<uint8_t>(i))});
  std::string err;
  auto r = PcapReader::open(write_file("refs.pcap", make_pcap(recs)), pool(), err);
  ASSERT_TRUE(r) << err;
  std::vector<rte_mbuf*> held;
  rte_mbuf* pkts[32];
  auto check = [&held](const char* when) {
    std::map<rte_mbuf_ext_shared_info*, uint32_t> want;
    for (rte_mbuf* m : held) {
      ASSERT_TRUE(RTE_MBUF_HAS_EXTBUF(m)) << when;
      ++want[m->shinfo];
    }
    for (auto& [sh, n] : want) EXPECT_EQ(rte_mbuf_ext_refcnt_read(sh), n) << when;
  };
  uint16_t n;
  while ((n = r->read_burst(pkts, 32)) != 0) {
    held.insert(held.end(), pkts, pkts + n);
    check("after a burst");
  }
  ASSERT_EQ(held.size(), 600u);
  std::map<rte_mbuf_ext_shared_info*, uint32_t> groups;
  for (rte_mbuf* m : held) ++groups[m->shinfo];
  EXPECT_GE(groups.size(), 3u); // 600 x 1530 bytes span four 256 KiB groups
  // Free every third, then the rest but one: counts follow.
  std::vector<rte_mbuf*> keep;
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (i % 3 == 0)
      rte_pktmbuf_free(held[i]);
    else
      keep.push_back(held[i]);
  }
  held = keep;
  check("after freeing a third");
  rte_mbuf* last = held.back();
  held.pop_back();
  for (rte_mbuf* m : held) rte_pktmbuf_free(m);
  held = {last};
  check("with one held");
  // Still mapped after the reader is gone, since one mbuf points into it.
  r.reset();
  EXPECT_EQ(mbuf_bytes(last), recs[599].data);
  rte_pktmbuf_free(last);
}

TEST_F(PcapTest, StarvedPoolMakesNoProgressButLosesNothing) {
  static rte_mempool* tiny = haka::test::make_pool("pcap_tiny", 4);
  std::vector<Record> recs;
  for (uint32_t i = 0; i < 10; ++i) recs.push_back({i, 0, pattern(64, static_cast<uint8_t>(i))});
  std::string err;
  auto r = PcapReader::open(write_file("starve.pcap", make_pcap(recs)), tiny, err);
  ASSERT_TRUE(r) << err;
  rte_mbuf* held[8];
  uint16_t n = r->read_burst(held, 8);
  EXPECT_EQ(n, 4);
  rte_mbuf* more[8];
  EXPECT_EQ(r->read_burst(more, 8), 0);
  EXPECT_FALSE(r->done());
  EXPECT_EQ(r->pool_starved(), 1u);
  rte_pktmbuf_free_bulk(held, n);
  std::size_t total = n;
  while (!r->done()) {
    uint16_t k = r->read_burst(more, 8);
    for (uint16_t i = 0; i < k; ++i) EXPECT_EQ(mbuf_bytes(more[i]), recs[total + i].data);
    total += k;
    rte_pktmbuf_free_bulk(more, k);
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(rte_mempool_avail_count(tiny), tiny->size);
}

// Output through OfflineIo's path: the reader's mapping is the writer's stable
// memory. A pass-through copies nothing but the file header and goes out in few
// writev calls; the output is the input, byte for byte.
TEST_F(PcapTest, WriterPassThroughWritesFromTheMapping) {
  std::vector<Record> recs;
  for (uint32_t i = 0; i < 3000; ++i) recs.push_back({i, i * 3, pattern(60 + (i * 37) % 1455, static_cast<uint8_t>(i))});
  for (bool ns : {false, true}) {
    Bytes in = make_pcap(recs, 1, ns);
    std::string p = write_file(ns ? "pt_ns.pcap" : "pt_us.pcap", in);
    std::string out = temp(ns ? "pt_ns_out.pcap" : "pt_us_out.pcap");
    std::string err;
    auto r = PcapReader::open(p, pool(), err);
    ASSERT_TRUE(r) << err;
    ASSERT_EQ(r->mapped().size(), in.size());
    auto w = PcapWriter::open(out, r->format(), err);
    ASSERT_TRUE(w) << err;
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = r->read_burst(pkts, 32)) != 0) {
      w->write_burst(pkts, n, r->mapped());
      rte_pktmbuf_free_bulk(pkts, n);
    }
    ASSERT_TRUE(w->close(err)) << err;
    EXPECT_EQ(read_file(out), in) << "ns=" << ns;
    EXPECT_EQ(w->bytes_copied(), 24u) << "only the file header is copied";
    EXPECT_LE(w->writes(), in.size() / (1u << 20) + 2);
  }
}

// Mapped packets that changed (a byte of data, a timestamp, a trimmed tail),
// direct mbufs in between that are freed and scribbled over as soon as
// write_burst returns, across several flushes: the output holds each packet as
// it was when written.
TEST_F(PcapTest, WriterMixesMappedChangedAndDirectPackets) {
  std::vector<Record> recs;
  for (uint32_t i = 0; i < 4000; ++i) recs.push_back({i, 0, pattern(200 + (i * 53) % 1300, static_cast<uint8_t>(i))});
  std::string p = write_file("mix.pcap", make_pcap(recs));
  std::string out = temp("mix_out.pcap");
  std::string err;
  auto r = PcapReader::open(p, pool(), err);
  ASSERT_TRUE(r) << err;
  auto w = PcapWriter::open(out, r->format(), err);
  ASSERT_TRUE(w) << err;
  std::vector<Record> want;
  rte_mbuf* pkts[16];
  uint16_t n;
  uint32_t k = 0;
  while ((n = r->read_burst(pkts, 16)) != 0) {
    rte_mbuf* burst[32];
    uint16_t m = 0;
    std::vector<rte_mbuf*> direct;
    for (uint16_t i = 0; i < n; ++i, ++k) {
      Record rec = recs[k];
      if (k % 5 == 1) {
        rte_pktmbuf_mtod(pkts[i], uint8_t*)[7] ^= 0xff; // in place, in our private mapping
        rec.data[7] ^= 0xff;
      } else if (k % 5 == 2) {
        haka::net::meta(pkts[i]).timestamp_ns += 1'000'000'000u;
        rec.sec += 1;
      } else if (k % 5 == 3) {
        rte_pktmbuf_trim(pkts[i], 10);
        rec.data.resize(rec.data.size() - 10);
      }
      burst[m++] = pkts[i];
      want.push_back(rec);
      if (k % 4 == 0) {
        rte_mbuf* d = rte_pktmbuf_alloc(pool());
        ASSERT_NE(d, nullptr);
        Bytes body = pattern(300 + k % 700, static_cast<uint8_t>(k + 99));
        std::memcpy(rte_pktmbuf_append(d, static_cast<uint16_t>(body.size())), body.data(), body.size());
        haka::net::meta(d) = {};
        haka::net::meta(d).timestamp_ns = uint64_t{k} * 1'000'000'000u + 5'000;
        burst[m++] = d;
        direct.push_back(d);
        want.push_back({k, 5, body});
      }
    }
    w->write_burst(burst, m, r->mapped());
    for (rte_mbuf* d : direct) std::memset(rte_pktmbuf_mtod(d, uint8_t*), 0xee, d->data_len);
    rte_pktmbuf_free_bulk(burst, m);
  }
  ASSERT_TRUE(w->close(err)) << err;
  EXPECT_GT(w->writes(), 2u);
  Bytes b = read_file(out);
  // Parse the output back and compare each record.
  ASSERT_GE(b.size(), 24u);
  std::size_t off = 24, i = 0;
  uint32_t h[4];
  while (off + 16 <= b.size() && i < want.size()) {
    std::memcpy(h, b.data() + off, 16);
    EXPECT_EQ(h[0], want[i].sec) << "record " << i;
    EXPECT_EQ(h[1], want[i].frac) << "record " << i;
    ASSERT_EQ(h[2], want[i].data.size()) << "record " << i;
    EXPECT_EQ(h[3], h[2]);
    EXPECT_TRUE(std::equal(want[i].data.begin(), want[i].data.end(), b.begin() + std::ptrdiff_t(off + 16)))
        << "record " << i;
    off += 16 + h[2];
    ++i;
  }
  EXPECT_EQ(i, want.size());
  EXPECT_EQ(off, b.size());
}

TEST_F(PcapTest, WriterRaisesSnaplenForGrownPackets) {
  std::string err;
  CaptureFormat f;
  f.snaplen = 100;
  std::string out = temp("grown.pcap");
  auto w = PcapWriter::open(out, f, err);
  ASSERT_TRUE(w) << err;
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  ASSERT_NE(m, nullptr);
  ASSERT_NE(rte_pktmbuf_append(m, 300), nullptr);
  haka::net::meta(m) = {};
  w->write_burst(&m, 1);
  rte_pktmbuf_free(m);
  ASSERT_TRUE(w->close(err)) << err;
  Bytes b = read_file(out);
  uint32_t snap;
  std::memcpy(&snap, b.data() + 16, 4);
  EXPECT_EQ(snap, 300u);
  EXPECT_EQ(b.size(), 24u + 16 + 300);
}

TEST_F(PcapTest, WriterReportsFailedWrites) {
  std::string err;
  EXPECT_FALSE(PcapWriter::open("/nonexistent-dir/x.pcap", CaptureFormat{}, err));
  EXPECT_NE(err.find("/nonexistent-dir/x.pcap: cannot create"), std::string::npos) << err;
  if (access("/dev/full", W_OK) == 0) {
    auto w = PcapWriter::open("/dev/full", CaptureFormat{}, err);
    ASSERT_TRUE(w) << err;
    EXPECT_FALSE(w->close(err));
    EXPECT_NE(err.find("write failed"), std::string::npos) << err;
  }
}

} // namespace
