// TcpStream: in-order and out-of-order delivery, overlap policies,
// retransmission checks, marks, caps and wrap-around.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tcp/tcp_stream.hpp"
#include "test_eal.hpp"

namespace haka::tcp {
namespace {

using vbuffer::Buffer;
using vbuffer::BufferPool;

std::string str(const Buffer& b) {
  std::string s(b.size(), '\0');
  b.copy_to(std::span(reinterpret_cast<uint8_t*>(s.data()), s.size()));
  return s;
}

class StreamTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    test::init_eal_once();
    if (mp_ == nullptr) mp_ = test::make_pool("tcp_stream", 4096);
  }
  void SetUp() override {
    base_ = rte_mempool_avail_count(mp_);
    bufs_ = std::make_unique<BufferPool>(mp_, 4096);
  }
  void TearDown() override {
    if (s_.started()) s_.clear(*pool_, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
    pool_.reset();
    bufs_.reset();
    EXPECT_EQ(rte_mempool_avail_count(mp_), base_) << "every mbuf back in the pool";
  }
  void start(uint32_t isn_plus_1, StreamConfig cfg = {}) {
    pool_ = std::make_unique<StreamPool>(*bufs_, cfg);
    ASSERT_EQ(s_.init(*pool_, Seq{isn_plus_1}), vbuffer::Error::ok);
    start_ = isn_plus_1;
  }
  rte_mbuf* packet(const std::string& bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(mp_);
    EXPECT_NE(m, nullptr);
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    return m;
  }
  // Sends bytes at relative offset `rel`; frees the packet unless held.
  Arrival send(uint32_t rel, const std::string& bytes, uint32_t acked_rel = 0) {
    rte_mbuf* m = packet(bytes);
    const Seq seq{start_ + rel};
    const auto len = static_cast<uint32_t>(bytes.size());
    Arrival a = s_.receive(*pool_, m, seq, 0, len, Seq{start_ + acked_rel}, false, seq, seq + len);
    if (a.new_bytes > 0) delivered_ += read(a.first_new, a.new_bytes);
    if (stream_verdict(a.outcome) != StreamVerdict::held) {
      if (a.outcome == StreamOutcome::retrans_normalised) normalised_ = str(a.normalised);
      rte_pktmbuf_free(m);
    }
    for (rte_mbuf* d : pool_->dropped()) {
      ++replaced_;
      rte_pktmbuf_free(d);
    }
    pool_->clear_dropped();
    return a;
  }
  std::string read(vbuffer::Iterator it, uint32_t n) {
    vbuffer::Sub sub;
    EXPECT_EQ(it.sub(n, false, sub), vbuffer::Error::ok);
    std::string s(n, '\0');
    std::size_t got = 0;
    EXPECT_EQ(sub.read(std::span(reinterpret_cast<uint8_t*>(s.data()), n), got), vbuffer::Error::ok);
    s.resize(got);
    return s;
  }
  // Releases everything poppable: "relseq:bytes" per packet; kept if asked.
  std::vector<std::string> release_all(bool keep = false) {
    std::vector<std::string> out;
    Released r;
    while (s_.release(*pool_, r)) {
      EXPECT_NE(r.held, nullptr);
      const uint32_t rel = static_cast<uint32_t>(r.held->seq - Seq{start_});
      EXPECT_EQ(r.bytes.size(), r.held->len);
      out.push_back(std::to_string(rel) + ":" + str(r.bytes));
      if (keep) s_.keep(*pool_, r.bytes, r.held->seq);
      else r.bytes.release();
      rte_pktmbuf_free(r.held->m);
      pool_->free_held(r.held);
      r = Released{};
    }
    return out;
  }

  static inline rte_mempool* mp_ = nullptr;
  unsigned base_ = 0;
  std::unique_ptr<BufferPool> bufs_;
  std::unique_ptr<StreamPool> pool_;
  TcpStream s_;
  uint32_t start_ = 0;
  std::string delivered_, normalised_;
  int replaced_ = 0;
};

TEST_F(StreamTest, InOrderIsDeliveredAndReleasedPerPacket) {
  start(1000);
  EXPECT_EQ(send(0, "hello ").outcome, StreamOutcome::in_order);
  EXPECT_EQ(send(6, "world").new_bytes, 5u);
  EXPECT_EQ(delivered_, "hello world");
  EXPECT_EQ(release_all(), (std::vector<std::string>{"0:hello ", "6:world"}));
  EXPECT_EQ(pool_->counters().held_now, 0u);
}

TEST_F(StreamTest, OutOfOrderWaitsThenLeavesInSequenceOrder) {
  start(1);
  EXPECT_EQ(send(10, "0123456789").outcome, StreamOutcome::queued);
  EXPECT_EQ(send(20, "abc").outcome, StreamOutcome::queued);
  EXPECT_EQ(delivered_, "");
  EXPECT_TRUE(release_all().empty());
  Arrival a = send(0, "ABCDEFGHIJ");
  EXPECT_EQ(a.outcome, StreamOutcome::delivered_with_queue);
  EXPECT_EQ(a.new_bytes, 23u);
  EXPECT_EQ(delivered_, "ABCDEFGHIJ0123456789abc");
  EXPECT_EQ(release_all(), (std::vector<std::string>{"0:ABCDEFGHIJ", "10:0123456789", "20:abc"}));
}

// Queued A then B overlapping it, then the gap is filled: which copy is delivered.
struct OverlapCase {
  OverlapPolicy policy;
  uint32_t a_at;
  std::string a;
  uint32_t b_at;
  std::string b;
  std::string want; // bytes from 10 on
};

class OverlapTest : public StreamTest, public ::testing::WithParamInterface<OverlapCase> {};

TEST_P(OverlapTest, PolicyPicksOneCopyAndOnlyItLeaves) {
  const OverlapCase& c = GetParam();
  StreamConfig cfg;
  cfg.policy = c.policy;
  start(7, cfg);
  send(c.a_at, c.a);
  send(c.b_at, c.b);
  send(0, "----------");
  ASSERT_GE(delivered_.size(), 10u);
  EXPECT_EQ(delivered_.substr(10), c.want) << overlap_policy_name(c.policy);
  // What leaves is exactly what was delivered, each byte once, in order.
  std::string out;
  uint32_t expect_at = 0;
  for (const std::string& p : release_all()) {
    auto colon = p.find(':');
    EXPECT_EQ(std::stoul(p.substr(0, colon)), expect_at);
    out += p.substr(colon + 1);
    expect_at += static_cast<uint32_t>(p.size() - colon - 1);
  }
  EXPECT_EQ(out, delivered_);
}

INSTANTIATE_TEST_SUITE_P(
    Policies, OverlapTest,
    ::testing::Values(
        // B starts inside A.
        OverlapCase{OverlapPolicy::first, 10, "AAAAAAAAAA", 15, "BBBBBBBBBB", "AAAAAAAAAABBBBB"},
        OverlapCase{OverlapPolicy::last, 10, "AAAAAAAAAA", 15, "BBBBBBBBBB", "AAAAABBBBBBBBBB"},
        OverlapCase{OverlapPolicy::bsd, 10, "AAAAAAAAAA", 15, "BBBBBBBBBB", "AAAAAAAAAABBBBB"},
        OverlapCase{OverlapPolicy::linux, 10, "AAAAAAAAAA", 15, "BBBBBBBBBB", "AAAAAAAAAABBBBB"},
        OverlapCase{OverlapPolicy::windows, 10, "AAAAAAAAAA", 15, "BBBBBBBBBB", "AAAAAAAAAABBBBB"},
        // B starts before A.
        OverlapCase{OverlapPolicy::first, 15, "AAAAAAAAAA", 10, "BBBBBBBBBB", "BBBBBAAAAAAAAAA"},
        OverlapCase{OverlapPolicy::bsd, 15, "AAAAAAAAAA", 10, "BBBBBBBBBB", "BBBBBBBBBBAAAAA"},
        OverlapCase{OverlapPolicy::linux, 15, "AAAAAAAAAA", 10, "BBBBBBBBBB", "BBBBBBBBBBAAAAA"},
        OverlapCase{OverlapPolicy::windows, 15, "AAAAAAAAAA", 10, "BBBBBBBBBB", "BBBBBAAAAAAAAAA"},
        // Same start, B longer.
        OverlapCase{OverlapPolicy::bsd, 10, "AAAAAAAAAA", 10, "BBBBBBBBBBBBBBB", "AAAAAAAAAABBBBB"},
        OverlapCase{OverlapPolicy::linux, 10, "AAAAAAAAAA", 10, "BBBBBBBBBBBBBBB", "BBBBBBBBBBBBBBB"},
        // B inside A (A is cut in two under last).
        OverlapCase{OverlapPolicy::last, 10, "AAAAAAAAAAAAAAAAAAAA", 15, "BBBBB", "AAAAABBBBBAAAAAAAAAA"},
        OverlapCase{OverlapPolicy::first, 10, "AAAAAAAAAAAAAAAAAAAA", 15, "BBBBB", "AAAAAAAAAAAAAAAAAAAA"},
        // B covers A and more on both sides.
        OverlapCase{OverlapPolicy::first, 12, "AAAA", 10, "BBBBBBBBBB", "BBAAAABBBB"},
        OverlapCase{OverlapPolicy::last, 12, "AAAA", 10, "BBBBBBBBBB", "BBBBBBBBBB"}),
    [](const auto& info) { return std::string(overlap_policy_name(info.param.policy)) + "_" + std::to_string(info.index); });

TEST_F(StreamTest, DuplicateOfQueuedIsDroppedAndReplacedPacketIsGivenBack) {
  StreamConfig cfg;
  cfg.policy = OverlapPolicy::first;
  start(1, cfg);
  send(10, "abcdef");
  EXPECT_EQ(send(10, "abcdef").outcome, StreamOutcome::duplicate);
  EXPECT_EQ(pool_->counters().overlap_same, 1u);
  s_.clear(*pool_, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
  cfg.policy = OverlapPolicy::last;
  start(1, cfg);
  send(10, "abcdef");
  EXPECT_EQ(send(10, "ABCDEF").outcome, StreamOutcome::queued);
  EXPECT_EQ(replaced_, 1);
  send(0, "0123456789");
  EXPECT_EQ(delivered_, "0123456789ABCDEF");
}

TEST_F(StreamTest, RetransmissionsAreCheckedAgainstWhatLeft) {
  start(100);
  send(0, "0123456789");
  release_all(true);
  EXPECT_EQ(send(0, "0123456789").outcome, StreamOutcome::retrans_same);
  EXPECT_EQ(send(2, "23").outcome, StreamOutcome::retrans_same);
  EXPECT_EQ(send(0, "01XX456789").outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(normalised_, "0123456789");
  // The receiver acknowledged 5 bytes: those are harmless, the rest is still checked.
  s_.acked(Seq{105});
  EXPECT_EQ(send(0, "XXXXX", 5).outcome, StreamOutcome::retrans_acked);
  normalised_.clear();
  EXPECT_EQ(send(0, "XXXXX56Y89", 5).outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(normalised_, "XXXXX56789");
  EXPECT_EQ(pool_->counters().overlap_old_won, 2u);
}

TEST_F(StreamTest, ConflictDropAndUnverifiable) {
  StreamConfig cfg;
  cfg.on_conflict = ConflictAction::drop;
  cfg.max_kept_bytes = 4;
  start(100, cfg);
  send(0, "0123456789");
  release_all(true);
  EXPECT_EQ(pool_->counters().kept_trimmed_cap, 6u);
  EXPECT_EQ(send(6, "6789").outcome, StreamOutcome::retrans_same);
  EXPECT_EQ(send(6, "67X9").outcome, StreamOutcome::retrans_conflict_dropped);
  EXPECT_EQ(send(0, "0123").outcome, StreamOutcome::retrans_unverifiable);
}

TEST_F(StreamTest, PartialOverlapKeepsOnlyTheNewBytes) {
  start(1);
  send(0, "0123456789");
  Arrival a = send(5, "56789abcde");
  EXPECT_EQ(a.outcome, StreamOutcome::trimmed_old);
  EXPECT_EQ(a.new_bytes, 5u);
  EXPECT_EQ(delivered_, "0123456789abcde");
  EXPECT_EQ(release_all(), (std::vector<std::string>{"0:0123456789", "10:abcde"}));
  EXPECT_EQ(pool_->counters().overlap_same, 1u);
}

TEST_F(StreamTest, MarkHoldsAndRetransmissionOfHeldIsDropped) {
  start(1);
  Arrival a = send(0, "0123456789");
  vbuffer::Iterator mark = a.first_new;
  ASSERT_EQ(mark.mark(false), vbuffer::Error::ok);
  send(10, "abc");
  EXPECT_TRUE(release_all().empty());
  EXPECT_EQ(send(0, "0123456789").outcome, StreamOutcome::retrans_held);
  rte_mbuf* ack = packet("");
  EXPECT_TRUE(s_.hold_empty(*pool_, ack));
  ASSERT_EQ(mark.unmark(), vbuffer::Error::ok);
  EXPECT_EQ(release_all(), (std::vector<std::string>{"0:0123456789", "10:abc", "13:"}));
}

TEST_F(StreamTest, WrapAroundTheSequenceSpace) {
  start(0xFFFFFFF8u);
  send(12, "CCCC");
  send(0, "AAAAAAAA"); // crosses 2^32
  send(8, "BBBB");
  EXPECT_EQ(delivered_, "AAAAAAAABBBBCCCC");
  EXPECT_EQ(s_.next(), Seq{0xFFFFFFF8u + 16});
  EXPECT_EQ(release_all(), (std::vector<std::string>{"0:AAAAAAAA", "8:BBBB", "12:CCCC"}));
}

TEST_F(StreamTest, CapsRefuseWithoutChangingWhatWasAccepted) {
  StreamConfig cfg;
  cfg.max_queued_segments = 3;
  cfg.max_queued_bytes = 100;
  start(1, cfg);
  send(20, "a");
  send(30, "b");
  EXPECT_EQ(send(50, std::string(99, 'x')).outcome, StreamOutcome::queue_bytes_full);
  EXPECT_EQ(send(40, "c").outcome, StreamOutcome::queued);
  EXPECT_EQ(send(60, "d").outcome, StreamOutcome::queue_full);
  send(0, std::string(20, '-'));
  EXPECT_EQ(delivered_, std::string(20, '-') + "a");
  s_.clear(*pool_, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
  cfg.max_held_bytes = 12;
  start(1, cfg);
  Arrival a = send(0, "0123456789");
  vbuffer::Iterator mark = a.first_new;
  ASSERT_EQ(mark.mark(false), vbuffer::Error::ok);
  EXPECT_EQ(send(10, "abcdef").outcome, StreamOutcome::held_bytes_full);
  EXPECT_EQ(send(10, "ab").outcome, StreamOutcome::in_order);
}

TEST_F(StreamTest, FinishedStreamRefusesMore) {
  start(1);
  send(0, "abc");
  release_all();
  s_.finish();
  EXPECT_EQ(send(3, "def").outcome, StreamOutcome::finished);
}

} // namespace
} // namespace haka::tcp

namespace haka::tcp {
namespace {

TEST_F(StreamTest, PassingInOrderKeepsBytesForRetransmissionChecks) {
  start(100);
  rte_mbuf* m = packet("0123456789");
  ASSERT_TRUE(s_.pass_in_order(*pool_, m, Seq{100}, 0, 10, Seq{100}));
  rte_pktmbuf_free(m); // the packet left; the kept chunk holds its own reference
  EXPECT_EQ(s_.next(), Seq{110});
  EXPECT_EQ(send(0, "0123456789").outcome, StreamOutcome::retrans_same);
  EXPECT_EQ(send(0, "01X3456789").outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(normalised_, "0123456789");
  // Not in order, or something queued: the fast path refuses.
  rte_mbuf* late = packet("abc");
  EXPECT_FALSE(s_.pass_in_order(*pool_, late, Seq{120}, 0, 3, Seq{120}));
  rte_pktmbuf_free(late);
  send(20, "abc");
  rte_mbuf* next = packet("x");
  EXPECT_FALSE(s_.pass_in_order(*pool_, next, Seq{110}, 0, 1, Seq{110})) << "a queue waits behind it";
  rte_pktmbuf_free(next);
}

} // namespace
} // namespace haka::tcp

namespace haka::tcp {
namespace {

// Chunk nodes an in-order direction holds: its stream's end marker, and one
// kept node per packet that left and is not yet acknowledged (no sentinel).
TEST_F(StreamTest, InOrderSegmentsHoldOneKeptNodeEachUntilAcknowledged) {
  start(100);
  EXPECT_EQ(bufs_->chunks_in_use(), 1u) << "a started stream: its end marker";
  send(0, "0123456789");
  release_all(true);
  EXPECT_EQ(s_.kept_chunks(), 1u);
  EXPECT_EQ(bufs_->chunks_in_use(), 2u) << "end marker + the kept data chunk, moved from the popped bytes";
  send(10, "abcdefghij");
  release_all(true);
  EXPECT_EQ(bufs_->chunks_in_use(), 3u);
  s_.acked(Seq{110});
  EXPECT_EQ(bufs_->chunks_in_use(), 2u);
  s_.acked(Seq{120});
  EXPECT_EQ(s_.kept_bytes(), 0u);
  EXPECT_EQ(bufs_->chunks_in_use(), 1u) << "an idle direction holds its end marker only";
}

// Retransmissions checked and normalised against kept bytes spread over
// several packets' chunks, from inside the first.
TEST_F(StreamTest, RetransmissionAcrossKeptChunksIsComparedAndRebuilt) {
  start(100);
  send(0, "0123");
  send(4, "4567");
  send(8, "89");
  release_all(true);
  EXPECT_EQ(s_.kept_chunks(), 3u);
  EXPECT_EQ(send(2, "234567").outcome, StreamOutcome::retrans_same);
  EXPECT_EQ(send(3, "3X56789").outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(normalised_, "3456789");
  s_.acked(Seq{105});
  EXPECT_EQ(s_.kept_chunks(), 2u) << "the first chunk went, the second was cut";
  normalised_.clear();
  EXPECT_EQ(send(3, "XXXY67", 5).outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(normalised_, "XX5678") << "acknowledged head as sent, the rest as inspected";
}

// A lazily started direction (no reader: bytes pass in order) holds no
// chunk node between segments; its stream is made at the first push.
TEST_F(StreamTest, LazyStreamHoldsNoNodeWhileBytesPassInOrder) {
  pool_ = std::make_unique<StreamPool>(*bufs_, StreamConfig{});
  ASSERT_EQ(s_.init(*pool_, Seq{100}, true), vbuffer::Error::ok);
  start_ = 100;
  EXPECT_TRUE(s_.started());
  EXPECT_EQ(bufs_->chunks_in_use(), 0u);
  rte_mbuf* m = packet("0123456789");
  ASSERT_TRUE(s_.pass_in_order(*pool_, m, Seq{100}, 0, 10, Seq{100}));
  rte_pktmbuf_free(m);
  EXPECT_EQ(bufs_->chunks_in_use(), 1u) << "one kept node per segment";
  s_.acked(Seq{110});
  EXPECT_EQ(bufs_->chunks_in_use(), 0u) << "acknowledged: nothing left";
  EXPECT_EQ(send(0, "0123456789", 10).outcome, StreamOutcome::retrans_acked);
  EXPECT_EQ(bufs_->chunks_in_use(), 0u) << "an old segment does not make the stream";
  // Out of order: the stream is made, and works as an eager one.
  EXPECT_EQ(send(13, "def").outcome, StreamOutcome::queued);
  EXPECT_EQ(send(10, "abc").outcome, StreamOutcome::delivered_with_queue);
  EXPECT_EQ(delivered_, "abcdef");
  EXPECT_EQ(release_all(), (std::vector<std::string>{"10:abc", "13:def"}));
  s_.finish();
  EXPECT_TRUE(s_.stream().is_finished());
  EXPECT_EQ(send(16, "g").outcome, StreamOutcome::finished);
}

TEST_F(StreamTest, LazyStreamFinishedBeforeItsFirstPushRefusesMore) {
  pool_ = std::make_unique<StreamPool>(*bufs_, StreamConfig{});
  ASSERT_EQ(s_.init(*pool_, Seq{1}, true), vbuffer::Error::ok);
  start_ = 1;
  s_.finish();
  EXPECT_TRUE(s_.finished());
  EXPECT_EQ(send(0, "abc").outcome, StreamOutcome::finished);
  EXPECT_EQ(bufs_->chunks_in_use(), 0u);
}

} // namespace
} // namespace haka::tcp

namespace haka::tcp {
namespace {

// receive() into the caller's Arrival: in order, only outcome, new_bytes and
// first_new are filled (no buffer made); a conflicting retransmission fills normalised.
TEST_F(StreamTest, ReceiveIntoTheCallersArrivalBuildsNoBufferInOrder) {
  start(100);
  rte_mbuf* m = packet("abcdef");
  Arrival a;
  s_.receive(*pool_, m, Seq{100}, 0, 6, Seq{100}, false, Seq{100}, Seq{106}, a);
  EXPECT_EQ(a.outcome, StreamOutcome::in_order);
  EXPECT_EQ(a.new_bytes, 6u);
  EXPECT_EQ(read(a.first_new, 6), "abcdef");
  EXPECT_FALSE(a.normalised.valid());
  release_all(true);
  rte_mbuf* r = packet("abXdef");
  Arrival b;
  s_.receive(*pool_, r, Seq{100}, 0, 6, Seq{100}, false, Seq{100}, Seq{106}, b);
  EXPECT_EQ(b.outcome, StreamOutcome::retrans_normalised);
  EXPECT_EQ(b.new_bytes, 0u);
  EXPECT_EQ(str(b.normalised), "abcdef");
  rte_pktmbuf_free(r);
}

} // namespace
} // namespace haka::tcp
