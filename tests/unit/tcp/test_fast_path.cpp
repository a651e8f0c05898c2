// step()'s inline fast path for in-order segments must leave the connection
// and give the result step_general() would, and step aside for the rest.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tcp_test_util.hpp"

namespace haka::tcp::test {
namespace {

bool same(const StepResult& a, const StepResult& b) {
  return a.outcome == b.outcome && a.forward == b.forward && a.policy == b.policy && a.events == b.events &&
         a.end == b.end && a.restart == b.restart;
}

// Random segments around each side's next sequence number and last ACK, on
// connections with and without window scaling, fed to both paths.
TEST(StepFastPath, SameAsGeneralOnRandomSegments) {
  std::mt19937 rng(12345);
  auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  uint64_t fast = 0, general = 0;
  for (int conn = 0; conn < 200; ++conn) {
    Conv v(0xffffff00u + pick(512) * 7919u, pick(1u << 31));
    // Every third connection advertises small windows, so that data reaches the right edge.
    const bool small = conn % 3 == 0;
    if (small) v.cwin = v.swin = static_cast<uint16_t>(1000 + pick(2000));
    v.handshake(conn % 2 ? 7 : -1, conn % 2 ? 2 : -1);
    if (conn % 5 == 0) v.cfg.window_checks = false;
    for (int i = 0; i < 200; ++i) {
      const Dir d = pick(2) ? Dir::up : Dir::down;
      const Endpoint& sender = v.c.endpoint(d);
      const Endpoint& receiver = v.c.endpoint(opposite(d));
      // Mostly data and ACKs; now and then a segment that ends the run (FIN, RST, SYN) or lacks ACK.
      static constexpr uint8_t kRare[] = {A | F, A | R, A | S, 0, P};
      const uint8_t flags = pick(40) == 0 ? kRare[pick(std::size(kRare))] : pick(2) ? A : A | P;
      uint32_t seq = sender.next.value();
      if (pick(4) == 0) seq += pick(3000) - 1500;
      const uint32_t len = pick(3) == 0 ? 0 : pick(2000);
      uint32_t ack = receiver.next.value();
      if (pick(4) == 0) ack += pick(200000) - 100000;
      const SegmentView s = seg(seq, ack, flags, len, static_cast<uint16_t>(small || pick(3) == 0 ? pick(3000) : pick(65536)));
      const uint64_t now = v.now + pick(3) * kSec;

      Connection a = v.c, b = v.c;
      StepResult ra;
      const bool took = detail::step_in_order(a, d, s, now, v.cfg, ra);
      if (!took) {
        EXPECT_EQ(std::memcmp(&a, &v.c, sizeof a), 0) << "the fast path changed a connection it declined";
        ra = step(a, d, s, now, v.cfg);
      }
      const StepResult rb = step_general(b, d, s, now, v.cfg);
      ASSERT_TRUE(same(ra, rb)) << "conn " << conn << " seg " << i << ": " << outcome_name(ra.outcome) << " vs "
                                << outcome_name(rb.outcome);
      ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "conn " << conn << " seg " << i;
      (took ? fast : general) += 1;
      v.c = b;
      v.now = now;
      if (v.c.state != State::established) break;
    }
  }
  // Both paths were exercised, the fast one for most in-order segments.
  EXPECT_GT(fast, 5000u);
  EXPECT_GT(general, 5000u);
}

} // namespace
} // namespace haka::tcp::test
