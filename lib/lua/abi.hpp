// The C ABI the Lua API (lua/haka/abi.lua) calls through the FFI. The
// declarations are written once, in HK_ABI_DECLS: C++ compiles them and hands
// the same text to ffi.cdef (kAbiCdef), so the two can never disagree.
//
// Every function returns 0 or an error code (hk_error_message gives its
// text); outputs go through pointers. Handles are (slot, generation) pairs
// checked on every call. Functions are reached through the hk_api table of
// pointers (no symbol lookup, so a static link needs no --export-dynamic).
#pragma once

#include <cstddef>
#include <cstdint>

#define HK_ABI_DECLS                                                                                    \
  typedef struct hk_iter { uint64_t w[4]; } hk_iter;                                                    \
  typedef struct hk_sub { uint64_t w[10]; } hk_sub;                                                     \
  typedef struct hk_flow_info {                                                                         \
    uint32_t srcip, dstip; uint16_t srcport, dstport; uint8_t ipv6; uint8_t src6[16], dst6[16];         \
  } hk_flow_info;                                                                                       \
  typedef struct hk_api {                                                                               \
    const char* (*error_message)(int code);                                                            \
    int (*pkt_get)(void* rt, uint32_t slot, uint32_t gen, int field, int64_t* out);                     \
    int (*pkt_set)(void* rt, uint32_t slot, uint32_t gen, int field, int64_t value);                    \
    int (*pkt_checksum)(void* rt, uint32_t slot, uint32_t gen, int compute, int* good);                 \
    int (*pkt_action)(void* rt, uint32_t slot, uint32_t gen, int action);                               \
    int (*pkt_payload)(void* rt, uint32_t slot, uint32_t gen, uint32_t* buf_slot, uint32_t* buf_gen);   \
    int (*flow_info)(void* rt, uint32_t slot, uint32_t gen, hk_flow_info* out);                         \
    int (*flow_action)(void* rt, uint32_t slot, uint32_t gen, int action, int dir);                     \
    int (*data_current)(void* rt, hk_iter* out);                                                        \
    int (*iter_available)(const hk_iter* it, size_t* n);                                                \
    int (*iter_advance)(hk_iter* it, size_t n, size_t* done);                                           \
    int (*iter_sub)(hk_iter* it, size_t n, int split, hk_sub* out);                                     \
    int (*iter_insert)(void* rt, hk_iter* it, uint32_t buf_slot, uint32_t buf_gen, hk_sub* out);        \
    int (*iter_split)(hk_iter* it);                                                                     \
    int (*iter_mark)(hk_iter* it, int readonly);                                                        \
    int (*iter_unmark)(hk_iter* it);                                                                    \
    int (*iter_state)(const hk_iter* it, int* eof, int* end);                                           \
    int (*iter_byte)(const hk_iter* it, uint8_t* b);                                                    \
    uint64_t (*iter_meter)(const hk_iter* it);                                                          \
    void (*iter_set_meter)(hk_iter* it, uint64_t meter);                                                \
    int (*sub_size)(const hk_sub* s, size_t* n);                                                        \
    int (*sub_read)(const hk_sub* s, uint8_t* dst, size_t cap, size_t* n);                              \
    int (*sub_write)(hk_sub* s, const uint8_t* src, size_t len, size_t* n);                             \
    int (*sub_get_byte)(const hk_sub* s, size_t i, uint8_t* b);                                         \
    int (*sub_set_byte)(hk_sub* s, size_t i, uint8_t b);                                                \
    int (*sub_number)(const hk_sub* s, int big_endian, int64_t* v);                                     \
    int (*sub_set_number)(hk_sub* s, int big_endian, int64_t v);                                        \
    int (*sub_bits)(const hk_sub* s, size_t off, size_t bits, int big_endian, int64_t* v);              \
    int (*sub_set_bits)(hk_sub* s, size_t off, size_t bits, int big_endian, int64_t v);                 \
    int (*sub_zero)(hk_sub* s);                                                                         \
    int (*sub_erase)(hk_sub* s);                                                                        \
    int (*sub_replace)(void* rt, hk_sub* s, uint32_t buf_slot, uint32_t buf_gen);                       \
    int (*sub_set_string)(hk_sub* s, const uint8_t* src, size_t len);                                   \
    int (*sub_is_flat)(const hk_sub* s, int* flat);                                                     \
    int (*sub_sub)(const hk_sub* s, size_t off, size_t len, hk_sub* out);                               \
    int (*sub_position)(const hk_sub* s, size_t off, hk_iter* out);                                     \
    int (*sub_clone)(void* rt, const hk_sub* s, uint32_t* buf_slot, uint32_t* buf_gen);                 \
    int (*buf_new)(void* rt, const uint8_t* src, size_t len, int zero, uint32_t* slot, uint32_t* gen);  \
    void (*buf_free)(void* rt, uint32_t slot, uint32_t gen);                                            \
    int (*buf_sub)(void* rt, uint32_t slot, uint32_t gen, size_t off, size_t len, hk_sub* out);         \
    int (*buf_position)(void* rt, uint32_t slot, uint32_t gen, size_t off, hk_iter* out);               \
    int (*buf_size)(void* rt, uint32_t slot, uint32_t gen, size_t* n);                                  \
    int (*buf_append)(void* rt, uint32_t slot, uint32_t gen, uint32_t other_slot, uint32_t other_gen);  \
    int (*buf_modified)(void* rt, uint32_t slot, uint32_t gen, int* modified);                          \
    int (*sub_select)(void* rt, hk_sub* s, hk_iter* ref, uint32_t* buf_slot, uint32_t* buf_gen);         \
    int (*iter_restore)(void* rt, hk_iter* ref, uint32_t buf_slot, uint32_t buf_gen, int clone);         \
    int (*pkt_addr)(void* rt, uint32_t slot, uint32_t gen, int dst, uint8_t* out, int* len);             \
    int (*data_sub)(void* rt, size_t len, hk_sub* out);                                                 \
    double (*host_now)(void* rt);                                                                       \
  } hk_api;

#define HK_ABI_STR2(...) #__VA_ARGS__
#define HK_ABI_STR(...) HK_ABI_STR2(__VA_ARGS__)

extern "C" {
HK_ABI_DECLS
}

namespace haka::lua {

/// The declarations above as text, for ffi.cdef.
inline constexpr const char* kAbiCdef = HK_ABI_STR(HK_ABI_DECLS);

/// The table of ABI functions (one, shared by every runtime: they get the
/// runtime as their first argument).
const hk_api* abi_table();

/// Error codes beyond vbuffer::Error (which keep their values, 0 = ok).
enum AbiError : int {
  kStaleFlow = 100,   // flow handle of an ended connection
  kStalePacket,       // packet handle of a packet no longer lent
  kStaleBuffer,       // buffer freed or never made
  kBadField,          // unknown field number
  kNoTcp,             // packet without TCP header
  kSegmentedHeader,   // header not contiguous in the first mbuf segment: writes refused
  kValueRange,        // value does not fit the field
  kNoBufferSlot,      // every buffer slot is taken
  kNoCurrent,         // no receive_data in progress
  kReadOnlyPacket,    // write on a pass-through packet
  kNotEstablished,    // reset() on a connection not established (unused by the runtime itself)
};

/// Field numbers of pkt_get / pkt_set (lua/haka/abi.lua repeats them).
enum PacketField : int {
  kSrcPort = 0, kDstPort, kSeq, kAck, kRes, kHdrLen, kFlags, kWindow, kChecksum, kUrgent,
  kIpSrc, kIpDst, kIpTtl, kIpProto, kIpId, kIpLen, kIpHdrLen, kIpChecksum, kIpTos, kPayloadLen,
  kIpVersion, kIpFragOff, kFieldCount
};

} // namespace haka::lua
