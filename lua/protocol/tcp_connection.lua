-- tcp_connection: the stateful TCP dissector (TcpConnectionDissector) as rules
-- see it: events, policies, flow objects. The state machine and the streams
-- are the engine's (lib/tcp, lib/vbuffer); this module is its Lua face.
local abi = require('haka.abi')
local ffi = require('ffi')
local ipv4 = require('protocol/ipv4')
require('protocol/tcp')

local api, rt, fail = abi.api, abi.rt, abi.fail

local tcp_connection = { name = 'tcp_connection' }

tcp_connection.events = {
	new_connection = haka.event.new('tcp_connection:new_connection', 2),
	receive_packet = haka.event.new('tcp_connection:receive_packet', 3),
	receive_data = haka.event.new('tcp_connection:receive_data', 4, true),
	end_connection = haka.event.new('tcp_connection:end_connection', 5),
}

-- Policies, with tcp_connection's defaults (alert + drop; new_connection:
-- no entry, i.e. accept). Haka crashed on unexpected_packet's alert and never
-- applied invalid_handshake: both alert and drop here (HAKA_SEMANTICS §7.9).
local policies = {
	no_connection_found = haka.policy.new("no connection found for tcp packet"),
	unexpected_packet = haka.policy.new("unexpected tcp packet"),
	invalid_handshake = haka.policy.new("invalid tcp handshake"),
	new_connection = haka.policy.new("new connection"),
}
tcp_connection.policies = policies

haka.policy {
	on = policies.no_connection_found,
	name = "default action",
	action = { haka.policy.alert { severity = 'low' }, haka.policy.drop },
}
haka.policy {
	on = policies.unexpected_packet,
	name = "default action",
	action = { haka.policy.alert(), haka.policy.drop },
}
haka.policy {
	on = policies.invalid_handshake,
	name = "default action",
	action = { haka.policy.alert(), haka.policy.drop },
}

-- Flow objects: a handle (slot, generation) checked on every use.
local info = ffi.new('hk_flow_info')
local ACTION = { drop = 0, reset = 1, halfreset = 2, send = 3 }

local Flow = {}
local methods = {}

local function live_info(self)
	local rc = api.flow_info(rt, rawget(self, '_slot'), rawget(self, '_gen'), info)
	if rc ~= 0 then fail(rc) end
	return info
end

local function action(self, name, dir)
	local d = -1
	if dir == 'up' then d = 0 elseif dir == 'down' then d = 1
	elseif dir ~= nil then error("invalid direction: " .. tostring(dir), 3) end
	local rc = __haka_flow_action(rawget(self, '_slot'), rawget(self, '_gen'), ACTION[name], d)
	if rc ~= 0 then fail(rc) end
	if name ~= 'send' then rawget(self, '_state').dropped = true end
end

function methods.drop(self) action(self, 'drop') end
function methods.reset(self) action(self, 'reset') end
function methods.halfreset(self) action(self, 'halfreset') end
function methods.send(self, dir) action(self, 'send', dir) end
function methods.continue(self)
	if rawget(self, '_state').dropped then haka.abort() end
end
function methods.isdropped(self) return rawget(self, '_state').dropped end

local attrs = {
	srcip = function (i) return ipv4.addr.new(i.srcip) end,
	dstip = function (i) return ipv4.addr.new(i.dstip) end,
	srcport = function (i) return i.srcport end,
	dstport = function (i) return i.dstport end,
}

Flow.__index = function (self, k)
	local i = live_info(self)
	local a = attrs[k]
	if a ~= nil then return a(i) end
	local m = methods[k]
	if m ~= nil then return m end
	if k == 'name' then return 'tcp_connection' end
	return rawget(self, '_data')[k]
end

Flow.__newindex = function (self, k, v)
	live_info(self)
	if attrs[k] ~= nil or methods[k] ~= nil then error("read-only field '" .. tostring(k) .. "' of tcp_connection", 2) end
	rawget(self, '_data')[k] = v
end

Flow.__tostring = function (self)
	local ok, i = pcall(live_info, self)
	if not ok then return 'tcp_connection (ended)' end
	return string.format("tcp_connection %s:%d -> %s:%d", tostring(ipv4.addr.new(i.srcip)), i.srcport,
		tostring(ipv4.addr.new(i.dstip)), i.dstport)
end

function tcp_connection.flow(slot, gen, state)
	return setmetatable({ _slot = slot, _gen = gen, _state = state, _data = {} }, Flow)
end

function tcp_connection.isflow(f) return getmetatable(f) == Flow end

tcp_connection.helper = {}

haka.dissectors.tcp_connection = tcp_connection
return tcp_connection
