#include <gtest/gtest.h>

#include "tcp/seq.hpp"

namespace haka::tcp {
namespace {

TEST(Seq, ComparesAcrossWrap) {
  const Seq before{0xFFFFFFF0u};
  const Seq after{0x10u};
  EXPECT_LT(before, after);
  EXPECT_LE(before, after);
  EXPECT_GT(after, before);
  EXPECT_GE(after, before);
  EXPECT_FALSE(after < before);
  EXPECT_FALSE(before > after);
  EXPECT_LE(after, after);
  EXPECT_GE(after, after);
  EXPECT_FALSE(after < after);
}

TEST(Seq, DifferenceIsSigned) {
  EXPECT_EQ(Seq{0x10u} - Seq{0xFFFFFFF0u}, 0x20);
  EXPECT_EQ(Seq{0xFFFFFFF0u} - Seq{0x10u}, -0x20);
  EXPECT_EQ(Seq{7} - Seq{7}, 0);
  // Half the space apart is the edge: 2^31 - 1 ahead is "after".
  EXPECT_GT(Seq{0x7FFFFFFFu}, Seq{0});
  EXPECT_LT(Seq{0x80000001u}, Seq{0});
}

TEST(Seq, AddSubtractWrap) {
  EXPECT_EQ((Seq{0xFFFFFFFFu} + 1u).value(), 0u);
  EXPECT_EQ((Seq{0} - 1u).value(), 0xFFFFFFFFu);
  Seq s{0xFFFFFFFEu};
  s += 5;
  EXPECT_EQ(s.value(), 3u);
  EXPECT_EQ(seq_max(Seq{0xFFFFFFFEu}, Seq{3}).value(), 3u);
  EXPECT_EQ(seq_min(Seq{0xFFFFFFFEu}, Seq{3}).value(), 0xFFFFFFFEu);
}

TEST(Seq, InWindowHalfOpen) {
  EXPECT_TRUE(Seq{100}.in_window(Seq{100}, 10));
  EXPECT_TRUE(Seq{109}.in_window(Seq{100}, 10));
  EXPECT_FALSE(Seq{110}.in_window(Seq{100}, 10));
  EXPECT_FALSE(Seq{99}.in_window(Seq{100}, 10));
  EXPECT_FALSE(Seq{100}.in_window(Seq{100}, 0));
  // Straddling 2^32.
  EXPECT_TRUE(Seq{0xFFFFFFFFu}.in_window(Seq{0xFFFFFFF0u}, 0x20));
  EXPECT_TRUE(Seq{0x0Fu}.in_window(Seq{0xFFFFFFF0u}, 0x20));
  EXPECT_FALSE(Seq{0x10u}.in_window(Seq{0xFFFFFFF0u}, 0x20));
  EXPECT_FALSE(Seq{0xFFFFFFEFu}.in_window(Seq{0xFFFFFFF0u}, 0x20));
}

} // namespace
} // namespace haka::tcp
