-- Loaded first by lib/lua's Runtime: module paths, the haka API, rule
-- loading, and the dispatch functions the runtime calls for each event.
-- Every dispatch function returns true, or false and a "file:line: message".
-- The event dispatchers (tcp_packet, new_connection, receive_packet,
-- receive_data, end_connection) are called by the runtime under lua_pcall
-- with D.handler as the error function instead: they simply return true, an
-- error reaches the runtime already positioned, and haka.abort() arrives as
-- D.abort. No Lua-side xpcall frame then sits under the listeners (a trace
-- cannot return into one), so the dispatch path stays JIT-compiled.
local lua_dir = __haka_lua_dir
local raw_pcall, raw_xpcall, raw_resume = pcall, xpcall, coroutine.resume
package.path = lua_dir .. '/?.lua;' .. lua_dir .. '/?/init.lua;' .. package.path

local ffi = require('ffi')
local jit = require('jit')
local abi = require('haka.abi')
local haka = require('haka.core')
local vbuffer = require('haka.vbuffer')
require('haka.state_machine')
require('haka.dissector')
require('protocol/ipv4')
local tcp = require('protocol/tcp')
local tcp_connection = require('protocol/tcp_connection')

local api, rt = abi.api, abi.rt
local ABORT = haka.ABORT

local D = {}

-- Sources of rule code ('@path'): error positions are reported there.
local rule_sources = {}
local rule_dirs = {}

local function strip_position(msg)
	-- A position inside the API (lua_dir) says nothing to the rule writer.
	local path, rest = msg:match('^(.-):%d+: (.*)$')
	if path ~= nil and rule_sources['@' .. path] == nil then return rest end
	return msg
end

-- xpcall handler: names the innermost rule file:line of the failing call.
local function handler(msg)
	if msg == ABORT then return ABORT end
	msg = tostring(msg)
	local path = msg:match('^(.-):%d+: ')
	if path ~= nil and rule_sources['@' .. path] ~= nil then return msg end
	msg = strip_position(msg)
	for level = 2, 60 do
		local info = debug.getinfo(level, 'Sl')
		if info == nil then break end
		if rule_sources[info.source] and info.currentline > 0 then
			return string.format("%s:%d: %s", info.source:sub(2), info.currentline, msg)
		end
	end
	return msg
end
D.handler = handler
D.abort = ABORT
D.haka = haka -- the runtime restores haka._current_state after a nested dispatch

-- Rule files and the modules they require from their folders get the loop
-- guard below unless jit_rules: the instruction-count hook does not run
-- inside JIT-compiled loops, so this keeps the bound sound.
local jit_rules = false

-- How plain listeners are called: directly (the dispatcher's traces inline
-- the rule), or through the C frame of __haka_call (runtime.cpp call_rule),
-- around which the dispatcher's traces are stitched. Either way rule loops
-- stay interpreted under the count hook (the loop guard below): this choice
-- is about speed only. A dispatcher trace recording into a rule that reaches
-- a guarded loop aborts, and repeated aborts blacklist the dispatcher (then
-- every event runs interpreted); so rules are called directly until the
-- first abort of a trace started in the dispatch path, and through
-- __haka_call from then on (watch_traces below). With jit_rules: directly.
local function direct(f, ...) return f(...) end
local invoke = direct
local inline_fallbacks = 0
function D.inline_fallbacks() return inline_fallbacks end

-- The loop guard. LuaJIT runs no hook inside compiled traces, so a rule
-- loop compiled by the JIT would escape the instruction bound. Rather than
-- turning the JIT off for rule code (then the API functions it calls cannot
-- be compiled either: their traces may not return into a JIT-disabled
-- frame), every loop instruction of rule prototypes is switched to its
-- interpreter-only form (LOOP/FORL/ITERL -> ILOOP/IFORL/IITERL), and so is
-- the entry of functions that make tail calls (FUNCF -> IFUNCF: tail
-- recursion compiles to a loop). Loops then always run in the interpreter,
-- under the hook; a trace reaching such an instruction is abandoned; code
-- without loops is still inlined into the API's traces. What is found in
-- memory is checked against jit.util.funcbc first; on any mismatch the
-- chunk falls back to jit.off (slower, equally bounded).
local ju = require('jit.util')
local bcnames = require('jit.vmdef').bcnames
local function opcode(name)
	for i = 0, #bcnames / 6 - 1 do
		if bcnames:sub(i * 6 + 1, i * 6 + 6):match('^(%S+)') == name then return i end
	end
	error("no bytecode " .. name)
end
local OP = {}
for _, n in ipairs { 'LOOP', 'ILOOP', 'FORL', 'IFORL', 'ITERL', 'IITERL', 'FUNCF', 'IFUNCF',
		'FUNCV', 'IFUNCV', 'CALLT', 'CALLMT', 'JLOOP', 'JFORL', 'JITERL', 'JFUNCF', 'JFUNCV' } do
	OP[n] = opcode(n)
end
local TO_I = { [OP.LOOP] = OP.ILOOP, [OP.FORL] = OP.IFORL, [OP.ITERL] = OP.IITERL }
local COMPILED = { [OP.JLOOP] = true, [OP.JFORL] = true, [OP.JITERL] = true, [OP.JFUNCF] = true, [OP.JFUNCV] = true }
local u32p = ffi.typeof('uint32_t*')

-- The bytecode array of prototype `p` (n instructions), found and verified.
local function bytecode(p, n)
	local addr = ffi.cast(u32p, __haka_topointer(p))
	if addr == nil then return nil end
	local check = math.min(n, 6)
	for k = 0, 64 do
		local ok = true
		for pc = 0, check - 1 do
			-- funcbc gives the instruction as a signed 32-bit number
			local want = ju.funcbc(p, pc)
			if want < 0 then want = want + 4294967296 end
			if tonumber(addr[k + pc]) ~= want then ok = false break end
		end
		if ok then return addr + k end
	end
	return nil
end

local function u32(v)
	if v < 0 then return v + 4294967296 end
	return v
end

local guard_children

local function guard_proto(p)
	local info = ju.funcinfo(p)
	local n = info.bytecodes
	if n == nil then return false end
	local bc = bytecode(p, n)
	if bc == nil then return false end
	local tail = false
	for pc = 0, n - 1 do
		local ins = tonumber(bc[pc])
		local op = bit.band(ins, 0xff)
		if COMPILED[op] then return false end -- already compiled: too late to guard
		if op == OP.CALLT or op == OP.CALLMT then tail = true end
	end
	for pc = 0, n - 1 do
		local ins = tonumber(bc[pc])
		local op = bit.band(ins, 0xff)
		local to = TO_I[op]
		if to ~= nil then bc[pc] = u32(bit.bor(bit.band(ins, bit.bnot(0xff)), to)) end
	end
	if tail then
		local op = bit.band(tonumber(bc[0]), 0xff)
		local to = op == OP.FUNCF and OP.IFUNCF or op == OP.FUNCV and OP.IFUNCV
			or (op == OP.IFUNCF or op == OP.IFUNCV) and op or nil -- guarded already
		if to == nil then return false end
		bc[0] = u32(bit.bor(bit.band(tonumber(bc[0]), bit.bnot(0xff)), to))
	end
	return guard_children(p)
end

-- The prototypes nested in `p` (a function or a prototype).
guard_children = function (p)
	for i = -1, -100000, -1 do
		local k = ju.funck(p, i)
		if k == nil then break end
		if type(k) == 'proto' and not guard_proto(k) then return false end
	end
	return true
end

local guard_fallbacks = 0
function D.guard_fallbacks() return guard_fallbacks end
haka._guard_fallbacks = D.guard_fallbacks

-- Bounds `chunk` (a loaded rule file or module): loop guard, else jit.off.
local function bound(chunk)
	if jit_rules then return chunk end
	-- The main chunk runs once (at load): simply not compiled.
	jit.off(chunk)
	if not guard_children(chunk) then
		guard_fallbacks = guard_fallbacks + 1
		jit.off(chunk, true)
	end
	return chunk
end
D.bound = bound

-- Code made at run time by rules (load, loadstring) is bounded the same way.
for _, name in ipairs { 'load', 'loadstring', 'loadfile' } do
	local orig = _G[name]
	_G[name] = function (...)
		local f, err = orig(...)
		if f ~= nil then bound(f) end
		return f, err
	end
end

-- Replaces Lua's file searcher: a module found in a rule folder or on
-- package.path outside the API folder is rule code (interpreted, positions
-- reported); modules of the API folder load as usual (JIT-compiled).
local function load_rule_module(path)
	local chunk, err = loadfile(path)
	if chunk == nil then error(err, 0) end
	rule_sources['@' .. path] = true
	return bound(chunk)
end

local function searcher(name)
	local file = name:gsub('%.', '/')
	for _, dir in ipairs(rule_dirs) do
		local path = dir .. '/' .. file .. '.lua'
		local f = io.open(path, 'r')
		if f ~= nil then
			f:close()
			return load_rule_module(path)
		end
	end
	local path, err = package.searchpath(name, package.path)
	if path == nil then return '\n\t' .. err end
	if path:sub(1, #lua_dir + 1) == lua_dir .. '/' then
		local chunk, lerr = loadfile(path)
		if chunk == nil then error(lerr, 0) end
		return chunk
	end
	return load_rule_module(path)
end
package.loaders[2] = searcher


function D.load_rule(path, jit_all)
	jit_rules = jit_all
	if jit_rules then invoke = direct end
	local dir = path:match('^(.*)/[^/]*$') or '.'
	local known = false
	for _, d in ipairs(rule_dirs) do if d == dir then known = true end end
	if not known then rule_dirs[#rule_dirs + 1] = dir end
	local chunk, err = loadfile(path)
	if chunk == nil then return false, err end
	rule_sources['@' .. path] = true
	bound(chunk)
	local ok, e = raw_xpcall(chunk, handler)
	if not ok and e ~= ABORT then return false, e end
	return true
end

function D.listener_mask()
	local mask, streamed = 0, false
	for id, ev in pairs(haka.events_by_id) do
		if #ev.listeners > 0 then mask = mask + 2 ^ id end
		for _, l in ipairs(ev.listeners) do
			if l.streamed then streamed = true end
		end
	end
	if tcp_connection.policies.new_connection:has_entries()
			or tcp_connection.policies.next_dissector:has_entries() then
		mask = bit.bor(mask, 4)
	end
	if #tcp_connection.flow_dissector_classes > 0 then
		mask = bit.bor(mask, 16)
		streamed = true
	end
	return mask, streamed
end

-- Per-flow Lua state: the flow object, the coroutines of streamed rules.
local flows = {}

local function flow_state(slot, gen)
	local fs = flows[slot]
	if fs == nil or fs.gen ~= gen then
		fs = { gen = gen, dropped = false, cos = {} }
		fs.flow = tcp_connection.flow(slot, gen, fs)
		flows[slot] = fs
	end
	return fs
end

local DIR = { [0] = 'up', [1] = 'down' }

local function finish(ok, err)
	if ok or err == ABORT then return true end
	return false, err
end

-- Run an event's plain listeners `ls` in order, stopping once the flow `fs`
-- is dropped, one function per arity (a vararg call cannot be stitched
-- around the C frame of `invoke`). Up to UNROLLED listeners are called
-- without a loop: a loop of a turn or two per event aborts its own traces
-- (leaving the loop) and, once blacklisted, every trace through it.
local UNROLLED = 4

local function run1(ls, a)
	local n = #ls
	if n <= UNROLLED then
		if n >= 1 then invoke(ls[1].eval, a) end
		if n >= 2 then invoke(ls[2].eval, a) end
		if n >= 3 then invoke(ls[3].eval, a) end
		if n >= 4 then invoke(ls[4].eval, a) end
		return
	end
	for i = 1, n do invoke(ls[i].eval, a) end
end

local function run_flow1(ls, fs, a)
	local n = #ls
	if n <= UNROLLED then
		if n < 1 then return end
		invoke(ls[1].eval, a)
		if n < 2 or fs.dropped then return end
		invoke(ls[2].eval, a)
		if n < 3 or fs.dropped then return end
		invoke(ls[3].eval, a)
		if n < 4 or fs.dropped then return end
		invoke(ls[4].eval, a)
		return
	end
	for i = 1, n do
		invoke(ls[i].eval, a)
		if fs.dropped then return end
	end
end

local function run_flow3(ls, fs, a, b, c)
	local n = #ls
	if n <= UNROLLED then
		if n < 1 then return end
		invoke(ls[1].eval, a, b, c)
		if n < 2 or fs.dropped then return end
		invoke(ls[2].eval, a, b, c)
		if n < 3 or fs.dropped then return end
		invoke(ls[3].eval, a, b, c)
		if n < 4 or fs.dropped then return end
		invoke(ls[4].eval, a, b, c)
		return
	end
	for i = 1, n do
		invoke(ls[i].eval, a, b, c)
		if fs.dropped then return end
	end
end

-- Runs f(...) protected with `fs` as the current flow state (restored after:
-- a host callback may nest a dispatch).
local function protected(fs, f, ...)
	local outer = haka._current_state
	haka._current_state = fs
	local ok, err = raw_xpcall(f, handler, ...)
	haka._current_state = outer
	return finish(ok, err)
end

local tcp_events = tcp.events
local tc_events = tcp_connection.events

-- State-machine timeouts run on network time, before each event (Haka fired
-- them when a later packet advanced the clock).
-- Nothing armed: no clock read, no call (M.tick would return at once).
local host_now = abi.now
local huge = math.huge
local function timers()
	local m = haka.state_machine
	if m ~= nil and m.next_due() ~= huge then m.tick(host_now()) end
end

function D.tcp_packet(pslot, pgen, send)
	timers()
	local pkt = tcp.packet(pslot, pgen)
	local ev = send and tcp_events.send_packet or tcp_events.receive_packet
	haka._current_state = nil
	run1(ev.listeners, pkt)
	return true
end

local function new_connection(fs, pkt)
	local flow = fs.flow
	local pol = tcp_connection.policies.new_connection
	if pol:has_entries() then
		local i = flow.srcip -- checks the handle once
		pol:apply {
			ctx = flow,
			values = { srcip = i, srcport = flow.srcport, dstip = flow.dstip, dstport = flow.dstport },
			desc = {
				sources = { haka.alert.address(flow.srcip), haka.alert.service(string.format("tcp/%d", flow.srcport)) },
				targets = { haka.alert.address(flow.dstip), haka.alert.service(string.format("tcp/%d", flow.dstport)) },
			},
		}
		if fs.dropped then return end
	end
	local ls = tc_events.new_connection.listeners
	for i = 1, #ls do
		invoke(ls[i].eval, flow, pkt)
		if fs.dropped or rawget(pkt, '_dropped') then return end
	end
	local nd = tcp_connection.policies.next_dissector
	if nd:has_entries() then
		nd:apply { ctx = flow, values = { port = flow.dstport } }
	end
end

function D.new_connection(fslot, fgen, pslot, pgen)
	timers()
	local fs = flow_state(fslot, fgen)
	local pkt = tcp.packet(pslot, pgen)
	haka._current_state = fs
	new_connection(fs, pkt)
	return true
end

local rp_listeners = tc_events.receive_packet.listeners

function D.receive_packet(fslot, fgen, pslot, pgen, dir)
	timers()
	local fs = flow_state(fslot, fgen)
	local pkt = tcp.packet(pslot, pgen)
	haka._current_state = fs
	run_flow3(rp_listeners, fs, fs.flow, pkt, DIR[dir])
	return true
end

-- Streamed listeners: one coroutine per (listener, flow, direction).
local cur = ffi.new('hk_iter')
local iter_size = ffi.sizeof('hk_iter')

-- What a streamed rule's coroutine returns when it ends without error.
local DONE = setmetatable({}, { __tostring = function () return 'done' end })

local function coroutine_body(fn, first, iter, dir)
	local ok, err = raw_xpcall(fn, handler, first, iter, dir)
	if not ok and err ~= ABORT then return err end
	return DONE
end

local function resumed(fs, key, ctx, ok, r)
	-- The usual outcomes told apart without coroutine.status (a call the JIT
	-- does not compile): suspended by iter:wait() (yields nothing), or ended.
	if ok and r == nil then return end
	if ok and r == DONE then
		fs.cos[key] = false
		return
	end
	if coroutine.status(ctx.co) == 'dead' then fs.cos[key] = false end
	if not ok then error(r, 0) end
	if r ~= nil then error(r, 0) end
end

local function resume(fs, key, ctx, ...)
	local ok, r = raw_resume(ctx.co, ...)
	resumed(fs, key, ctx, ok, r)
end

-- resume() with nothing passed (a waiting coroutine), fixed arity.
local function resume0(fs, key, ctx)
	local ok, r = raw_resume(ctx.co)
	resumed(fs, key, ctx, ok, r)
end

-- fn(first, iter, direction) runs as the coroutine of `key` on this flow.
local function run_streamed(key, fn, first, fs, dir, avail, eof)
	local ctx = fs.cos[key]
	if ctx == false then return end
	if ctx == nil then
		if avail == 0 and not eof then return end
		ctx = { eof = eof, current = nil, closed = false }
		local c = vbuffer.iter_t()
		ffi.copy(c, cur, iter_size)
		ctx.iter = vbuffer.new_iterator(c, ctx)
		ctx.co = coroutine.create(coroutine_body)
		fs.cos[key] = ctx
		resume(fs, key, ctx, fn, first, ctx.iter, DIR[dir])
	else
		ctx.eof = eof
		ctx.current = cur
		resume0(fs, key, ctx)
		ctx.current = nil
	end
end

local sub_t = vbuffer.sub_t

local function receive_next(d, iter, direction)
	return d:receive_streamed(iter, direction)
end

-- A plain listener gets the (begin, length) sub of the new bytes: its size
-- does not follow later inserts.
local function plain_data(eval, flow, avail, dirname)
	local s = sub_t()
	local rc = api.data_sub(rt, avail, s)
	if rc ~= 0 then abi.fail(rc) end
	invoke(eval, flow, s, dirname)
end

local rd_listeners = tc_events.receive_data.listeners

-- One receive_data listener; returns whether `cur` holds the position.
local function data_listener(l, fs, flow, dir, avail, eof, have_cur)
	if l.streamed then
		if not have_cur then
			local rc = api.data_current(rt, cur)
			if rc ~= 0 then abi.fail(rc) end
			have_cur = true
		end
		run_streamed(l.idx * 2 + dir, l.eval, flow, fs, dir, avail, eof)
	elseif avail > 0 then
		plain_data(l.eval, flow, avail, DIR[dir])
	end
	return have_cur
end

local function receive_data(fs, dir, avail, eof)
	local ls = rd_listeners
	local n = #ls
	local flow = fs.flow
	local have_cur = false
	if n <= UNROLLED then -- without a loop (see run1)
		if n >= 1 then
			have_cur = data_listener(ls[1], fs, flow, dir, avail, eof, have_cur)
			if fs.dropped then return end
		end
		if n >= 2 then
			have_cur = data_listener(ls[2], fs, flow, dir, avail, eof, have_cur)
			if fs.dropped then return end
		end
		if n >= 3 then
			have_cur = data_listener(ls[3], fs, flow, dir, avail, eof, have_cur)
			if fs.dropped then return end
		end
		if n >= 4 then
			have_cur = data_listener(ls[4], fs, flow, dir, avail, eof, have_cur)
			if fs.dropped then return end
		end
	else
		for i = 1, n do
			have_cur = data_listener(ls[i], fs, flow, dir, avail, eof, have_cur)
			if fs.dropped then return end
		end
	end
	-- The next dissector, after the rules (Haka's order).
	local nd = fs.next
	if nd ~= nil and rawget(nd, '_parent') ~= nil then
		if not have_cur then
			local rc = api.data_current(rt, cur)
			if rc ~= 0 then abi.fail(rc) end
		end
		run_streamed(-1 - dir, receive_next, nd, fs, dir, avail, eof)
	end
end

function D.receive_data(fslot, fgen, dir, avail, eof)
	timers()
	local fs = flow_state(fslot, fgen)
	haka._current_state = fs
	receive_data(fs, dir, avail, eof)
	return true
end

-- Patterns declared by rules: count, then each one's text, flags and rule location.
function D.pattern_count() return #haka._patterns end
function D.pattern_at(i)
	local p = haka._patterns[i]
	return p.text, p.flags, p.rule.location
end

-- A pattern matched in a stream: its rule's eval(flow, match, direction).
local function pattern_match(fs, id, b, e, dir)
	local p = haka._patterns[id]
	invoke(p.rule.eval, fs.flow, { id = id, index = p.index, pattern = p.text, begin = b, ['end'] = e }, DIR[dir])
end

function D.pattern_match(fslot, fgen, dir, id, b, e)
	timers()
	local fs = flow_state(fslot, fgen)
	haka._current_state = fs
	return finish(xpcall(pattern_match, handler, fs, id, b, e, dir))
end

local ec_listeners = tc_events.end_connection.listeners

function D.end_connection(fslot, fgen)
	timers()
	local fs = flow_state(fslot, fgen)
	haka._current_state = fs
	run_flow1(ec_listeners, fs, fs.flow)
	return true
end

-- The connection ends: waiting coroutines see end of stream, then the flow's
-- Lua state is forgotten (its objects are stale from now on).
local function close(fs)
	for key, ctx in pairs(fs.cos) do
		if ctx then
			ctx.closed = true
			ctx.eof = true
			resume(fs, key, ctx)
		end
	end
end

function D.close_flow(fslot, fgen, give_eof)
	local fs = flows[fslot]
	if fs == nil or fs.gen ~= fgen then return true end
	flows[fslot] = nil
	if not give_eof then return true end
	return protected(fs, close, fs)
end

-- Packet policies (tcp::Policy numbers).
local POLICY = {
	[1] = tcp_connection.policies.no_connection_found,
	[2] = tcp_connection.policies.unexpected_packet,
	[3] = tcp_connection.policies.invalid_handshake,
	[4] = tcp_connection.policies.new_connection,
}

local function apply_policy(which, pkt)
	local pol = POLICY[which]
	if pol == nil then error("unknown policy " .. tostring(which), 0) end
	local src, dst = pkt.src, pkt.dst
	local sport, dport = pkt.srcport, pkt.dstport
	pol:apply {
		ctx = pkt,
		values = { srcip = src, srcport = sport, dstip = dst, dstport = dport },
		desc = {
			sources = { haka.alert.address(src), haka.alert.service(string.format("tcp/%d", sport)) },
			targets = { haka.alert.address(dst), haka.alert.service(string.format("tcp/%d", dport)) },
		},
	}
end

function D.apply_policy(which, pslot, pgen)
	return protected(nil, apply_policy, which, tcp.packet(pslot, pgen))
end

-- Past the instruction bound, a rule catching the error (pcall, xpcall,
-- coroutine.resume) gets it raised again: the bound cannot be swallowed.
local function rethrow(ok, ...)
	if not ok and __haka_over() then error((...), 0) end
	return ok, ...
end
_G.pcall = function (f, ...) return rethrow(raw_pcall(f, ...)) end
_G.xpcall = function (f, h, ...) return rethrow(raw_xpcall(f, h, ...)) end
coroutine.resume = function (co, ...) return rethrow(raw_resume(co, ...)) end

-- The functions of the dispatch path where a trace may start (see invoke).
local dispatch_path = {
	[D.tcp_packet] = true, [D.new_connection] = true, [D.receive_packet] = true,
	[D.receive_data] = true, [D.end_connection] = true, [D.pattern_match] = true,
	[run1] = true, [run_flow1] = true, [run_flow3] = true, [receive_data] = true,
	[plain_data] = true, [data_listener] = true, [new_connection] = true, [pattern_match] = true,
	[flow_state] = true, [timers] = true, [direct] = true,
}
local tracing_dispatch = false
-- The one abort that says nothing about the code: the count hook (or an
-- error) struck while a trace was being recorded.
local RECERR
for code, msg in pairs(require('jit.vmdef').traceerr) do
	if msg == 'error thrown or hook called during recording' then RECERR = code end
end
local earlier -- a 'trace' handler attached before (jit.v, jit.dump): one per event, so chained
local function watch_traces(what, tr, func, pc, otr, oex)
	if what == 'start' then
		tracing_dispatch = dispatch_path[func] == true
	elseif what == 'abort' and tracing_dispatch and not jit_rules and invoke == direct
			and otr ~= RECERR then
		invoke = __haka_call
		inline_fallbacks = inline_fallbacks + 1
	end
	if earlier ~= nil then earlier(what, tr, func, pc, otr, oex) end
end
do
	local events = debug.getregistry()._VMEVENTS
	local before = {}
	if type(events) == 'table' then for k, v in pairs(events) do before[k] = v end end
	jit.attach(watch_traces, 'trace')
	events = debug.getregistry()._VMEVENTS
	for k, v in pairs(events or {}) do
		if v == watch_traces and before[k] ~= nil and before[k] ~= watch_traces then earlier = before[k] end
	end
end
haka._inline_fallbacks = D.inline_fallbacks

return D
