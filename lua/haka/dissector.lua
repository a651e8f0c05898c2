-- haka.dissector.new: dissector classes on top of a base type (e.g.
-- TcpFlowDissector), with their own events and state machine.
--
-- A class is a table: `cls.method` holds instance methods (inherited from
-- the base type's), `cls.events` its events, `cls.policies` its policies.
local M = {}

local Class = {}
Class.__index = Class

-- A new class named `name` deriving from `base` (nil for a root class).
function M.class(name, base)
	local method = setmetatable({}, { __index = base and base.method or nil })
	local cls = setmetatable({ name = name, method = method, super = base, events = {}, policies = {} },
		{ __index = base or Class })
	cls._instance_mt = {
		__index = function (self, k)
			local m = method[k]
			if m ~= nil then return m end
			local prop = cls._property(k)
			if prop ~= nil then return prop(self) end
			return nil
		end,
		__tostring = function (self) return string.format("<dissector %s>", name) end,
	}
	return cls
end

function Class._property(k)
	return nil
end

function Class.new(cls, ...)
	local obj = setmetatable({}, cls._instance_mt)
	rawset(obj, '_class', cls)
	local init = cls.method.__init
	if init then init(obj, ...) end
	return obj
end

function Class.register_event(cls, name)
	local ev = haka.event.new(string.format('%s:%s', cls.name, name))
	cls.events[name] = ev
	return ev
end

function Class.register_streamed_event(cls, name)
	local ev = haka.event.new(string.format('%s:%s', cls.name, name), nil, true)
	cls.events[name] = ev
	return ev
end

function M.classof(obj)
	return rawget(obj, '_class')
end

function M.isa(obj, cls)
	local c = type(obj) == 'table' and rawget(obj, '_class') or nil
	while c ~= nil do
		if c == cls then return true end
		c = c.super
	end
	return false
end

-- Events of a dissector instance: rules on cls.events[name] run in order.
function M.trigger(obj, name, ...)
	local cls = M.classof(obj)
	local ev = cls.events[name]
	if ev == nil then error(string.format("unknown event '%s' for dissector %s", tostring(name), cls.name), 2) end
	for _, l in ipairs(ev.listeners) do
		l.eval(obj, ...)
		if obj.continue then obj:continue() end
	end
end

M.types = {}

-- haka.dissector.new{ type = Base, name = 'x' }: a class registered under
-- haka.dissectors[name].
function M.new(args)
	if type(args) ~= 'table' or args.type == nil then
		error(string.format("no type defined for dissector '%s'", tostring(args and args.name)), 2)
	end
	if type(args.name) ~= 'string' then error("dissector name expected", 2) end
	if rawget(haka.dissectors, args.name) ~= nil then
		error(string.format("dissector '%s' already defined", args.name), 2)
	end
	local cls = M.class(args.name, args.type)
	haka.dissectors[args.name] = {
		name = args.name,
		events = cls.events,
		policies = cls.policies,
		class = cls,
		create = function (...) return cls:new(...) end,
		install = function (_, ctx) return cls:dissect(ctx) end,
	}
	if args.type.on_new_class then args.type.on_new_class(cls) end
	return cls
end

haka.dissector = M
return M
