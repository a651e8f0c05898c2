// The packets one burst produces, in the order they must leave.
#pragma once

#include <cstdint>
#include <memory>

#include <rte_mbuf.h>

#include "engine/counters.hpp"
#include "engine/tx_batch.hpp"

namespace haka::engine {

/// An ordered list of verdicts (forward, drop) filled while a burst is
/// processed: the burst's own packets, packets released by streams, rebuilt
/// and forged packets. The processor moves it to the TxBatch once per burst,
/// so releases caused by one packet leave right where that packet would.
/// Fixed capacity, allocated once; past it verdicts are still honoured
/// (drops counted as tx_full) rather than reallocating on the packet path.
class OutputQueue {
 public:
  enum class Kind : uint8_t { forward, back, drop };
  struct Item {
    rte_mbuf* m;
    Kind kind;
    DropReason reason;
  };

  explicit OutputQueue(uint32_t capacity) : items_(std::make_unique<Item[]>(capacity)), cap_(capacity) {}
  OutputQueue(OutputQueue&&) noexcept = default;
  OutputQueue& operator=(OutputQueue&&) noexcept = default;

  void forward(rte_mbuf* m) { add(Item{m, Kind::forward, DropReason::tx_full}); }
  void drop(rte_mbuf* m, DropReason r) { add(Item{m, Kind::drop, r}); }
  /// Out the port the current packet came in by (e.g. a RST toward its sender).
  void back(rte_mbuf* m) { add(Item{m, Kind::back, DropReason::tx_full}); }
  /// The engine made `n` packets (rebuilt, forged, reassembled): counted in
  /// as injected now, out by whatever verdict they get, now or later.
  void injected(uint64_t n = 1) { injected_ += n; }

  uint32_t size() const { return n_; }

  /// Hands everything to `out`, in order, and empties the queue. A packet
  /// to forward goes to `special(m)` first, which may take it (returns true).
  template <class Io, class F>
  void drain(TxBatch<Io>& out, F&& special) {
    for (uint32_t i = 0; i < n_; ++i) {
      const Item& it = items_[i];
      switch (it.kind) {
        case Kind::forward:
          if (!special(it.m)) out.forward(it.m);
          break;
        case Kind::back: out.back(it.m); break;
        case Kind::drop: out.drop(it.m, it.reason); break;
      }
    }
    n_ = 0;
    if (injected_ != 0) {
      out.count_injected(injected_);
      injected_ = 0;
    }
    if (overflow_ != 0) {
      out.count_dropped(DropReason::tx_full, overflow_);
      overflow_ = 0;
    }
  }

 private:
  void add(const Item& it) {
    if (n_ == cap_) [[unlikely]] {
      // Unreachable with the sizes the pipeline picks (held packets + bursts);
      // a counted drop all the same, never a reallocation.
      rte_pktmbuf_free(it.m);
      ++overflow_;
      return;
    }
    items_[n_++] = it;
  }

  std::unique_ptr<Item[]> items_;
  uint32_t cap_;
  uint32_t n_ = 0;
  uint64_t overflow_ = 0;
  uint64_t injected_ = 0;
};

} // namespace haka::engine
