-- The `haka` global: events, rules, rule groups, policies, logs, alerts.
local vbuffer = require('haka.vbuffer')

local haka = {}
_G.haka = haka

-- haka.abort(): stops the current listener chain silently.
local ABORT = setmetatable({}, { __tostring = function () return 'aborted' end })
haka.ABORT = ABORT
function haka.abort()
	error(ABORT, 0)
end

-- Logs -----------------------------------------------------------------------

local LEVEL = { debug = 0, info = 1, warning = 2, error = 3 }

local function format(fmt, ...)
	if select('#', ...) == 0 then return tostring(fmt) end
	return string.format(fmt, ...)
end

local function logger(section)
	local l = {}
	for name, level in pairs(LEVEL) do
		l[name] = function (fmt, ...)
			__haka_host_log(level, section, format(fmt, ...))
		end
	end
	l.warn = l.warning
	return l
end

haka.log = setmetatable(logger('external'), {
	__call = function (_, fmt, ...)
		__haka_host_log(LEVEL.info, 'external', format(fmt, ...))
	end,
})

function haka.log_section(name)
	return logger(name)
end

local corelog = logger('core')

-- print() goes to the host, one line per call, arguments joined by a space (as Haka's print).
function _G.print(...)
	local n = select('#', ...)
	local parts = {}
	for i = 1, n do parts[i] = tostring((select(i, ...))) end
	__haka_host_print(table.concat(parts, ' '))
end

-- Alerts ---------------------------------------------------------------------

local function join(...)
	local parts = {}
	for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
	return table.concat(parts, ', ')
end

local alert = {}
function alert.address(...)
	return { kind = 'address', text = join(...) }
end
function alert.service(...)
	return { kind = 'service', text = join(...) }
end

local function items(v)
	if v == nil then return nil end
	if type(v) ~= 'table' then error("alert sources/targets must be tables", 3) end
	if v.kind ~= nil then return { v } end
	return v
end

haka.alert = setmetatable(alert, {
	__call = function (_, a)
		if type(a) ~= 'table' then error("alert parameter must be a table", 2) end
		__haka_host_alert {
			description = a.description ~= nil and tostring(a.description) or nil,
			severity = a.severity ~= nil and tostring(a.severity) or nil,
			confidence = a.confidence ~= nil and tostring(a.confidence) or nil,
			sources = items(a.sources),
			targets = items(a.targets),
		}
	end,
})

-- Events ---------------------------------------------------------------------

local Event = {}
Event.__index = Event
haka.event = { Event = Event }

local events_by_id = {}

-- id: the runtime's Event number (wants() bit), nil for events of Lua dissectors.
function haka.event.new(name, id, streamable)
	local e = setmetatable({ name = name, id = id, listeners = {}, streamable = streamable or false }, Event)
	if id ~= nil then events_by_id[id] = e end
	return e
end

function Event.register(self, eval, options, location)
	local l = { eval = eval, streamed = options ~= nil and options.streamed == true, location = location }
	if l.streamed and not self.streamable then
		error(string.format("event %s does not support the streamed option", self.name), 3)
	end
	self.listeners[#self.listeners + 1] = l
	l.idx = #self.listeners
	return l
end

-- A listener chain stops once its flow (if any) is dropped.
function Event.continue(self, state)
	if state ~= nil and state.dropped then haka.abort() end
end

haka.events_by_id = events_by_id

-- Rules ----------------------------------------------------------------------

local function location(level)
	local info = debug.getinfo(level + 1, 'Sl')
	if info == nil then return '?' end
	local src = info.source:sub(1, 1) == '@' and info.source:sub(2) or info.short_src
	return string.format("%s:%d", src, info.currentline)
end

local function is_event(e)
	return getmetatable(e) == Event
end

function haka.rule(r)
	if type(r) ~= 'table' then error("rule parameter must be a table", 2) end
	local on = r.on or r.hook
	if on == nil then error("no event defined for rule", 2) end
	if not is_event(on) then error("rule must bind on an event", 2) end
	if type(r.eval) ~= 'function' then error("rule eval function expected", 2) end
	if r.options ~= nil and type(r.options) ~= 'table' then error("rule options should be table", 2) end
	if r.options ~= nil and r.options.patterns ~= nil then
		-- Beyond Haka: patterns scanned by the engine (one Hyperscan scan per
		-- stream direction for every rule's patterns); eval(flow, match,
		-- direction) runs only on a match, never per receive_data event.
		if on.name ~= 'tcp_connection:receive_data' then
			error("patterns are for tcp_connection.events.receive_data rules", 2)
		end
		if r.options.streamed then error("a rule with patterns cannot be streamed", 2) end
		local ps = r.options.patterns
		if type(ps) ~= 'table' or #ps == 0 then error("patterns must be a non-empty list", 2) end
		local rule = { eval = r.eval, location = location(2) }
		for i, p in ipairs(ps) do
			local text, flags = p, 0
			if type(p) == 'table' then text, flags = p[1], p[2] or 0 end
			if type(text) ~= 'string' or type(flags) ~= 'number' then
				error("pattern " .. i .. ": a string, or {string, flags} expected", 2)
			end
			local list = haka._patterns
			list[#list + 1] = { text = text, flags = flags, rule = rule, index = i }
		end
		return
	end
	on:register(r.eval, r.options, location(2))
end

-- Patterns declared by rules (options.patterns), in order: their ids are the indexes.
haka._patterns = {}

local Group = {}
Group.__index = Group

function Group.rule(self, r)
	if type(r) ~= 'table' then error("rule parameter must be a table", 2) end
	if type(r.eval) ~= 'function' then error("rule eval function expected", 2) end
	self.rules[#self.rules + 1] = r.eval
end

function haka.rule_group(g)
	if type(g) ~= 'table' then error("rule group parameter must be a table", 2) end
	local on = g.on or g.hook
	if on == nil then error("no event defined for rule group", 2) end
	if not is_event(on) then error("rule group must bind on an event", 2) end
	for _, k in ipairs { 'init', 'continue', 'final' } do
		if g[k] ~= nil and type(g[k]) ~= 'function' then
			error("rule group " .. k .. " function expected", 2)
		end
	end
	local group = setmetatable({
		name = g.name, rules = {},
		init = g.init or function () end,
		continue = g.continue or function () return true end,
		final = g.final or function () end,
	}, Group)
	local ev = on
	on:register(function (...)
		group.init(...)
		for _, rule in ipairs(group.rules) do
			local ret = rule(...)
			ev.continue(ev, haka._current_state)
			if not group.continue(ret, ...) then return end
		end
		group.final(...)
		ev.continue(ev, haka._current_state)
	end, g.options, location(2))
	return group
end

-- Policies (HAKA_SEMANTICS.md §6): every entry is checked in order; the
-- actions of the last eligible entry run.

local policy = {}
local Policy = {}
Policy.__index = Policy

local Criterion = {}
Criterion.__index = Criterion
local function criterion(compare)
	return setmetatable({ compare = compare }, Criterion)
end

function policy.new(name)
	return setmetatable({ name = name, policies = {} }, Policy)
end

function Policy.insert(self, name, criteria, actions)
	local list = {}
	for k, c in pairs(criteria) do
		if getmetatable(c) ~= Criterion then
			local v = c
			c = criterion(function (value) return value ~= nil and value == v end)
		end
		list[#list + 1] = { name = k, value = c }
	end
	table.sort(list, function (a, b) return tostring(a.name) < tostring(b.name) end)
	self.policies[#self.policies + 1] = { name = name, criteria = list, actions = actions }
end

function Policy.apply(self, p)
	local values = p.values or {}
	local desc = p.desc or {}
	local chosen
	for _, entry in ipairs(self.policies) do
		local eligible = true
		for _, c in ipairs(entry.criteria) do
			if not c.value.compare(values[c.name]) then
				eligible = false
				break
			end
		end
		if eligible then
			chosen = entry
		else
			corelog.debug("rejected policy %s for %s", entry.name, self.name)
		end
	end
	if chosen then
		corelog.debug("applying policy %s for %s", chosen.name, self.name)
		for _, action in ipairs(chosen.actions) do
			action(self, p.ctx, values, desc)
		end
	end
	return chosen
end

function Policy.has_entries(self)
	return #self.policies > 0
end

function policy.value(v) return criterion(function (x) return x ~= nil and x == v end) end
function policy.set(list)
	local s = {}
	for _, v in pairs(list) do s[v] = true end
	return criterion(function (x) return x ~= nil and s[x] == true end)
end
function policy.range(min, max)
	if min == nil or max == nil or min > max then error("invalid bounds", 2) end
	return criterion(function (x) return x ~= nil and x >= min and x <= max end)
end
function policy.outofrange(min, max)
	if min == nil or max == nil or min > max then error("invalid bounds", 2) end
	return criterion(function (x) return x ~= nil and (x < min or x > max) end)
end
function policy.present() return criterion(function (x) return x ~= nil end) end
function policy.absent() return criterion(function (x) return x == nil end) end
function policy.ipv4_in_network(net)
	return criterion(function (x) return x ~= nil and getmetatable(x) == getmetatable(net.net) and net:contains(x) end)
end

function policy.accept() end
function policy.drop(_, ctx) ctx:drop() end
function policy.alert(a)
	a = a or {}
	return function (pol, _, _, desc)
		local out = {}
		for k, v in pairs(a) do out[k] = v end
		for k, v in pairs(desc) do if out[k] == nil then out[k] = v end end
		if out.description == nil then out.description = pol.name end
		haka.alert(out)
	end
end
function policy.log(logf, message, ...)
	local args = { ... }
	return function () logf(message, unpack(args)) end
end

haka.policy = setmetatable(policy, {
	__call = function (_, p)
		if type(p) ~= 'table' then error("policy parameter must be a table", 2) end
		if getmetatable(p.on) ~= Policy then error("policy on must be a Policy", 2) end
		local actions = p.action
		if type(actions) == 'function' then
			actions = { actions }
		elseif type(actions) == 'table' then
			for _, f in ipairs(actions) do
				if type(f) ~= 'function' then error("policy action must be a function or a list of functions", 2) end
			end
		else
			error("policy action must be a function or a list of functions", 2)
		end
		local criteria = {}
		for k, v in pairs(p) do
			if k ~= 'on' and k ~= 'name' and k ~= 'action' then criteria[k] = v end
		end
		p.on:insert(p.name or '<unnamed>', criteria, actions)
	end,
})

-- Buffers ----------------------------------------------------------------------

haka.vbuffer_allocate = vbuffer.allocate
haka.vbuffer_from = vbuffer.from

haka.dissectors = {}

return haka
