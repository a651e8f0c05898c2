-- The C ABI of lib/lua (abi.hpp) through the FFI: the declarations come from
-- the C++ side (one source of truth), the function table and the runtime
-- pointer are handed over by the runtime at boot.
local ffi = require('ffi')

ffi.cdef(__haka_cdef)

local M = {}

M.api = ffi.cast('const hk_api*', __haka_api)
M.rt = ffi.cast('void*', __haka_rt)

-- Field numbers of pkt_get/pkt_set (abi.hpp PacketField).
M.field = {
	srcport = 0, dstport = 1, seq = 2, ack_seq = 3, res = 4, hdr_len = 5, flags = 6,
	window_size = 7, checksum = 8, urgent_pointer = 9,
	ip_src = 10, ip_dst = 11, ip_ttl = 12, ip_proto = 13, ip_id = 14, ip_len = 15,
	ip_hdr_len = 16, ip_checksum = 17, ip_tos = 18, payload_len = 19, ip_version = 20,
	ip_frag = 21,
}

local api = M.api

-- Raises the message of an ABI error code, without a position: the error
-- handler of the dispatch names the rule's file:line.
function M.fail(rc)
	error(ffi.string(api.error_message(rc)), 0)
end

-- The host's network time in seconds (state machine timeouts).
function M.now() return api.host_now(M.rt) end

-- Scratch outputs reused by every call (one VM per worker, no threads).
M.i64 = ffi.new('int64_t[1]')
M.size = ffi.new('size_t[1]')
M.int = ffi.new('int[2]')
M.u8 = ffi.new('uint8_t[1]')
M.u32 = ffi.new('uint32_t[2]')

return M
