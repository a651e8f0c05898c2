// Reading and writing the IP and TCP header fields of a decoded packet, and
// its TCP checksum: what the Lua packet object (TcpDissector) reaches.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

namespace haka::lua {

/// Reads field `field` (abi.hpp PacketField) of a decoded TCP packet; 0 or an
/// AbiError. Reads go through rte_pktmbuf_read: never past the packet.
int packet_get(const rte_mbuf* m, int field, int64_t& out);

/// Writes a field in place (the header must sit in the first segment) and
/// mirrors it in the packet's metadata; 0 or an AbiError.
int packet_set(rte_mbuf* m, int field, int64_t value);

/// With `compute`, writes the right TCP checksum and returns true; otherwise
/// returns whether the one in the packet is right.
bool tcp_checksum(rte_mbuf* m, bool compute);

} // namespace haka::lua
