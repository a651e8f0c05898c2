-- tcp: the packet dissector (TcpDissector): header fields read and written
-- in the packet through the FFI, checksums, drop/send.
local abi = require('haka.abi')
local bit = require('bit')
local ipv4 = require('protocol/ipv4')
local ipv6 = require('protocol/ipv6')
local ffi = require('ffi')
local ADDR = ffi.new('uint8_t[16]')
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

-- The packet's source (0) or destination (1): ipv4.addr or ipv6.addr.
local function address(p, which)
	local rc = api.pkt_addr(rt, p._slot, p._gen, which, ADDR, INT)
	if rc ~= 0 then fail(rc) end
	if INT[0] == 16 then return ipv6.addr(ffi.string(ADDR, 16)) end
	return ipv4.addr.new(ADDR[0] * 16777216 + ADDR[1] * 65536 + ADDR[2] * 256 + ADDR[3])
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
	src = function (self) return address(self, 0) end,
	dst = function (self) return address(self, 1) end,
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
	if ipv4.fields[k] ~= nil then return ipv4.layer(self)[k] end
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
	-- Not a tail call: a trace started here could not return through it.
	local p = setmetatable({ _slot = slot, _gen = gen }, Packet)
	return p
end

function tcp.ispacket(p) return getmetatable(p) == Packet end

-- Forged TCP packets: tcp.create(forged_ip) gives a header whose fields are
-- plain values and an empty payload vbuffer; inject() builds the frame
-- (checksums computed) and hands it to the engine.
local Forged = {}
local forged_fields = { srcport = 0, dstport = 0, seq = 0, ack_seq = 0, window_size = 0, flags = 0 }
local FFlags = {}
FFlags.__index = function (self, k)
	local f = rawget(self, '_f')
	if k == 'all' then return f.flags end
	local b = FLAG[k]
	if b == nil then error("unknown tcp flag '" .. tostring(k) .. "'", 2) end
	return bit.band(f.flags, b) ~= 0
end
FFlags.__newindex = function (self, k, v)
	local f = rawget(self, '_f')
	if k == 'all' then f.flags = v return end
	local b = FLAG[k]
	if b == nil then error("unknown tcp flag '" .. tostring(k) .. "'", 2) end
	f.flags = v and bit.bor(f.flags, b) or bit.band(f.flags, bit.bnot(b))
end

local forged_methods = {}
function forged_methods.inject(self)
	local f = rawget(self, '_f')
	local ip = rawget(self, '_ip')
	local payload = rawget(self, '_payload')
	local ok, err = __haka_inject {
		src = ip.src.packed, dst = ip.dst.packed, ttl = ip.ttl, id = ip.id,
		srcport = f.srcport, dstport = f.dstport, seq = f.seq, ack = f.ack_seq,
		flags = f.flags, window = f.window_size,
		payload_slot = payload.slot, payload_gen = payload.gen,
	}
	if not ok then error(err, 2) end
end
forged_methods.send = forged_methods.inject
function forged_methods.verify_checksum() return true end
function forged_methods.compute_checksum() end

Forged.__index = function (self, k)
	local f = rawget(self, '_f')
	if k == 'flags' then return setmetatable({ _f = f }, FFlags) end
	local v = f[k]
	if v ~= nil then return v end
	if k == 'payload' then return rawget(self, '_payload') end
	if k == 'ip' then return rawget(self, '_ip') end
	if k == 'name' then return 'tcp' end
	local m = forged_methods[k]
	if m ~= nil then return m end
	return rawget(self, '_ip')[k]
end
Forged.__newindex = function (self, k, v)
	local f = rawget(self, '_f')
	if k == 'flags' and type(v) == 'number' then f.flags = v return end
	if f[k] ~= nil then
		if type(v) ~= 'number' then error("number expected for tcp field " .. k, 2) end
		f[k] = v
		return
	end
	rawget(self, '_ip')[k] = v
end

function tcp.create(ip)
	if not ipv4.isforged(ip) then error("tcp.create expects a packet from ipv4.create()", 2) end
	local f = {}
	for k, v in pairs(forged_fields) do f[k] = v end
	return setmetatable({ _f = f, _ip = ip, _payload = vbuffer.allocate(0) }, Forged)
end

haka.dissectors.tcp = tcp
return tcp
