-- ipv4: addresses, networks, and the IPv4 layer of a packet.
local abi = require('haka.abi')
local bit = require('bit')

local api, rt, fail, I64, F = abi.api, abi.rt, abi.fail, abi.i64, abi.field

local ipv4 = { name = 'ipv4' }

-- ipv4.addr: a 32-bit address (host order number in .packed).
local Addr = {}
Addr.__index = Addr
Addr.__tostring = function (a)
	local v = a.packed
	return string.format("%d.%d.%d.%d", math.floor(v / 16777216) % 256, math.floor(v / 65536) % 256,
		math.floor(v / 256) % 256, v % 256)
end
Addr.__eq = function (a, b) return a.packed == b.packed end
Addr.__lt = function (a, b) return a.packed < b.packed end
Addr.__le = function (a, b) return a.packed <= b.packed end

local function parse(s)
	local a, b, c, d = s:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
	if a == nil then return nil end
	a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
	if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
	return ((a * 256 + b) * 256 + c) * 256 + d
end

local function new_addr(v)
	return setmetatable({ packed = v }, Addr)
end

ipv4.addr = setmetatable({ new = new_addr }, {
	__call = function (_, a, b, c, d)
		if type(a) == 'string' then
			local v = parse(a)
			if v == nil then error("invalid IPv4 address: " .. a, 2) end
			return new_addr(v)
		elseif type(a) == 'number' and b ~= nil then
			return new_addr(((a * 256 + b) * 256 + c) * 256 + d)
		elseif type(a) == 'number' then
			if a < 0 or a > 4294967295 then error("invalid IPv4 address", 2) end
			return new_addr(a)
		elseif getmetatable(a) == Addr then
			return new_addr(a.packed)
		end
		error("invalid IPv4 address", 2)
	end,
})

function ipv4.isaddr(a) return getmetatable(a) == Addr end

-- ipv4.network: address and prefix length.
local Network = {}
Network.__index = Network
Network.__tostring = function (n) return string.format("%s/%d", tostring(n.net), n.mask) end

local function mask_of(len)
	if len == 0 then return 0 end
	return 4294967296 - 2 ^ (32 - len)
end

function Network.contains(self, a)
	if getmetatable(a) ~= Addr then error("network:contains expects an ipv4.addr", 2) end
	local m = mask_of(self.mask)
	return bit.band(a.packed, m) == bit.band(self.net.packed, m)
end

ipv4.network = setmetatable({}, {
	__call = function (_, a, len)
		local addr
		if type(a) == 'string' then
			local s, l = a:match('^([%d%.]+)/(%d+)$')
			if s == nil then error("invalid IPv4 network: " .. a, 2) end
			addr, len = ipv4.addr(s), tonumber(l)
		else
			addr = ipv4.addr(a)
		end
		if len == nil or len < 0 or len > 32 then error("invalid IPv4 network mask", 2) end
		local m = mask_of(len)
		local base = bit.band(addr.packed, m)
		if base < 0 then base = base + 4294967296 end
		return setmetatable({ net = new_addr(base), mask = len }, Network)
	end,
})

-- The IPv4 layer of a packet: fields read from the packet, writes checked there.
local Layer = {}
local fields = {
	src = F.ip_src, dst = F.ip_dst, ttl = F.ip_ttl, proto = F.ip_proto, id = F.ip_id,
	len = F.ip_len, hdr_len = F.ip_hdr_len, checksum = F.ip_checksum, tos = F.ip_tos,
	version = F.ip_version, frag_offset = F.ip_frag,
}

local function get(p, f)
	local rc = api.pkt_get(rt, p._slot, p._gen, f, I64)
	if rc ~= 0 then fail(rc) end
	return tonumber(I64[0])
end

Layer.__index = function (self, k)
	local f = fields[k]
	if f ~= nil then
		local v = get(self._p, f)
		if k == 'src' or k == 'dst' then return new_addr(v) end
		if k == 'frag_offset' then return bit.band(v, 0x1fff) * 8 end
		return v
	end
	if k == 'name' then return 'ipv4' end
	error("unknown field '" .. tostring(k) .. "' of ipv4", 2)
end

Layer.__newindex = function (self, k, v)
	local f = fields[k]
	if f == nil then error("unknown field '" .. tostring(k) .. "' of ipv4", 2) end
	if getmetatable(v) == Addr then v = v.packed end
	local rc = api.pkt_set(rt, self._p._slot, self._p._gen, f, v)
	if rc ~= 0 then fail(rc) end
end

function ipv4.layer(pkt)
	return setmetatable({ _p = pkt }, Layer)
end

-- Fields of the IPv4 layer, for upper layers that expose them too (pkt.ttl).
ipv4.fields = fields

-- Forging: haka.dissectors.packet.create(), then ipv4.create(raw): a new
-- IPv4 header whose fields are plain values until tcp.create(ip):inject().
local Forged = {}
local forged_defaults = { src = 0, dst = 0, ttl = 64, id = 0, tos = 0, proto = 6 }
Forged.__index = function (self, k)
	local v = rawget(self, '_f')[k]
	if v == nil then
		if k == 'name' then return 'ipv4' end
		error("unknown field '" .. tostring(k) .. "' of ipv4", 2)
	end
	if k == 'src' or k == 'dst' then return new_addr(v) end
	return v
end
Forged.__newindex = function (self, k, v)
	local f = rawget(self, '_f')
	if f[k] == nil or k == 'proto' then error("unknown or read-only field '" .. tostring(k) .. "' of ipv4", 2) end
	if getmetatable(v) == Addr then v = v.packed end
	if type(v) ~= 'number' then error("number expected for ipv4 field " .. k, 2) end
	f[k] = v
end

function ipv4.create(raw)
	if type(raw) ~= 'table' or rawget(raw, '_raw') == nil then error("ipv4.create expects a packet from haka.dissectors.packet.create()", 2) end
	local f = {}
	for k, v in pairs(forged_defaults) do f[k] = v end
	return setmetatable({ _f = f }, Forged)
end

function ipv4.isforged(ip) return getmetatable(ip) == Forged end

haka.dissectors.packet = {
	name = 'packet',
	create = function () return { _raw = true } end,
}

ipv4.events = {}
haka.dissectors.ipv4 = ipv4
_G.ipv4 = ipv4

return ipv4
