// The C ABI of abi.hpp over the runtime's handle tables and lib/vbuffer.
#include "lua/abi.hpp"

#include <cstring>
#include <span>
#include <type_traits>

#include "lua/packet.hpp"
#include "lua/runtime.hpp"
#include "net/packet_meta.hpp"
#include "vbuffer/vbuffer.hpp"

namespace haka::lua {

namespace {

using vbuffer::Error;
using vbuffer::Iterator;
using vbuffer::Sub;

// Lua holds iterators and subs as opaque copies: both are plain values whose
// validity is checked by chunk generation, so a stale copy is refused, never
// followed (chunk nodes stay in the pool's slab for the pool's lifetime).
static_assert(std::is_trivially_copyable_v<Iterator> && sizeof(Iterator) <= sizeof(hk_iter));
static_assert(std::is_trivially_copyable_v<Sub> && sizeof(Sub) <= sizeof(hk_sub));

Iterator load(const hk_iter* b) {
  Iterator it;
  std::memcpy(static_cast<void*>(&it), b, sizeof it);
  return it;
}
void store(hk_iter* b, const Iterator& it) {
  std::memset(b, 0, sizeof *b);
  std::memcpy(b, static_cast<const void*>(&it), sizeof it);
}
Sub load(const hk_sub* b) {
  Sub s;
  std::memcpy(static_cast<void*>(&s), b, sizeof s);
  return s;
}
void store(hk_sub* b, const Sub& s) {
  std::memset(b, 0, sizeof *b);
  std::memcpy(b, static_cast<const void*>(&s), sizeof s);
}
int code(Error e) { return static_cast<int>(e); }
Runtime& rt_of(void* rt) { return *static_cast<Runtime*>(rt); }

extern "C" {

const char* hk_error_message(int c) {
  if (c >= 0 && c < static_cast<int>(vbuffer::error_count)) return vbuffer::message(static_cast<Error>(c));
  switch (c) {
  case kStaleFlow: return "connection handle used after the connection ended";
  case kStalePacket: return "packet handle used after the packet left the rule";
  case kStaleBuffer: return "invalid buffer (freed or moved)";
  case kBadField: return "unknown or read-only field";
  case kNoTcp: return "packet has no tcp header";
  case kSegmentedHeader: return "header split across mbuf segments cannot be written";
  case kValueRange: return "value out of range for the field";
  case kNoBufferSlot: return "too many buffers alive";
  case kNoCurrent: return "no stream data in progress";
  case kReadOnlyPacket: return "read only buffer";
  case kNotEstablished: return "connection not established";
  default: return "unknown error";
  }
}

int hk_pkt_get(void* rt, uint32_t slot, uint32_t gen, int field, int64_t* out) {
  Runtime::PacketSlot* p = rt_of(rt).packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  return packet_get(p->m, field, *out);
}

int hk_pkt_set(void* rt, uint32_t slot, uint32_t gen, int field, int64_t value) {
  Runtime::PacketSlot* p = rt_of(rt).packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  if (!p->writable) return kReadOnlyPacket;
  int rc = packet_set(p->m, field, value);
  if (rc == 0) {
    if (field == kChecksum) {
      p->checksum_set = true;
    } else if (field < kIpSrc) {
      p->header_written = true;
      p->checksum_set = false;
    } else {
      p->header_written = true; // addresses are in the pseudo header
      p->checksum_set = false;
    }
  }
  return rc;
}

int hk_pkt_checksum(void* rt, uint32_t slot, uint32_t gen, int compute, int* good) {
  Runtime::PacketSlot* p = rt_of(rt).packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  if (compute) {
    if (!p->writable) return kReadOnlyPacket;
    if (rte_pktmbuf_data_len(p->m) < net::meta(p->m).l4_offset + 20u) return kSegmentedHeader;
    *good = tcp_checksum(p->m, true) ? 1 : 0;
    p->checksum_set = true;
    return 0;
  }
  *good = tcp_checksum(p->m, false) ? 1 : 0;
  return 0;
}

int hk_pkt_action(void* rt, uint32_t slot, uint32_t gen, int action) {
  Runtime& r = rt_of(rt);
  Runtime::PacketSlot* p = r.packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  if (action == 0) p->dropped = true;
  r.host().packet_action(p->m, action == 0 ? PacketAction::drop : PacketAction::send);
  return 0;
}

int hk_pkt_payload(void* rt, uint32_t slot, uint32_t gen, uint32_t* buf_slot, uint32_t* buf_gen) {
  Runtime& r = rt_of(rt);
  Runtime::PacketSlot* p = r.packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  if (r.pool() == nullptr || !r.new_buffer(*buf_slot, *buf_gen)) return kNoBufferSlot;
  const net::PacketMeta& pm = net::meta(p->m);
  vbuffer::Buffer tmp;
  Error e = vbuffer::Buffer::from_mbuf(*r.pool(), p->m, pm.payload_offset, pm.payload_len, tmp);
  if (e != Error::ok) {
    r.free_buffer(*buf_slot, *buf_gen);
    return code(e);
  }
  r.install_buffer(*buf_slot, std::move(tmp));
  return 0;
}

int hk_flow_info(void* rt, uint32_t slot, uint32_t gen, hk_flow_info* out) {
  Runtime::FlowSlot* f = rt_of(rt).flow(slot, gen);
  if (f == nullptr) return kStaleFlow;
  out->srcip = f->info.srcip;
  out->dstip = f->info.dstip;
  out->srcport = f->info.srcport;
  out->dstport = f->info.dstport;
  out->ipv6 = f->info.ipv6 ? 1 : 0;
  std::memcpy(out->src6, f->info.src6, 16);
  std::memcpy(out->dst6, f->info.dst6, 16);
  return 0;
}

int hk_flow_action(void* rt, uint32_t slot, uint32_t gen, int action, int dir) {
  Runtime& r = rt_of(rt);
  Runtime::FlowSlot* f = r.flow(slot, gen);
  if (f == nullptr) return kStaleFlow;
  r.host().flow_action(f->cookie, static_cast<FlowAction>(action), dir >= 0, dir == 1 ? tcp::Dir::down : tcp::Dir::up);
  return 0;
}

int hk_data_current(void* rt, hk_iter* out) {
  const Iterator* it = rt_of(rt).current();
  if (it == nullptr) return kNoCurrent;
  store(out, *it);
  return 0;
}

// The (begin, length) sub of the `len` new bytes of the receive_data in progress.
int hk_data_sub(void* rt, size_t len, hk_sub* out) {
  const Iterator* it = rt_of(rt).current();
  if (it == nullptr) return kNoCurrent;
  if (Error e = it->check(); e != Error::ok) return code(e);
  store(out, Sub::from(*it, len));
  return 0;
}

int hk_iter_available(const hk_iter* b, size_t* n) { return code(load(b).available(*n)); }

int hk_iter_advance(hk_iter* b, size_t n, size_t* done) {
  Iterator it = load(b);
  Error e = it.advance(n, done);
  if (e == Error::ok) store(b, it);
  return code(e);
}

int hk_iter_sub(hk_iter* b, size_t n, int split, hk_sub* out) {
  Iterator it = load(b);
  Sub s;
  Error e = it.sub(n, split != 0, s);
  if (e == Error::ok) {
    store(b, it);
    store(out, s);
  }
  return code(e);
}

int hk_iter_insert(void* rt, hk_iter* b, uint32_t buf_slot, uint32_t buf_gen, hk_sub* out) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(buf_slot, buf_gen);
  if (buf == nullptr) return kStaleBuffer;
  Iterator it = load(b);
  Sub s;
  Error e = it.insert(*buf, &s);
  if (e == Error::ok) {
    store(b, it);
    store(out, s);
  }
  return code(e);
}

int hk_iter_split(hk_iter* b) {
  Iterator it = load(b);
  Error e = it.split();
  if (e == Error::ok) store(b, it);
  return code(e);
}

int hk_iter_mark(hk_iter* b, int readonly) {
  Iterator it = load(b);
  Error e = it.mark(readonly != 0);
  if (e == Error::ok) store(b, it);
  return code(e);
}

int hk_iter_unmark(hk_iter* b) {
  Iterator it = load(b);
  Error e = it.unmark();
  if (e == Error::ok) store(b, it);
  return code(e);
}

int hk_iter_state(const hk_iter* b, int* eof, int* end) {
  Iterator it = load(b);
  bool f = false, d = false;
  Error e = it.is_eof(f);
  if (e == Error::ok) e = it.is_end(d);
  *eof = f ? 1 : 0;
  *end = d ? 1 : 0;
  return code(e);
}

int hk_iter_byte(const hk_iter* b, uint8_t* out) { return code(load(b).get_byte(*out)); }

uint64_t hk_iter_meter(const hk_iter* b) { return load(b).meter(); }

void hk_iter_set_meter(hk_iter* b, uint64_t m) {
  Iterator it = load(b);
  it.set_meter(m);
  store(b, it);
}

int hk_sub_size(const hk_sub* b, size_t* n) { return code(load(b).size(*n)); }

int hk_sub_read(const hk_sub* b, uint8_t* dst, size_t cap, size_t* n) {
  return code(load(b).read(std::span<uint8_t>(dst, cap), *n));
}

int hk_sub_write(hk_sub* b, const uint8_t* src, size_t len, size_t* n) {
  Sub s = load(b);
  return code(s.write(std::span<const uint8_t>(src, len), n));
}

int hk_sub_get_byte(const hk_sub* b, size_t i, uint8_t* out) { return code(load(b).get_byte(i, *out)); }

int hk_sub_set_byte(hk_sub* b, size_t i, uint8_t v) {
  Sub s = load(b);
  return code(s.set_byte(i, v));
}

int hk_sub_number(const hk_sub* b, int big_endian, int64_t* v) { return code(load(b).as_number(big_endian != 0, *v)); }

int hk_sub_set_number(hk_sub* b, int big_endian, int64_t v) {
  Sub s = load(b);
  return code(s.set_number(big_endian != 0, v));
}

int hk_sub_bits(const hk_sub* b, size_t off, size_t bits, int big_endian, int64_t* v) {
  return code(load(b).as_bits(off, bits, big_endian != 0, *v));
}

int hk_sub_set_bits(hk_sub* b, size_t off, size_t bits, int big_endian, int64_t v) {
  Sub s = load(b);
  return code(s.set_bits(off, bits, big_endian != 0, v));
}

int hk_sub_zero(hk_sub* b) {
  Sub s = load(b);
  return code(s.zero());
}

int hk_sub_erase(hk_sub* b) {
  Sub s = load(b);
  Error e = s.erase();
  if (e == Error::ok) store(b, s);
  return code(e);
}

int hk_sub_replace(void* rt, hk_sub* b, uint32_t buf_slot, uint32_t buf_gen) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(buf_slot, buf_gen);
  if (buf == nullptr) return kStaleBuffer;
  Sub s = load(b);
  Error e = s.replace(*buf);
  if (e == Error::ok) store(b, s);
  return code(e);
}

int hk_sub_set_string(hk_sub* b, const uint8_t* src, size_t len) {
  Sub s = load(b);
  Error e = s.set_string(std::span<const uint8_t>(src, len));
  if (e == Error::ok) store(b, s);
  return code(e);
}

int hk_sub_is_flat(const hk_sub* b, int* flat) {
  bool f = false;
  Error e = load(b).is_flat(f);
  *flat = f ? 1 : 0;
  return code(e);
}

int hk_sub_sub(const hk_sub* b, size_t off, size_t len, hk_sub* out) {
  Sub whole = load(b);
  std::size_t size = 0;
  if (Error e = whole.size(size); e != Error::ok) return code(e);
  if (off > size || (len != vbuffer::all && len > size - off)) return code(Error::out_of_range);
  Sub s;
  Error e = whole.sub(off, len, s);
  if (e == Error::ok) store(out, s);
  return code(e);
}

int hk_sub_position(const hk_sub* b, size_t off, hk_iter* out) {
  Iterator it;
  Error e = load(b).position(off, it);
  if (e == Error::ok) store(out, it);
  return code(e);
}

int hk_sub_clone(void* rt, const hk_sub* b, uint32_t* slot, uint32_t* gen) {
  Runtime& r = rt_of(rt);
  if (!r.new_buffer(*slot, *gen)) return kNoBufferSlot;
  vbuffer::Buffer tmp;
  Error e = load(b).clone(tmp, true);
  if (e != Error::ok) {
    r.free_buffer(*slot, *gen);
    return code(e);
  }
  r.install_buffer(*slot, std::move(tmp));
  return 0;
}

int hk_buf_new(void* rt, const uint8_t* src, size_t len, int zero, uint32_t* slot, uint32_t* gen) {
  Runtime& r = rt_of(rt);
  if (r.pool() == nullptr || !r.new_buffer(*slot, *gen)) return kNoBufferSlot;
  vbuffer::Buffer tmp;
  Error e = src != nullptr ? vbuffer::Buffer::from(*r.pool(), std::span<const uint8_t>(src, len), tmp)
            : len == 0     ? vbuffer::Buffer::create(*r.pool(), tmp)
                           : vbuffer::Buffer::allocate(*r.pool(), len, zero != 0, tmp);
  if (e != Error::ok) {
    r.free_buffer(*slot, *gen);
    return code(e);
  }
  r.install_buffer(*slot, std::move(tmp));
  return 0;
}

void hk_buf_free(void* rt, uint32_t slot, uint32_t gen) { rt_of(rt).free_buffer(slot, gen); }

int hk_buf_sub(void* rt, uint32_t slot, uint32_t gen, size_t off, size_t len, hk_sub* out) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(slot, gen);
  if (buf == nullptr) return kStaleBuffer;
  std::size_t size = buf->size();
  if (off > size || (len != vbuffer::all && len > size - off)) return code(Error::out_of_range);
  store(out, buf->sub(off, len));
  return 0;
}

int hk_buf_position(void* rt, uint32_t slot, uint32_t gen, size_t off, hk_iter* out) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(slot, gen);
  if (buf == nullptr) return kStaleBuffer;
  if (off != vbuffer::all && off > buf->size()) return code(Error::out_of_range);
  store(out, off == vbuffer::all ? buf->end() : buf->position(off));
  return 0;
}

int hk_buf_size(void* rt, uint32_t slot, uint32_t gen, size_t* n) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(slot, gen);
  if (buf == nullptr) return kStaleBuffer;
  *n = buf->size();
  return 0;
}

int hk_buf_append(void* rt, uint32_t slot, uint32_t gen, uint32_t other_slot, uint32_t other_gen) {
  Runtime& r = rt_of(rt);
  vbuffer::Buffer* a = r.buffer(slot, gen);
  vbuffer::Buffer* b = r.buffer(other_slot, other_gen);
  if (a == nullptr || b == nullptr) return kStaleBuffer;
  if (a == b) return code(Error::circular_insert);
  return code(a->append(*b));
}

int hk_buf_modified(void* rt, uint32_t slot, uint32_t gen, int* modified) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(slot, gen);
  if (buf == nullptr) return kStaleBuffer;
  *modified = buf->is_modified() ? 1 : 0;
  return 0;
}

int hk_pkt_addr(void* rt, uint32_t slot, uint32_t gen, int dst, uint8_t* out, int* len) {
  Runtime::PacketSlot* p = rt_of(rt).packet(slot, gen);
  if (p == nullptr) return kStalePacket;
  uint8_t scratch[32];
  const uint8_t* a = net::ip_addresses(p->m, scratch);
  unsigned n = net::ip_address_len(net::meta(p->m));
  if (a == nullptr || n == 0) return kNoTcp;
  std::memcpy(out, a + (dst ? n : 0), n);
  *len = static_cast<int>(n);
  return 0;
}

int hk_sub_select(void* rt, hk_sub* b, hk_iter* ref, uint32_t* slot, uint32_t* gen) {
  Runtime& r = rt_of(rt);
  if (!r.new_buffer(*slot, *gen)) return kNoBufferSlot;
  Sub s = load(b);
  vbuffer::Buffer out;
  Iterator it;
  Error e = s.select(out, it);
  if (e != Error::ok) {
    r.free_buffer(*slot, *gen);
    return code(e);
  }
  r.install_buffer(*slot, std::move(out));
  store(ref, it);
  return 0;
}

int hk_iter_restore(void* rt, hk_iter* b, uint32_t slot, uint32_t gen, int clone) {
  vbuffer::Buffer* buf = rt_of(rt).buffer(slot, gen);
  if (buf == nullptr) return kStaleBuffer;
  Iterator it = load(b);
  Error e = it.restore(buf, clone != 0);
  if (e == Error::ok) store(b, it);
  return code(e);
}

// The host's network time in seconds: an FFI call, so the dispatcher's
// traces read the clock without leaving compiled code (Host::now_ns must not
// re-enter Lua).
double hk_host_now(void* rt) { return static_cast<double>(rt_of(rt).host().now_ns()) / 1e9; }

} // extern "C"

const hk_api kApi = {
    hk_error_message,
    hk_pkt_get,
    hk_pkt_set,
    hk_pkt_checksum,
    hk_pkt_action,
    hk_pkt_payload,
    hk_flow_info,
    hk_flow_action,
    hk_data_current,
    hk_iter_available,
    hk_iter_advance,
    hk_iter_sub,
    hk_iter_insert,
    hk_iter_split,
    hk_iter_mark,
    hk_iter_unmark,
    hk_iter_state,
    hk_iter_byte,
    hk_iter_meter,
    hk_iter_set_meter,
    hk_sub_size,
    hk_sub_read,
    hk_sub_write,
    hk_sub_get_byte,
    hk_sub_set_byte,
    hk_sub_number,
    hk_sub_set_number,
    hk_sub_bits,
    hk_sub_set_bits,
    hk_sub_zero,
    hk_sub_erase,
    hk_sub_replace,
    hk_sub_set_string,
    hk_sub_is_flat,
    hk_sub_sub,
    hk_sub_position,
    hk_sub_clone,
    hk_buf_new,
    hk_buf_free,
    hk_buf_sub,
    hk_buf_position,
    hk_buf_size,
    hk_buf_append,
    hk_buf_modified,
    hk_sub_select,
    hk_iter_restore,
    hk_pkt_addr,
    hk_data_sub,
    hk_host_now,
};

} // namespace

const hk_api* abi_table() { return &kApi; }

} // namespace haka::lua
