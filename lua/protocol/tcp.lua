-- tcp: the packet dissector (TcpDissector): header fields read and written
-- in the packet through the FFI, checksums, drop/send.
local abi = require('haka.abi')
local bit = require('bit')
local ipv4 = require('protocol/ipv4')
local vbuffer = require('haka.vbuffer')

local api, rt, fail, I64, INT, U32, F = abi.api, abi.rt, abi.fail, abi.i64, abi.int, abi.u32, abi.field

local tcp = { name = 'tcp' }

tcp.events = {
	receive_packet = haka.event.new('tcp:receive_packet', 0),
	send_packet = haka.event.new('tcp:send_packet', 1),
}

local FLAG = { fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20, ecn = 0x40, cwr = 0x80 }

local function get(p, f)
	local rc = api.pkt_get(rt, p._slot, p._gen, f, I64)
	if rc ~= 0 then fail(rc) end
	return tonumber(I64[0])
end

local function set(p, f, v)
	if type(v) ~= 'number' then error("number expected for a tcp field", 3) end
	local rc = api.pkt_set(rt, p._slot, p._gen, f, v)
	if rc ~= 0 then fail(rc) end
end

-- pkt.flags: each flag as a boolean, .all as the byte.
local Flags = {}
Flags.__index = function (self, k)
	if k == 'all' then return get(self._p, F.flags) end
	local b = FLAG[k]
	if b == nil then error("unknown tcp flag '" .. tostring(k) .. "'", 2) end
	return bit.band(get(self._p, F.flags), b) ~= 0
end
Flags.__newindex = function (self, k, v)
	if k == 'all' then return set(self._p, F.flags, v) end
	local b = FLAG[k]
	if b == nil then error("unknown tcp flag '" .. tostring(k) .. "'", 2) end
	local cur = get(self._p, F.flags)
	set(self._p, F.flags, v and bit.bor(cur, b) or bit.band(cur, bit.bnot(b)))
end

local Packet = {}
local methods = {}
local fields = {
	srcport = F.srcport, dstport = F.dstport, seq = F.seq, ack_seq = F.ack_seq, res = F.res,
	hdr_len = F.hdr_len, window_size = F.window_size, checksum = F.checksum,
	urgent_pointer = F.urgent_pointer,
}

function methods.verify_checksum(self)
	local rc = api.pkt_checksum(rt, self._slot, self._gen, 0, INT)
	if rc ~= 0 then fail(rc) end
	return INT[0] ~= 0
end

function methods.compute_checksum(self)
	local rc = api.pkt_checksum(rt, self._slot, self._gen, 1, INT)
	if rc ~= 0 then fail(rc) end
end

function methods.drop(self)
	local rc = __haka_pkt_action(self._slot, self._gen, 0)
	if rc ~= 0 then fail(rc) end
	rawset(self, '_dropped', true)
end

function methods.send(self)
	local rc = __haka_pkt_action(self._slot, self._gen, 1)
	if rc ~= 0 then fail(rc) end
end

function methods.inject()
	error("inject() of forged packets is not supported by this runtime", 2)
end

function methods.continue(self)
	if rawget(self, '_dropped') then haka.abort() end
end

local getters = {
	flags = function (self) return setmetatable({ _p = self }, Flags) end,
	ip = function (self) return ipv4.layer(self) end,
	src = function (self) return ipv4.addr.new(get(self, F.ip_src)) end,
	dst = function (self) return ipv4.addr.new(get(self, F.ip_dst)) end,
	len = function (self) return get(self, F.ip_len) - get(self, F.ip_hdr_len) end,
	payload = function (self)
		local rc = api.pkt_payload(rt, self._slot, self._gen, U32, U32 + 1)
		if rc ~= 0 then fail(rc) end
		return vbuffer.wrap(U32[0], U32[1])
	end,
	name = function () return 'tcp' end,
}

Packet.__index = function (self, k)
	local f = fields[k]
	if f ~= nil then return get(self, f) end
	local m = methods[k]
	if m ~= nil then return m end
	local g = getters[k]
	if g ~= nil then return g(self) end
	error("unknown field '" .. tostring(k) .. "' of tcp", 2)
end

Packet.__newindex = function (self, k, v)
	local f = fields[k]
	if f ~= nil then return set(self, f, v) end
	if k == 'flags' and type(v) == 'number' then return set(self, F.flags, v) end
	error("unknown or read-only field '" .. tostring(k) .. "' of tcp", 2)
end

Packet.__tostring = function () return 'tcp packet' end

function tcp.packet(slot, gen)
	return setmetatable({ _slot = slot, _gen = gen }, Packet)
end

function tcp.ispacket(p) return getmetatable(p) == Packet end

haka.dissectors.tcp = tcp
return tcp
