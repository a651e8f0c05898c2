#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "flow/flow_key.hpp"

namespace haka::flow {
namespace {

using A4 = std::array<uint8_t, 4>;
using A6 = std::array<uint8_t, 16>;

TEST(FlowKey4, BothDirectionsGiveTheSameKey) {
  const A4 a{10, 0, 0, 1}, b{192, 168, 1, 7};
  const auto fwd = FlowKey4::make(a, b, 40000, 80, 6);
  const auto rev = FlowKey4::make(b, a, 80, 40000, 6);
  EXPECT_TRUE(same_flow(fwd.key, rev.key));
  EXPECT_EQ(0, std::memcmp(&fwd.key, &rev.key, sizeof(FlowKey4)));
  EXPECT_NE(fwd.swapped, rev.swapped);
  SeededHash<FlowKey4> h(42);
  EXPECT_EQ(h(fwd.key), h(rev.key));
}

TEST(FlowKey4, SameAddressDifferentPortsOrdersByPort) {
  const A4 a{127, 0, 0, 1};
  const auto fwd = FlowKey4::make(a, a, 5000, 6000, 6);
  const auto rev = FlowKey4::make(a, a, 6000, 5000, 6);
  EXPECT_TRUE(same_flow(fwd.key, rev.key));
  EXPECT_NE(fwd.swapped, rev.swapped);
  EXPECT_EQ(fwd.key.port_a, 5000);
  EXPECT_EQ(fwd.key.port_b, 6000);
}

TEST(FlowKey4, DistinctFlowsDiffer) {
  const A4 a{10, 0, 0, 1}, b{10, 0, 0, 2}, c{10, 0, 0, 3};
  const auto k = FlowKey4::make(a, b, 1000, 80, 6).key;
  EXPECT_FALSE(same_flow(k, FlowKey4::make(a, c, 1000, 80, 6).key));
  EXPECT_FALSE(same_flow(k, FlowKey4::make(a, b, 1001, 80, 6).key));
  EXPECT_FALSE(same_flow(k, FlowKey4::make(a, b, 1000, 81, 6).key));
  EXPECT_FALSE(same_flow(k, FlowKey4::make(a, b, 1000, 80, 17).key));
  // Swapping only the ports (not the addresses) is another flow.
  EXPECT_FALSE(same_flow(k, FlowKey4::make(a, b, 80, 1000, 6).key));
}

TEST(FlowKey4, TableBitsAreNotIdentity) {
  const A4 a{1, 2, 3, 4}, b{5, 6, 7, 8};
  auto k1 = FlowKey4::make(a, b, 1, 2, 6).key;
  auto k2 = k1;
  k2.table_bits = 0xff;
  EXPECT_TRUE(same_flow(k1, k2));
  SeededHash<FlowKey4> h(7);
  EXPECT_EQ(h(k1), h(k2));
}

TEST(FlowKey6, BothDirectionsGiveTheSameKey) {
  A6 a{}, b{};
  a[0] = 0x20; a[1] = 0x01; a[15] = 1;
  b[0] = 0x20; b[1] = 0x01; b[15] = 2;
  const auto fwd = FlowKey6::make(a, b, 443, 51000, 6);
  const auto rev = FlowKey6::make(b, a, 51000, 443, 6);
  EXPECT_TRUE(same_flow(fwd.key, rev.key));
  EXPECT_EQ(0, std::memcmp(&fwd.key, &rev.key, sizeof(FlowKey6)));
  EXPECT_NE(fwd.swapped, rev.swapped);
  SeededHash<FlowKey6> h(42);
  EXPECT_EQ(h(fwd.key), h(rev.key));
}

TEST(FlowKey6, AddressesDifferingInEitherHalfAreOrdered) {
  A6 a{}, b{};
  a[3] = 9; // high half differs
  b[3] = 9;
  b[12] = 1; // low half differs too
  for (int flip = 0; flip < 2; ++flip) {
    const auto fwd = FlowKey6::make(a, b, 1, 2, 6);
    const auto rev = FlowKey6::make(b, a, 2, 1, 6);
    EXPECT_TRUE(same_flow(fwd.key, rev.key));
    EXPECT_NE(fwd.swapped, rev.swapped);
    b[3] = 10; // now the high half decides
  }
  const auto same_addr = FlowKey6::make(a, a, 9, 3, 6);
  EXPECT_TRUE(same_addr.swapped);
  EXPECT_EQ(same_addr.key.port_a, 3);
  EXPECT_FALSE(same_flow(FlowKey6::make(a, b, 1, 2, 6).key, FlowKey6::make(a, b, 1, 2, 17).key));
}

TEST(SeededHash, NeverZeroAndSeedMatters) {
  const A4 a{1, 1, 1, 1}, b{2, 2, 2, 2};
  const auto k = FlowKey4::make(a, b, 1, 2, 6).key;
  EXPECT_NE(SeededHash<FlowKey4>(1)(k), SeededHash<FlowKey4>(2)(k));
  SeededHash<FlowKey4> h(3);
  for (uint16_t p = 0; p < 1000; ++p) EXPECT_NE(h(FlowKey4::make(a, b, p, 2, 6).key), 0u);
}

} // namespace
} // namespace haka::flow
