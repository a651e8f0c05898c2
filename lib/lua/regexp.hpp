// The C functions behind Haka's regexp API (lua/regexp/pcre.lua), reached
// through ffi.C: they are exported from the executable (export_dynamic in
// app/meson.build), and lib/meson.build makes every user of haka_dep link
// this object (-Wl,--undefined=hk_rx_cdef).
//
// The declarations are written once, in HK_RX_DECLS: C++ compiles them and
// hk_rx_cdef() hands the same text to ffi.cdef (after the runtime's own
// declarations, which define hk_sub). Results: >= 0 is an answer (1 found, 0
// not), < 0 an error whose text is hk_rx_message(rc).
//
// Each Lua VM (one per worker) loads the module once and gets a context
// (hk_rx_ctx_new(runtime), sized by the runtime's max_flows): its match::Scanner per stream-state size class, created
// by the first compile that needs it (at load time in practice, when rule
// files compile their patterns, on whatever thread builds the runtime), then
// used by the worker running the VM. Compiling allocates; matching does not
// (sinks come from the context's free list once warmed up, stream states
// from the scanner's slab).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lua/abi.hpp"
#include "match/counters.hpp"

#define HK_RX_DECLS                                                                               \
  typedef struct hk_rx hk_rx;                                                                     \
  typedef struct hk_rx_sink hk_rx_sink;                                                           \
  typedef struct hk_rx_ctx hk_rx_ctx;                                                             \
  hk_rx_ctx* hk_rx_ctx_new(void* rt);                                                             \
  void hk_rx_ctx_release(hk_rx_ctx* ctx);                                                         \
  hk_rx* hk_rx_compile(hk_rx_ctx* ctx, const char* pattern, size_t len, uint32_t flags, char* err, \
                       size_t cap);                                                               \
  void hk_rx_free(hk_rx* rx);                                                                     \
  uint32_t hk_rx_max_width(const hk_rx* rx);                                                      \
  int hk_rx_exact_begin(const hk_rx* rx);                                                         \
  int hk_rx_match(const hk_rx* rx, const uint8_t* data, size_t len, uint64_t* range);             \
  int hk_rx_match_sub(const hk_rx* rx, const hk_sub* sub, uint64_t* range);                       \
  hk_rx_sink* hk_rx_sink_new(const hk_rx* rx);                                                    \
  void hk_rx_sink_free(hk_rx_sink* sink);                                                         \
  int hk_rx_sink_feed(hk_rx_sink* sink, const uint8_t* data, size_t len, int eof);                \
  int hk_rx_sink_feed_sub(hk_rx_sink* sink, const hk_sub* sub, int eof);                          \
  int hk_rx_sink_result(const hk_rx_sink* sink, uint64_t* range);                                 \
  uint64_t hk_rx_sink_fed(const hk_rx_sink* sink);                                                \
  const char* hk_rx_message(int rc);

extern "C" {
HK_RX_DECLS
/// HK_RX_DECLS as text, for ffi.cdef (declared apart: Lua declares it first).
const char* hk_rx_cdef(void);
}

namespace haka::lua {

/// Error codes of the hk_rx functions (negative; vbuffer errors are
/// kRxBufferError - vbuffer::Error, scan outcomes kRxScanError - ScanStatus).
enum RxError : int {
  kRxNoSink = -1,         // no memory for a sink (free list empty and malloc failed)
  kRxScanError = -100,    // - ScanStatus
  kRxBufferError = -1000, // - vbuffer::Error
};

/// Stream states of one size class a VM may hold at once (a sink, or a
/// re:match(iter) waiting for bytes, holds one): one per direction of every
/// connection the runtime tracks (RuntimeConfig::max_flows) plus
/// kRxSpareSinks, within kRxClassBudget bytes of slots per class (at least
/// kRxMinSinks). Past that, opening one more raises "memory error: stream
/// state slab exhausted" in the rule (a rule error: its connection is dropped).
inline constexpr std::size_t kRxSpareSinks = 256;
inline constexpr std::size_t kRxMinSinks = 16;
inline constexpr std::size_t kRxClassBudget = std::size_t{64} << 20;

class Runtime;
/// What the regexp API of `rt`'s VM scanned and matched (zero when the rules
/// use no regexp): for the reports, once the worker stopped.
match::MatchCounters regexp_counters(const Runtime* rt);

} // namespace haka::lua
