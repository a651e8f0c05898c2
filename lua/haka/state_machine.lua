-- haka.state_machine: states with actions on events (HAKA_SEMANTICS.md §4).
-- A definition function declares the state type, the states and their
-- actions; instances run them for one owner (a dissector). Timeouts
-- (events.timeout(sec)) run on network time, as Haka's did: armed when a
-- state is entered, repeating, and fired when a later event brings the
-- clock past them (M.tick, called by the dispatcher before every event).
local M = {}

local BUILTIN = { 'enter', 'leave', 'init', 'fail', 'finish' }

local State = {}
State.__index = State

local function new_state(sm, name)
	local s = setmetatable({ _sm = sm, _name = name, _actions = {} }, State)
	return s
end

-- state:on{ event = e | events = {e...}, when = f, execute = f, jump = s }
function State.on(self, a)
	if type(a) ~= 'table' then error("state action must be a table", 2) end
	if a.execute == nil and a.jump == nil then error("state action needs execute or jump", 2) end
	local evs = a.events or { a.event }
	if #evs == 0 then error("state action needs an event", 2) end
	for _, e in ipairs(evs) do
		if type(e) ~= 'table' or e._event == nil then error("invalid event for state action", 2) end
		if not self._sm._events[e._event] then
			error(string.format("state type has no event '%s'", e._event), 2)
		end
		local list = self._actions[e._event]
		if list == nil then
			list = {}
			self._actions[e._event] = list
		end
		list[#list + 1] = { when = a.when, execute = a.execute, jump = a.jump, seconds = e.seconds }
	end
end

local Machine = {}
Machine.__index = Machine

function M.new(name, def)
	if type(def) ~= 'function' then error("state machine definition must be a function", 2) end
	local sm = setmetatable({ name = name, _events = {}, _states = {} }, Machine)
	for _, e in ipairs(BUILTIN) do sm._events[e] = true end
	local events = setmetatable({}, {
		__index = function (_, k)
			if k == 'timeout' then
				return function (sec)
					if type(sec) ~= 'number' or sec <= 0 then error("timeout needs a number of seconds", 2) end
					sm._events['timeout'] = true
					return { _event = 'timeout', seconds = sec }
				end
			end
			return { _event = k }
		end,
	})
	sm.any = new_state(sm, 'any')
	sm.fail = { _pseudo = 'fail' }
	sm.finish = { _pseudo = 'finish' }
	local env = setmetatable({
		state_type = function (t)
			if type(t) ~= 'table' then error("state_type expects a table", 2) end
			for _, e in ipairs(t.events or {}) do sm._events[e] = true end
			sm._update = t.update
		end,
		state = function (n)
			local s = new_state(sm, n)
			sm._states[#sm._states + 1] = s
			return s
		end,
		initial = function (s) sm._initial = s end,
		any = sm.any,
		fail = sm.fail,
		finish = sm.finish,
		events = events,
	}, { __index = _G })
	setfenv(def, env)
	def()
	if sm._initial == nil then error("state machine '" .. tostring(name) .. "' has no initial state", 2) end
	-- State names: the globals the definition assigned.
	for k, v in pairs(env) do
		if type(v) == 'table' and getmetatable(v) == State and v._name == nil then v._name = k end
	end
	return sm
end

local Instance = {}
Instance.__index = function (self, k)
	if k == 'current' then
		local c = rawget(self, '_current')
		return c and c._name or (rawget(self, '_finished') and 'finish' or nil)
	end
	return Instance[k]
end

local function actions(self, state, event, ...)
	for _, s in ipairs { state, self._sm.any } do
		local list = s._actions[event]
		if list ~= nil then
			for _, a in ipairs(list) do
				if a.when == nil or a.when(self._owner, ...) then
					if a.execute then a.execute(self._owner, ...) end
					return true, a.jump
				end
			end
		end
	end
	return false
end

-- Armed instances (weak: a collected owner's machine goes with it) and the
-- earliest deadline among them, so M.tick costs one compare until then.
local armed = setmetatable({}, { __mode = 'k' })
local next_due = math.huge
local abi = require('haka.abi')
local now = abi.now

-- Arms the timeouts of the state just entered (one per distinct value).
local function arm(self)
	self._timers = nil
	local cur = self._current
	local list = cur and cur._actions['timeout']
	if list == nil then
		armed[self] = nil
		return
	end
	local t, at = {}, now()
	for _, a in ipairs(list) do
		if t[a.seconds] == nil then
			t[a.seconds] = at + a.seconds
			if at + a.seconds < next_due then next_due = at + a.seconds end
		end
	end
	self._timers = t
	armed[self] = true
end

local function finish(self)
	armed[self] = nil
	self._timers = nil
	local cur = self._current
	if cur == nil then return end
	actions(self, cur, 'leave')
	actions(self, cur, 'finish')
	self._current = nil
	self._finished = true
end

local function jump(self, to)
	__haka_tick() -- enter actions jumping in a circle would loop for ever
	if to == self._sm.finish then return finish(self) end
	if to == self._sm.fail then
		if self._current then actions(self, self._current, 'fail') end
		return finish(self)
	end
	if getmetatable(to) ~= State then error("invalid state to jump to", 3) end
	local _, redirect = actions(self, self._current, 'leave')
	if redirect then to = redirect end
	self._current = to
	local _, redirect2 = actions(self, to, 'enter')
	if redirect2 then return jump(self, redirect2) end
	arm(self)
end

function Machine.instanciate(self, owner)
	local inst = setmetatable({ _sm = self, _owner = owner, _finished = false }, Instance)
	inst._current = self._initial
	local _, redirect = actions(inst, inst._current, 'enter')
	if redirect then jump(inst, redirect) end
	if inst._current then
		arm(inst)
		actions(inst, inst._current, 'init')
	end
	return inst
end
Machine.instantiate = Machine.instanciate

function Instance.trigger(self, event, ...)
	if self._finished then error("state machine instance has finished", 2) end
	if not self._sm._events[event] then error(string.format("unknown event '%s'", tostring(event)), 2) end
	local done, to = actions(self, self._current, event, ...)
	if done and to then jump(self, to) end
	return done
end

function Instance.update(self, ...)
	if self._finished then error("state machine instance has finished", 2) end
	local u = self._sm._update
	if u == nil then error("state machine has no update function", 2) end
	return u(self._owner, self, ...)
end

function Instance.finish(self) finish(self) end

-- Runs the timeouts due at network time `t`: for each armed instance, the
-- current state's first eligible timeout action of each due value, then its
-- jump; deadlines repeat. An error in one fails that machine (as Haka's
-- C-driven actions: logged, fail action, finish), the others go on.
local function run_due(t)
	next_due = math.huge
	local due = {}
	for inst in pairs(armed) do due[#due + 1] = inst end
	for _, inst in ipairs(due) do
		local timers = inst._timers
		if timers ~= nil and not inst._finished then
			local fire = {}
			for sec, at in pairs(timers) do
				if at <= t then
					fire[#fire + 1] = sec
					timers[sec] = at + sec * (math.floor((t - at) / sec) + 1)
				end
			end
			table.sort(fire)
			for _, sec in ipairs(fire) do
				if inst._timers ~= timers or inst._finished then break end -- a jump re-armed or ended it
				local ok, err = pcall(function ()
					for _, a in ipairs(inst._current._actions['timeout']) do
						if a.seconds == sec and (a.when == nil or a.when(inst._owner)) then
							if a.execute then a.execute(inst._owner) end
							if a.jump then jump(inst, a.jump) end
							return
						end
					end
				end)
				if not ok then
					__haka_host_log(3, 'state machine', tostring(err))
					if inst._current then actions(inst, inst._current, 'fail') end
					finish(inst)
				end
			end
		end
		if inst._timers ~= nil and not inst._finished then
			for _, at in pairs(inst._timers) do
				if at < next_due then next_due = at end
			end
		end
	end
end

-- The fast check apart from run_due (which makes closures: a trace cannot
-- record its UCLO), so the dispatcher's traces stay compiled.
function M.tick(t)
	if t < next_due then return end
	return run_due(t)
end

-- The earliest deadline, math.huge when none is armed (the dispatcher then
-- does not read the clock at all).
function M.next_due() return next_due end

haka.state_machine = M
return M
