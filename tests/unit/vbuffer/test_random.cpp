// A Stream against a model (one std::string per pending push) under random
// pushes, edits and pops: the chain, every popped packet and the untouched
// original mbufs must agree with the model after every step.
#include <deque>
#include <random>

#include "vbuffer_test_util.hpp"

namespace haka::vbuffer::test {
namespace {

struct ModelPacket {
  std::string bytes;
  rte_mbuf* mbuf;
};

class Model {
public:
  std::deque<ModelPacket> packets;

  std::size_t total() const {
    std::size_t n = 0;
    for (auto& p : packets) n += p.bytes.size();
    return n;
  }
  std::string all() const {
    std::string s;
    for (auto& p : packets) s += p.bytes;
    return s;
  }
  /// The packet holding byte `i` and the offset in it.
  std::pair<std::size_t, std::size_t> locate(std::size_t i) const {
    for (std::size_t k = 0;; ++k) {
      if (i < packets[k].bytes.size()) return {k, i};
      i -= packets[k].bytes.size();
    }
  }
  /// Where bytes inserted at stream offset `a` land: after byte a-1, in its
  /// packet (the end-of-chunk rule), or at the start of the first packet.
  std::pair<std::size_t, std::size_t> insertion_point(std::size_t a) const {
    if (a == 0) return {0, 0};
    auto [k, off] = locate(a - 1);
    return {k, off + 1};
  }
  void erase(std::size_t a, std::size_t b) {
    std::size_t start = 0;
    for (auto& p : packets) {
      std::size_t end = start + p.bytes.size();
      std::size_t lo = std::max(a, start), hi = std::min(b, end);
      if (lo < hi) p.bytes.erase(lo - start, hi - lo);
      start = end;
    }
  }
  void replace(std::size_t a, std::size_t b, const std::string& s) {
    if (a == b) {
      auto [k, off] = insertion_point(a);
      packets[k].bytes.insert(off, s);
      return;
    }
    auto [k, off_end] = locate(b - 1);
    std::size_t start_k = 0;
    for (std::size_t i = 0; i < k; ++i) start_k += packets[i].bytes.size();
    std::size_t local = a > start_k ? a - start_k : 0;
    (void)off_end;
    erase(a, b);
    packets[k].bytes.insert(local, s);
  }
  void overwrite(std::size_t a, const std::string& s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      auto [k, off] = locate(a + i);
      packets[k].bytes[off] = s[i];
    }
  }
};

class RandomStreamTest : public VbufferTest {
protected:
  std::string random_string(std::mt19937& rng, std::size_t max_len, std::size_t min_len = 0) {
    std::size_t n = std::uniform_int_distribution<std::size_t>(min_len, max_len)(rng);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  }
};

TEST_F(RandomStreamTest, MatchesAStringModel) {
  for (unsigned seed = 1; seed <= 25; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Stream s(*pool_);
    Model model;
    std::vector<std::pair<rte_mbuf*, std::string>> originals;
    for (int step = 0; step < 400; ++step) {
      std::size_t total = model.total();
      unsigned op = rng() % 10;
      if (model.packets.empty() || op < 3) {
        std::string payload = random_string(rng, 40);
        rte_mbuf* m = packet(payload, false);
        originals.emplace_back(m, payload);
        ASSERT_EQ(s.push(m, kHeader, static_cast<uint32_t>(payload.size()), m), Error::ok);
        model.packets.push_back({payload, m});
      } else if (op == 3) {
        Popped p;
        ASSERT_EQ(s.pop(p), Error::ok);
        ASSERT_EQ(p.user, model.packets.front().mbuf);
        ASSERT_EQ(str(p.bytes), model.packets.front().bytes);
        model.packets.pop_front();
      } else if (op == 4 && total > 0) {
        std::size_t a = rng() % total, b = a + rng() % (total - a + 1);
        ASSERT_EQ(s.data().sub(a, b - a).erase(), Error::ok);
        model.erase(a, b);
      } else if (op == 5) {
        std::size_t a = rng() % (total + 1);
        std::string ins = random_string(rng, 6, 1);
        Buffer b;
        ASSERT_EQ(Buffer::from(*pool_, bytes(ins), b), Error::ok);
        Iterator it = s.data().position(a);
        Sub inserted;
        ASSERT_EQ(it.insert(b, &inserted), Error::ok);
        ASSERT_EQ(str(inserted), ins);
        model.replace(a, a, ins);
      } else if (op == 6) {
        std::size_t a = rng() % (total + 1), b = a + rng() % (total - a + 1);
        std::string rep = random_string(rng, 6);
        ASSERT_EQ(s.data().sub(a, b - a).set_string(bytes(rep)), Error::ok);
        model.replace(a, b, rep);
      } else if (op == 7 && total > 0) {
        std::size_t a = rng() % total;
        std::string w = random_string(rng, std::min<std::size_t>(8, total - a), 1);
        ASSERT_EQ(s.data().sub(a, w.size()).write(bytes(w)), Error::ok);
        model.overwrite(a, w);
      } else if (op == 8 && total > 0) {
        std::size_t a = rng() % total, n = 1 + rng() % std::min<std::size_t>(8, total - a);
        ASSERT_EQ(s.data().sub(a, n).zero(), Error::ok);
        model.overwrite(a, std::string(n, '\0'));
      } else if (op == 9 && total > 0) {
        // Iterator sub (begin, length), with or without split, then erase.
        std::size_t a = rng() % total, n = 1 + rng() % (total - a);
        Iterator it = s.data().position(a);
        Sub sub;
        bool split = rng() % 2 == 0;
        ASSERT_EQ(it.sub(n, split, sub), Error::ok);
        ASSERT_EQ(sub.erase(), Error::ok);
        model.erase(a, a + n);
        if (split) {
          std::size_t avail = 0;
          ASSERT_EQ(it.available(avail), Error::ok);
          ASSERT_EQ(avail, total - a - n);
        }
      }
      ASSERT_EQ(str(s.data()), model.all()) << "step " << step << " op " << op;
      ASSERT_EQ(s.pending(), model.packets.size());
    }
    while (!model.packets.empty()) {
      Popped p;
      ASSERT_EQ(s.pop(p), Error::ok);
      ASSERT_EQ(str(p.bytes), model.packets.front().bytes);
      model.packets.pop_front();
    }
    s.clear();
    for (auto& [m, payload] : originals) {
      EXPECT_EQ(wire(m), payload) << "an original packet was written";
      EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
      rte_pktmbuf_free(m);
    }
  }
}

} // namespace
} // namespace haka::vbuffer::test
