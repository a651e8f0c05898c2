// TCP sequence numbers: 32-bit values compared modulo 2^32.
#pragma once

#include <cstdint>
#include <type_traits>

namespace haka::tcp {

/// A TCP sequence (or acknowledgement) number. RFC 9293 §3.4: sequence
/// numbers live in a space of 2^32 and all arithmetic on them is modulo 2^32,
/// so "a < b" means "b is less than 2^31 ahead of a" (the signed 32-bit
/// difference b - a is positive). Comparisons are therefore only meaningful
/// between numbers less than 2^31 apart, which TCP windows (at most 2^30 with
/// window scaling, RFC 7323 §2.3) guarantee.
struct Seq {
  uint32_t raw = 0;

  constexpr Seq() = default;
  constexpr explicit Seq(uint32_t v) : raw(v) {}

  constexpr uint32_t value() const { return raw; }

  /// This number moved forward by n (mod 2^32).
  constexpr Seq operator+(uint32_t n) const { return Seq{raw + n}; }
  /// This number moved back by n (mod 2^32).
  constexpr Seq operator-(uint32_t n) const { return Seq{raw - n}; }
  constexpr Seq& operator+=(uint32_t n) {
    raw += n;
    return *this;
  }
  /// Signed distance from b to a: positive when a is after b (RFC 9293 §3.4).
  friend constexpr int32_t operator-(Seq a, Seq b) { return static_cast<int32_t>(a.raw - b.raw); }

  friend constexpr bool operator==(Seq a, Seq b) { return a.raw == b.raw; }
  friend constexpr bool operator<(Seq a, Seq b) { return (a - b) < 0; }
  friend constexpr bool operator<=(Seq a, Seq b) { return (a - b) <= 0; }
  friend constexpr bool operator>(Seq a, Seq b) { return (a - b) > 0; }
  friend constexpr bool operator>=(Seq a, Seq b) { return (a - b) >= 0; }

  /// lo <= this < lo + len, modulo 2^32 (RFC 9293 §3.4's window test; the
  /// unsigned difference also handles windows that straddle 2^32).
  constexpr bool in_window(Seq lo, uint32_t len) const { return raw - lo.raw < len; }
};

/// The later of two sequence numbers (modulo 2^32).
constexpr Seq seq_max(Seq a, Seq b) { return a < b ? b : a; }
/// The earlier of two sequence numbers (modulo 2^32).
constexpr Seq seq_min(Seq a, Seq b) { return a < b ? a : b; }

static_assert(sizeof(Seq) == 4);
static_assert(std::is_trivially_copyable_v<Seq>);
static_assert(Seq{0xFFFFFFF0u} < Seq{0x10u}, "comparisons wrap");
static_assert(Seq{0x10u} - Seq{0xFFFFFFF0u} == 0x20);
static_assert(Seq{5}.in_window(Seq{0xFFFFFFFEu}, 8));

} // namespace haka::tcp
