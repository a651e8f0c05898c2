// SeqOffsetMap: translation after inserts, erases and replaces, acks on and
// inside modified packets, wrap at 2^32 (HAKA_SEMANTICS E2, E20), trim, caps;
// and a random comparison against a 64-bit model of every packet.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "tcp/seq_offset_map.hpp"

namespace haka::tcp {
namespace {

uint32_t out(const SeqOffsetMap& m, uint32_t orig) { return m.to_output(Seq{orig}).value(); }
uint32_t orig(const SeqOffsetMap& m, uint32_t o) { return m.to_original(Seq{o}).value(); }

TEST(SeqOffsetMap, UnmodifiedTrafficStoresNothing) {
  SeqOffsetPool pool(4);
  SeqOffsetMap m(pool);
  EXPECT_TRUE(m.empty());
  for (uint32_t s = 1000; s < 100000; s += 1460) EXPECT_TRUE(m.record(Seq{s}, 1460, 1460));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.breakpoints(), 0u);
  EXPECT_EQ(pool.free_blocks(), 4u);
  EXPECT_EQ(out(m, 5000), 5000u);
  EXPECT_EQ(orig(m, 5000), 5000u);
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::block_acquired), 0u);
}

// E2: insert 4 bytes in packet 1, erase 3 of packet 2, erase packet 3 whole,
// packet 4 untouched.
//   original  [1000,1100) [1100,1200) [1200,1250) [1250,1300)
//   output    [1000,1104) [1104,1201) [1201,1201) [1201,1251)
class E2 : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(m.record(Seq{1000}, 100, 104));
    ASSERT_TRUE(m.record(Seq{1100}, 100, 97));
    ASSERT_TRUE(m.record(Seq{1200}, 50, 0));
    ASSERT_TRUE(m.record(Seq{1250}, 50, 50));
  }
  SeqOffsetPool pool{2};
  SeqOffsetMap m{pool};
};

TEST_F(E2, ToOutput) {
  EXPECT_FALSE(m.empty());
  EXPECT_EQ(m.total_offset(), 4 - 3 - 50);
  EXPECT_EQ(m.breakpoints(), 3u);
  EXPECT_EQ(out(m, 900), 900u);    // before everything
  EXPECT_EQ(out(m, 1000), 1000u);
  EXPECT_EQ(out(m, 1050), 1050u);  // inside the lengthened packet
  EXPECT_EQ(out(m, 1100), 1104u);  // next packet's start
  EXPECT_EQ(out(m, 1150), 1154u);
  EXPECT_EQ(out(m, 1198), 1201u);  // inside the shortened packet: clamped to its output end
  EXPECT_EQ(out(m, 1199), 1201u);
  EXPECT_EQ(out(m, 1200), 1201u);  // the erased packet
  EXPECT_EQ(out(m, 1230), 1201u);
  EXPECT_EQ(out(m, 1250), 1201u);
  EXPECT_EQ(out(m, 1300), 1251u);  // FIN after everything
  EXPECT_EQ(out(m, 5000), 4951u);
}

TEST_F(E2, ToOriginal) {
  EXPECT_EQ(orig(m, 900), 900u);
  EXPECT_EQ(orig(m, 1000), 1000u);
  // Inside the lengthened packet, even past its original length (Haka acked
  // 1101..1103 here, bytes the receiver had not all got): its start.
  EXPECT_EQ(orig(m, 1001), 1000u);
  EXPECT_EQ(orig(m, 1099), 1000u);
  EXPECT_EQ(orig(m, 1100), 1000u);
  EXPECT_EQ(orig(m, 1103), 1000u);
  EXPECT_EQ(orig(m, 1104), 1100u); // its output end = its original end
  EXPECT_EQ(orig(m, 1150), 1100u); // inside the shortened packet
  EXPECT_EQ(orig(m, 1200), 1100u);
  // The shortened packet's end: also acknowledges the erased packet that follows.
  EXPECT_EQ(orig(m, 1201), 1250u);
  EXPECT_EQ(orig(m, 1226), 1275u); // untouched packet 4: linear
  EXPECT_EQ(orig(m, 1251), 1300u); // beyond: total offset
  EXPECT_EQ(orig(m, 1252), 1301u);
}

TEST_F(E2, RoundTripOnPacketBoundaries) {
  for (uint32_t b : {1000u, 1100u, 1250u, 1300u}) EXPECT_EQ(orig(m, out(m, b)), b) << b;
}

TEST(SeqOffsetMap, PureInsertionAndReplaceSameLength) {
  SeqOffsetPool pool(1);
  SeqOffsetMap m(pool);
  ASSERT_TRUE(m.record(Seq{100}, 10, 10)); // replace in place: nothing stored
  // 5 bytes inserted at 110 by a packet with no original bytes (e.g. on a FIN).
  EXPECT_EQ(out(m, 110), 110u); // its own seq, translated before recording
  ASSERT_TRUE(m.record(Seq{110}, 0, 5));
  EXPECT_EQ(m.breakpoints(), 1u);
  EXPECT_EQ(out(m, 110), 115u); // later packets (and the FIN) go after the insertion
  EXPECT_EQ(out(m, 109), 109u);
  EXPECT_EQ(orig(m, 110), 110u);
  EXPECT_EQ(orig(m, 113), 110u); // inside the inserted bytes
  EXPECT_EQ(orig(m, 115), 110u); // end of the insertion: nothing more of the original
  EXPECT_EQ(orig(m, 116), 111u);
  // A modified packet starting where the insertion was.
  ASSERT_TRUE(m.record(Seq{110}, 10, 2));
  EXPECT_EQ(out(m, 110), 115u);
  EXPECT_EQ(out(m, 111), 116u);
  EXPECT_EQ(out(m, 115), 117u);
  EXPECT_EQ(out(m, 120), 117u);
  EXPECT_EQ(orig(m, 117), 120u);
  EXPECT_EQ(orig(m, 116), 110u);
  EXPECT_EQ(m.total_offset(), -3);
}

// E20: ISN 0xFFFFFFF0; packets 1 and 3 lengthened by 4; acks after the wrap.
TEST(SeqOffsetMap, ExactAcrossWrap) {
  SeqOffsetPool pool(1);
  SeqOffsetMap m(pool);
  const uint32_t isn1 = 0xFFFFFFF1u;
  ASSERT_TRUE(m.record(Seq{isn1}, 20, 24));           // [..F1, 0x05) -> [..F1, 0x09)
  ASSERT_TRUE(m.record(Seq{isn1 + 20}, 20, 20));      // [0x05, 0x19) -> [0x09, 0x1D)
  ASSERT_TRUE(m.record(Seq{isn1 + 40}, 20, 24));      // [0x19, 0x2D) -> [0x1D, 0x35)
  EXPECT_EQ(out(m, isn1), isn1);
  EXPECT_EQ(out(m, 0x05), 0x09u);
  EXPECT_EQ(out(m, 0x19), 0x1Du);
  EXPECT_EQ(out(m, 0x2D), 0x35u);
  EXPECT_EQ(out(m, 0xFFFFFFFFu), 0xFFFFFFFFu); // inside packet 1, before the wrap
  EXPECT_EQ(out(m, 0x00), 0x00u);              // inside packet 1, after the wrap
  // Acks: on packet 2's output end only packet 1's offset applies (Haka used
  // the total offset here, E20).
  EXPECT_EQ(orig(m, 0x09), 0x05u);
  EXPECT_EQ(orig(m, 0x1D), 0x19u);
  EXPECT_EQ(orig(m, 0x10), 0x0Cu);
  EXPECT_EQ(orig(m, 0x20), 0x19u); // inside packet 3
  EXPECT_EQ(orig(m, 0x35), 0x2Du);
  EXPECT_EQ(orig(m, 0x03), isn1);  // inside packet 1 after the output wrapped
  EXPECT_EQ(m.total_offset(), 8);
}

TEST(SeqOffsetMap, TrimKeepsOffsetsAndReturnsTheBlock) {
  SeqOffsetPool pool(1);
  SeqOffsetMap m(pool);
  ASSERT_TRUE(m.record(Seq{1000}, 100, 110)); // out [1000,1110)
  ASSERT_TRUE(m.record(Seq{1100}, 100, 90));  // out [1110,1200)
  ASSERT_TRUE(m.record(Seq{1300}, 100, 150)); // out [1300,1450)
  EXPECT_EQ(pool.free_blocks(), 0u);
  m.trim(Seq{1109}); // packet 1 not wholly acknowledged
  EXPECT_EQ(m.breakpoints(), 3u);
  m.trim(Seq{1110});
  EXPECT_EQ(m.breakpoints(), 2u);
  EXPECT_EQ(out(m, 1150), 1160u);
  EXPECT_EQ(out(m, 1250), 1250u);
  EXPECT_EQ(out(m, 1350), 1350u);
  EXPECT_EQ(out(m, 1400), 1450u);
  EXPECT_EQ(orig(m, 1110), 1100u);
  EXPECT_EQ(orig(m, 1250), 1250u);
  EXPECT_EQ(orig(m, 1449), 1300u);
  EXPECT_EQ(orig(m, 1450), 1400u);
  m.trim(Seq{1250}); // past packet 2, packet 3 not started
  EXPECT_EQ(m.breakpoints(), 1u);
  EXPECT_EQ(out(m, 1250), 1250u); // offset before packet 3 still right
  EXPECT_EQ(orig(m, 1299), 1299u);
  m.trim(Seq{1450});
  EXPECT_EQ(m.breakpoints(), 0u);
  EXPECT_EQ(pool.free_blocks(), 1u);
  EXPECT_FALSE(m.empty()); // offset 50 remains
  EXPECT_EQ(m.total_offset(), 50);
  EXPECT_EQ(out(m, 1400), 1450u);
  EXPECT_EQ(orig(m, 1500), 1450u);
  // A later modification takes a block again and builds on the offset.
  ASSERT_TRUE(m.record(Seq{1500}, 10, 0));
  EXPECT_EQ(pool.free_blocks(), 0u);
  EXPECT_EQ(out(m, 1510), 1550u);
  EXPECT_EQ(orig(m, 1550), 1510u);
  EXPECT_EQ(m.total_offset(), 40);
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::block_acquired), 2u);
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::block_released), 1u);
}

TEST(SeqOffsetMap, OffsetsThatCancelOutBecomeEmptyAfterTrim) {
  SeqOffsetPool pool(1);
  SeqOffsetMap m(pool);
  ASSERT_TRUE(m.record(Seq{0}, 10, 14));
  ASSERT_TRUE(m.record(Seq{10}, 10, 6));
  EXPECT_EQ(m.total_offset(), 0);
  EXPECT_FALSE(m.empty());
  EXPECT_EQ(orig(m, 12), 0u); // still not the identity inside
  EXPECT_EQ(orig(m, 15), 10u);
  m.trim(Seq{20});
  EXPECT_TRUE(m.empty());
}

TEST(SeqOffsetMap, CapacityFull) {
  SeqOffsetPool pool(1, 4);
  SeqOffsetMap m(pool);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(m.record(Seq{i * 10}, 10, 11));
  EXPECT_FALSE(m.record(Seq{40}, 10, 11));
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::map_full), 1u);
  EXPECT_TRUE(m.record(Seq{40}, 10, 10)); // unmodified packets still pass
  EXPECT_EQ(m.total_offset(), 4);          // the refused record changed nothing
  m.trim(Seq{22});                         // packets 1 and 2 acknowledged: room for two more
  EXPECT_EQ(m.breakpoints(), 2u);
  EXPECT_TRUE(m.record(Seq{50}, 10, 11));
  EXPECT_TRUE(m.record(Seq{60}, 10, 11)); // the ring wraps in its block
  EXPECT_FALSE(m.record(Seq{70}, 10, 11));
  EXPECT_EQ(out(m, 25), 27u);
  EXPECT_EQ(out(m, 45), 49u);
  EXPECT_EQ(out(m, 60), 65u);
  EXPECT_EQ(out(m, 70), 76u);
  EXPECT_EQ(orig(m, 76), 70u);
  EXPECT_EQ(orig(m, 65), 60u);
  EXPECT_EQ(orig(m, 64), 50u);
}

TEST(SeqOffsetMap, PoolEmptyAndOutOfOrder) {
  SeqOffsetPool pool(1);
  SeqOffsetMap a(pool), b(pool);
  ASSERT_TRUE(a.record(Seq{0}, 10, 5));
  EXPECT_FALSE(b.record(Seq{0}, 10, 5));
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::pool_empty), 1u);
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(a.record(Seq{5}, 10, 5)); // starts inside the previous modified packet
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::out_of_order), 1u);
  SeqOffsetMap none;
  EXPECT_FALSE(none.record(Seq{0}, 1, 2));
  EXPECT_TRUE(none.record(Seq{0}, 2, 2));
  a.reset();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(pool.free_blocks(), 1u);
  EXPECT_TRUE(b.record(Seq{0}, 10, 5));
}

TEST(SeqOffsetMap, MoveKeepsTheBlock) {
  SeqOffsetPool pool(1);
  {
    SeqOffsetMap a(pool);
    ASSERT_TRUE(a.record(Seq{0}, 10, 12));
    SeqOffsetMap b(std::move(a));
    EXPECT_EQ(out(b, 10), 12u);
    EXPECT_EQ(pool.free_blocks(), 0u);
    SeqOffsetMap c(pool);
    c = std::move(b);
    EXPECT_EQ(out(c, 10), 12u);
    EXPECT_EQ(pool.free_blocks(), 0u);
  }
  EXPECT_EQ(pool.free_blocks(), 1u);
  EXPECT_EQ(pool.counters().get(SeqOffsetOutcome::block_released), 1u);
}

TEST(SeqOffsetMap, PoolSizes) {
  SeqOffsetPool pool(100);
  EXPECT_TRUE(pool.valid());
  EXPECT_EQ(pool.capacity(), 64u);
  EXPECT_EQ(pool.memory_bytes(), 100u * 64u * 16u + 400u);
  SeqOffsetPool bad(0);
  EXPECT_FALSE(bad.valid());
  SeqOffsetMap m(bad);
  EXPECT_FALSE(m.record(Seq{0}, 1, 0));
}

// Model: every packet (modified or not) in 64-bit unwrapped space; the map
// sees them from an ISN near 2^32 and is trimmed as a peer acknowledges.
struct ModelPacket {
  uint64_t orig, orig_len, out, out_len;
};

uint64_t model_to_output(const std::vector<ModelPacket>& ps, uint64_t x) {
  const ModelPacket* p = nullptr;
  for (const ModelPacket& q : ps)
    if (q.orig <= x) p = &q;
  if (p == nullptr) return x;
  if (x < p->orig + p->orig_len) return p->out + std::min(x - p->orig, p->out_len);
  return x + (p->out + p->out_len) - (p->orig + p->orig_len);
}

uint64_t model_to_original(const std::vector<ModelPacket>& ps, uint64_t y) {
  const ModelPacket* p = nullptr;
  for (const ModelPacket& q : ps)
    if (q.out <= y) p = &q;
  if (p == nullptr) return y;
  if (y < p->out + p->out_len) return p->orig_len == p->out_len ? p->orig + (y - p->out) : p->orig;
  return y - (p->out + p->out_len) + (p->orig + p->orig_len);
}

TEST(SeqOffsetMap, RandomAgainstModel) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    SeqOffsetPool pool(1, 64);
    SeqOffsetMap m(pool);
    const uint64_t isn = 0xFFFFFFFFull - (rng() % 5000);
    std::vector<ModelPacket> ps;
    uint64_t orig_pos = isn, out_pos = isn, acked_out = isn;
    int64_t total = 0;
    for (int i = 0; i < 300; ++i) {
      uint64_t len = rng() % 4 == 0 ? 0 : rng() % 200;
      uint64_t olen = len;
      switch (rng() % 4) {
        case 0: olen = len + rng() % 30; break;        // insertion
        case 1: olen = len - std::min<uint64_t>(len, rng() % 30); break; // erase
        default: break;                                 // untouched or replaced in place
      }
      if (rng() % 8 == 0) orig_pos += rng() % 50; // a gap (an unmodified stretch not recorded)
      out_pos = model_to_output(ps, orig_pos);
      ASSERT_EQ(m.to_output(Seq{static_cast<uint32_t>(orig_pos)}).value(), static_cast<uint32_t>(out_pos));
      ASSERT_TRUE(m.record(Seq{static_cast<uint32_t>(orig_pos)}, static_cast<uint32_t>(len),
                           static_cast<uint32_t>(olen)));
      ps.push_back({orig_pos, len, out_pos, olen});
      total += static_cast<int64_t>(olen) - static_cast<int64_t>(len);
      orig_pos += len;
      ASSERT_EQ(m.total_offset(), total);
      // Queries at and after the acknowledged point: every boundary and random points.
      const uint64_t lo_orig = model_to_original(ps, acked_out);
      const uint64_t hi_orig = orig_pos + 100;
      for (int q = 0; q < 20; ++q) {
        uint64_t x = lo_orig + rng() % (hi_orig - lo_orig + 1);
        ASSERT_EQ(m.to_output(Seq{static_cast<uint32_t>(x)}).value(), static_cast<uint32_t>(model_to_output(ps, x)))
            << "round " << round << " packet " << i << " x " << x;
        uint64_t hi_out = model_to_output(ps, hi_orig);
        uint64_t y = acked_out + rng() % (hi_out - acked_out + 1);
        ASSERT_EQ(m.to_original(Seq{static_cast<uint32_t>(y)}).value(),
                  static_cast<uint32_t>(model_to_original(ps, y)))
            << "round " << round << " packet " << i << " y " << y;
      }
      for (std::size_t k = ps.size() > 8 ? ps.size() - 8 : 0; k < ps.size(); ++k) {
        const ModelPacket& p = ps[k];
        if (p.out + p.out_len < acked_out) continue;
        if (p.out + p.out_len > acked_out) {
          ASSERT_EQ(m.to_output(Seq{static_cast<uint32_t>(p.orig)}).value(),
                    static_cast<uint32_t>(model_to_output(ps, p.orig)));
        }
        ASSERT_EQ(m.to_original(Seq{static_cast<uint32_t>(p.out + p.out_len)}).value(),
                  static_cast<uint32_t>(model_to_original(ps, p.out + p.out_len)));
      }
      // The peer acknowledges some of what left.
      uint64_t out_end = model_to_output(ps, orig_pos);
      if (m.breakpoints() > 56) {
        acked_out = out_end; // a slow peer: acknowledge everything before the map fills
        m.trim(Seq{static_cast<uint32_t>(acked_out)});
      } else if (rng() % 3 == 0 && out_end > acked_out) {
        acked_out += rng() % (out_end - acked_out + 1);
        m.trim(Seq{static_cast<uint32_t>(acked_out)});
      }
      ASSERT_LE(m.breakpoints(), 64u);
    }
  }
}

} // namespace
} // namespace haka::tcp
