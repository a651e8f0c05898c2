// Haka's regexp API over lib/match (see regexp.hpp).
#include "lua/regexp.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <new>
#include <span>
#include <string>

#include "match/database.hpp"
#include "match/regexp.hpp"
#include "lua/runtime.hpp"
#include "match/scanner.hpp"
#include "vbuffer/vbuffer.hpp"

using haka::match::Database;
using haka::match::Found;
using haka::match::FoundKeeper;
using haka::match::Scanner;
using haka::match::ScanStatus;
using haka::match::StreamScanner;

namespace haka::lua {
namespace {
// Stream-state size classes: 256 B, 512 B, ... 1 MiB slots.
constexpr unsigned kMinShift = 8;
constexpr unsigned kClasses = 13;
} // namespace
} // namespace haka::lua

/// One Lua VM's regexp state: its scanners (one per stream-state size class,
/// made by the first compile that needs it) and its free sinks. A VM runs on
/// one worker at a time, so its scanners are that worker's (created on any
/// thread, as the runtime is). Reference-counted by the module, every regexp
/// and every live sink, so the VM's finalizers may run in any order.
struct hk_rx_ctx {
  std::array<std::unique_ptr<Scanner>, haka::lua::kClasses> scanners;
  std::size_t max_sinks = 0; // per class, before the byte budget
  hk_rx_sink* free_sinks = nullptr;
  uint32_t refs = 1;
  const void* rt = nullptr; // the runtime whose VM made it (for its counters)
  ~hk_rx_ctx();
};

namespace {
// Contexts by runtime, for regexp_counters(): registered at load, read by
// the reports after the workers stopped (hence a lock, off the packet path).
std::mutex g_ctx_lock;
std::unordered_map<const void*, hk_rx_ctx*> g_ctx_by_rt;
} // namespace

/// A compiled Haka regexp: its database (block and stream mode) and the
/// scanner of its size class.
struct hk_rx {
  std::shared_ptr<const Database> db;
  hk_rx_ctx* ctx = nullptr;
  Scanner* scanner = nullptr;
};

/// A regexp sink (re:get_sink(), re:match(iter)): a stream scan fed piece by
/// piece; the answer is the first feed whose bytes complete a match, and
/// among that feed's matches the leftmost begin, then the longest end.
struct hk_rx_sink {
  std::shared_ptr<const Database> db;
  hk_rx_ctx* ctx = nullptr; // nullptr while on the free list
  Scanner* scanner = nullptr;
  StreamScanner stream;
  Found found;
  uint64_t fed = 0;
  bool done = false;
  hk_rx_sink* next_free = nullptr;
};

hk_rx_ctx::~hk_rx_ctx() {
  while (free_sinks != nullptr) {
    hk_rx_sink* next = free_sinks->next_free;
    delete free_sinks;
    free_sinks = next;
  }
}

namespace haka::lua {
namespace {

void release(hk_rx_ctx* ctx) {
  if (--ctx->refs != 0) return;
  {
    std::lock_guard<std::mutex> g(g_ctx_lock);
    auto it = g_ctx_by_rt.find(ctx->rt);
    if (it != g_ctx_by_rt.end() && it->second == ctx) g_ctx_by_rt.erase(it);
  }
  delete ctx;
}

// The scanner for `db`'s stream states, ready for `db`; nullptr with `why`.
Scanner* scanner_for(hk_rx_ctx& ctx, const Database& db, const char*& why) {
  unsigned shift = kMinShift;
  while ((std::size_t{1} << shift) < db.stream_size()) ++shift;
  if (shift - kMinShift >= kClasses) {
    why = "stream state too large";
    return nullptr;
  }
  std::unique_ptr<Scanner>& s = ctx.scanners[shift - kMinShift];
  if (s == nullptr) {
    std::size_t slots = kRxClassBudget >> shift;
    if (slots > ctx.max_sinks) slots = ctx.max_sinks;
    if (slots < kRxMinSinks) slots = kRxMinSinks;
    s = std::make_unique<Scanner>(std::size_t{1} << shift, slots);
  }
  if (!s->ok()) {
    why = "no memory for stream states";
    return nullptr;
  }
  if (!s->reserve(db)) {
    why = "cannot allocate Hyperscan scratch";
    return nullptr;
  }
  return s.get();
}

// An empty run of bytes at a valid address (Hyperscan refuses a null one).
std::span<const uint8_t> nothing() {
  static const uint8_t none = 0;
  return {&none, 0};
}

int scan_code(ScanStatus s) { return kRxScanError - static_cast<int>(s); }
int buffer_code(vbuffer::Error e) { return kRxBufferError - static_cast<int>(e); }

vbuffer::Sub load_sub(const hk_sub* b) {
  vbuffer::Sub s;
  std::memcpy(static_cast<void*>(&s), b, sizeof s);
  return s;
}

// Calls f(span) for every non-empty run of data bytes of `s`, in order (as
// vbuffer::Sub's own walk: a (begin, length) sub stops after its length or
// at the chain's end, a (begin, end) one at its end iterator).
template <class F>
vbuffer::Error for_each_piece(const vbuffer::Sub& s, F&& f) {
  using vbuffer::Chunk;
  using vbuffer::Error;
  if (Error e = s.begin().check(); e != Error::ok) return e;
  Chunk* c = s.begin().chunk();
  uint32_t off = s.begin().offset();
  auto give = [&](uint32_t from, uint32_t len) {
    if (len != 0 && c->kind == vbuffer::ChunkKind::data) f(std::span<const uint8_t>(c->bytes + from, len));
  };
  if (s.uses_length()) {
    std::size_t left = s.length();
    while (left > 0 && !c->is_end()) {
      const auto take = static_cast<uint32_t>(std::min<std::size_t>(c->size - off, left));
      give(off, take);
      left -= take;
      c = c->next;
      off = 0;
    }
    return Error::ok;
  }
  if (Error e = s.end_iterator().check(); e != Error::ok) return e;
  Chunk* const last = s.end_iterator().chunk();
  const uint32_t last_off = s.end_iterator().offset();
  for (;;) {
    if (c == last) {
      if (off > last_off) return Error::out_of_range;
      give(off, last_off - off);
      return Error::ok;
    }
    if (c->is_end()) return Error::out_of_range;
    give(off, c->size - off);
    c = c->next;
    off = 0;
  }
}

// One feed of a sink: `pieces(fn)` calls fn(span) for each piece and returns
// a vbuffer::Error (ok for plain data).
template <class Pieces>
int feed(hk_rx_sink& s, Pieces&& pieces, bool eof) {
  if (s.done) {
    // Count what the caller fed, as a sink that already answered.
    pieces([&](std::span<const uint8_t> p) { s.fed += p.size(); });
    return s.found.found ? 1 : 0;
  }
  FoundKeeper keep;
  ScanStatus st = ScanStatus::ok;
  const vbuffer::Error e = pieces([&](std::span<const uint8_t> p) {
    s.fed += p.size();
    if (st == ScanStatus::ok && !p.empty()) st = s.stream.scan(*s.db, *s.scanner, p, keep);
  });
  if (e != vbuffer::Error::ok) {
    s.stream.discard(*s.scanner);
    s.done = true;
    return buffer_code(e);
  }
  if (st == ScanStatus::ok && eof && !keep.best.found) {
    // Nothing fed at all: open the stream anyway, so that patterns matching
    // at the end of an empty stream ("^$", ".*") are reported.
    if (s.stream.state() == StreamScanner::State::idle) st = s.stream.scan(*s.db, *s.scanner, nothing(), keep);
    if (st == ScanStatus::ok) st = s.stream.close(*s.db, *s.scanner, keep);
  }
  if (keep.best.found) s.found = keep.best;
  if (s.found.found || eof || st != ScanStatus::ok) {
    // The answer is known (or cannot be): the stream slot goes back now.
    s.stream.discard(*s.scanner);
    s.done = true;
  }
  if (st != ScanStatus::ok && st != ScanStatus::stopped) return scan_code(st);
  return s.found.found ? 1 : 0;
}

int answer(const Found& f, uint64_t* range) {
  if (!f.found) return 0;
  range[0] = f.begin;
  range[1] = f.end;
  return 1;
}

} // namespace
} // namespace haka::lua

using namespace haka::lua;

extern "C" {

hk_rx_ctx* hk_rx_ctx_new(void* rt) {
  auto* ctx = new (std::nothrow) hk_rx_ctx;
  if (ctx == nullptr) return nullptr;
  const std::size_t flows = rt != nullptr ? static_cast<Runtime*>(rt)->config().max_flows : 0;
  ctx->max_sinks = 2 * flows + kRxSpareSinks;
  ctx->rt = rt;
  if (rt != nullptr) {
    std::lock_guard<std::mutex> g(g_ctx_lock);
    g_ctx_by_rt[rt] = ctx;
  }
  return ctx;
}

void hk_rx_ctx_release(hk_rx_ctx* ctx) { release(ctx); }

hk_rx* hk_rx_compile(hk_rx_ctx* ctx, const char* pattern, size_t len, uint32_t flags, char* err, size_t cap) {
  const std::string_view p(pattern, len);
  haka::match::CompileError ce;
  std::shared_ptr<const Database> db = Database::compile_regexp(p, flags, ce);
  const char* why = nullptr;
  Scanner* scanner = db != nullptr ? scanner_for(*ctx, *db, why) : nullptr;
  if (scanner == nullptr) {
    const std::string& msg = db == nullptr ? ce.message : std::string(why);
    std::snprintf(err, cap, "invalid regexp \"%.*s\": %s", static_cast<int>(len), pattern, msg.c_str());
    return nullptr;
  }
  auto* rx = new (std::nothrow) hk_rx;
  if (rx == nullptr) {
    std::snprintf(err, cap, "memory error");
    return nullptr;
  }
  rx->db = std::move(db);
  rx->ctx = ctx;
  rx->scanner = scanner;
  ++ctx->refs;
  return rx;
}

void hk_rx_free(hk_rx* rx) {
  hk_rx_ctx* ctx = rx->ctx;
  delete rx;
  release(ctx);
}

uint32_t hk_rx_max_width(const hk_rx* rx) { return rx->db->info(0).max_width; }

int hk_rx_exact_begin(const hk_rx* rx) { return rx->db->info(0).exact_begin ? 1 : 0; }

int hk_rx_match(const hk_rx* rx, const uint8_t* data, size_t len, uint64_t* range) {
  ScanStatus st = ScanStatus::ok;
  const std::span<const uint8_t> bytes = data != nullptr ? std::span<const uint8_t>(data, len) : nothing();
  const Found f = haka::match::match(*rx->db, *rx->scanner, bytes, &st);
  if (st != ScanStatus::ok) return scan_code(st);
  return answer(f, range);
}

int hk_rx_match_sub(const hk_rx* rx, const hk_sub* b, uint64_t* range) {
  const haka::vbuffer::Sub sub = load_sub(b);
  // One run of bytes (the usual case: a payload in one chunk): block mode.
  std::span<const uint8_t> only;
  int pieces = 0;
  haka::vbuffer::Error e = for_each_piece(sub, [&](std::span<const uint8_t> p) {
    if (pieces++ == 0) only = p;
  });
  if (e != haka::vbuffer::Error::ok) return buffer_code(e);
  if (pieces <= 1) return hk_rx_match(rx, only.data(), only.size(), range);
  // Several: one stream scan over all of them, keeping the leftmost-longest
  // match of the whole sub, as block mode does on one string.
  StreamScanner stream;
  FoundKeeper keep;
  ScanStatus st = ScanStatus::ok;
  e = for_each_piece(sub, [&](std::span<const uint8_t> p) {
    if (st == ScanStatus::ok) st = stream.scan(*rx->db, *rx->scanner, p, keep);
  });
  if (st == ScanStatus::ok) st = stream.close(*rx->db, *rx->scanner, keep);
  stream.discard(*rx->scanner);
  if (e != haka::vbuffer::Error::ok) return buffer_code(e);
  if (st != ScanStatus::ok && st != ScanStatus::stopped) return scan_code(st);
  return answer(keep.best, range);
}

hk_rx_sink* hk_rx_sink_new(const hk_rx* rx) {
  hk_rx_ctx* ctx = rx->ctx;
  hk_rx_sink* s = ctx->free_sinks;
  if (s != nullptr) {
    ctx->free_sinks = s->next_free;
  } else {
    s = new (std::nothrow) hk_rx_sink; // warm-up only: freed sinks are reused
    if (s == nullptr) return nullptr;
  }
  s->db = rx->db;
  s->ctx = ctx;
  s->scanner = rx->scanner;
  s->stream = StreamScanner{};
  s->found = Found{};
  s->fed = 0;
  s->done = false;
  s->next_free = nullptr;
  ++ctx->refs;
  return s;
}

void hk_rx_sink_free(hk_rx_sink* s) {
  if (s == nullptr) return;
  s->stream.discard(*s->scanner);
  s->db.reset();
  hk_rx_ctx* ctx = s->ctx;
  s->ctx = nullptr;
  s->next_free = ctx->free_sinks;
  ctx->free_sinks = s;
  release(ctx); // if last: the context frees its free sinks, this one too
}

int hk_rx_sink_feed(hk_rx_sink* s, const uint8_t* data, size_t len, int eof) {
  return feed(
      *s,
      [&](auto&& fn) {
        fn(std::span<const uint8_t>(data, len));
        return haka::vbuffer::Error::ok;
      },
      eof != 0);
}

int hk_rx_sink_feed_sub(hk_rx_sink* s, const hk_sub* b, int eof) {
  const haka::vbuffer::Sub sub = load_sub(b);
  return feed(*s, [&](auto&& fn) { return for_each_piece(sub, fn); }, eof != 0);
}

int hk_rx_sink_result(const hk_rx_sink* s, uint64_t* range) { return answer(s->found, range); }

uint64_t hk_rx_sink_fed(const hk_rx_sink* s) { return s->fed; }

const char* hk_rx_message(int rc) {
  if (rc == kRxNoSink) return "memory error: no regexp sink";
  if (rc <= kRxBufferError) return haka::vbuffer::message(static_cast<haka::vbuffer::Error>(kRxBufferError - rc));
  if (rc <= kRxScanError) return haka::match::message(static_cast<ScanStatus>(kRxScanError - rc));
  return "unknown regexp error";
}

const char* hk_rx_cdef(void) { return HK_ABI_STR(HK_RX_DECLS); }

} // extern "C"

namespace haka::lua {

match::MatchCounters regexp_counters(const Runtime* rt) {
  match::MatchCounters sum;
  std::lock_guard<std::mutex> g(g_ctx_lock);
  auto it = g_ctx_by_rt.find(rt);
  if (it == g_ctx_by_rt.end()) return sum;
  for (const auto& s : it->second->scanners)
    if (s) sum += s->counters();
  return sum;
}

} // namespace haka::lua
