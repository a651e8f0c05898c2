-- tcp_connection: the stateful TCP dissector (TcpConnectionDissector) as rules
-- see it: events, policies, flow objects. The state machine and the streams
-- are the engine's (lib/tcp, lib/vbuffer); this module is its Lua face.
local abi = require('haka.abi')
local ffi = require('ffi')
local ipv4 = require('protocol/ipv4')
local ipv6 = require('protocol/ipv6')
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
	srcip = function (i)
		if i.ipv6 ~= 0 then return ipv6.addr(ffi.string(i.src6, 16)) end
		return ipv4.addr.new(i.srcip)
	end,
	dstip = function (i)
		if i.ipv6 ~= 0 then return ipv6.addr(ffi.string(i.dst6, 16)) end
		return ipv4.addr.new(i.dstip)
	end,
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
	return string.format("tcp_connection %s:%d -> %s:%d", tostring(attrs.srcip(i)), i.srcport,
		tostring(attrs.dstip(i)), i.dstport)
end

function tcp_connection.flow(slot, gen, state)
	return setmetatable({ _slot = slot, _gen = gen, _state = state, _data = {} }, Flow)
end

function tcp_connection.isflow(f) return getmetatable(f) == Flow end

-- Next dissectors: tcp_connection.policies.next_dissector (values: port)
-- with `haka.dissectors.<name>.install` as action, or the helper's
-- install_tcp_rule.
policies.next_dissector = haka.policy.new("next dissector")

-- TcpFlowDissector: a dissector riding on one connection's streams; its
-- receive_streamed runs as a streamed coroutine per direction (boot.lua).
local dissector = require('haka.dissector')
local TcpFlowDissector = dissector.class('TcpFlowDissector', nil)
tcp_connection.helper = { TcpFlowDissector = TcpFlowDissector }

-- Dissectors declared on this type make receive_data wanted.
tcp_connection.flow_dissector_classes = {}
function TcpFlowDissector.on_new_class(cls)
	table.insert(tcp_connection.flow_dissector_classes, cls)
end

function TcpFlowDissector._property(k)
	if k == 'flow' then return function (self) return rawget(self, '_parent') end end
	if k == 'state' then
		return function (self)
			local st = rawget(self, '_state')
			return st and st.current or nil
		end
	end
	if k == 'name' then return function (self) return dissector.classof(self).name end end
	return nil
end

-- Enables the dissector `cls` on `flow` (one instance per flow).
function TcpFlowDissector.dissect(cls, flow)
	if not tcp_connection.isflow(flow) then error("invalid parent dissector, must be a tcp flow", 2) end
	local state = rawget(flow, '_state')
	if state.next ~= nil then return state.next end
	local obj = cls:new(flow)
	state.next = obj
	return obj
end

-- A rule enabling the dissector on connections to `port`.
function TcpFlowDissector.install_tcp_rule(cls, port)
	haka.rule {
		on = tcp_connection.events.new_connection,
		eval = function (flow, pkt)
			if pkt.dstport == port then cls:dissect(flow) end
		end,
	}
end
TcpFlowDissector.install_udp_rule = TcpFlowDissector.install_tcp_rule

function TcpFlowDissector.method.__init(self, flow)
	if not tcp_connection.isflow(flow) then error("invalid parent dissector, must be a tcp flow", 2) end
	rawset(self, '_parent', flow)
	local cls = dissector.classof(self)
	if cls.state_machine then rawset(self, '_state', cls.state_machine:instanciate(self)) end
end

function TcpFlowDissector.method.trigger(self, name, ...)
	return dissector.trigger(self, name, ...)
end

function TcpFlowDissector.method.can_continue(self)
	return rawget(self, '_parent') ~= nil
end

function TcpFlowDissector.method.continue(self)
	if rawget(self, '_parent') == nil then haka.abort() end
end

function TcpFlowDissector.method.drop(self)
	local p = rawget(self, '_parent')
	if p then
		p:drop()
		rawset(self, '_parent', nil)
	end
end

function TcpFlowDissector.method.reset(self)
	local p = rawget(self, '_parent')
	if p then
		p:reset()
		rawset(self, '_parent', nil)
	end
end

function TcpFlowDissector.method.receive_streamed(self, iter, direction)
	local st = rawget(self, '_state')
	if st == nil then error("no state machine defined", 2) end
	while iter:wait() do
		__haka_tick() -- bounded even if update never consumes a byte
		st:update(iter, direction)
		self:continue()
	end
end

haka.dissectors.tcp_connection = tcp_connection
return tcp_connection
