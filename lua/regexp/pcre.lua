-- Haka's regexp module API (require('regexp/pcre'), also 'regexp/hyperscan'),
-- backed by Hyperscan through lib/lua/regexp.cpp (ffi.C.hk_rx_*).
--
--   local rem = require('regexp/pcre')
--   local re = rem.re:compile(pattern [, flags])  -- raises on a bad pattern
--   re:match(string)            -> matched string, begin, end (0-based, end exclusive) | nil, -1, -1
--   re:match(vbuffer | sub)     -> sub of the match | nil
--   re:match(iter [, createsub [, readonly]]) -> true | false, or the matched sub | nil
--                               (readonly is accepted: our mark is always read-only)
--   rem.re:match(pattern, input [, flags [, createsub]])  (compiled once per (pattern, flags))
--   re:create_sink() / re:get_sink() -> sink
--   sink:feed(string, eof [, result]) -> matched (result.first/last set, as haka.regexp_result)
--   sink:feed(sub, eof)          -> matched, begin iterator | nil, end iterator | nil
--   flags: rem.re.CASE_INSENSITIVE, EXTENDED, DOTALL, MULTILINE (always on, as in Haka)
--
-- Patterns use Haka's syntax: '%' is the escape character ("%xeb" is the
-- byte 0xeb, "%d" a digit, "%%" a '%'). Which match is reported: the leftmost
-- begin, then the longest end (lib/match/regexp.hpp); a sink reports the
-- first feed whose bytes complete a match.
--
-- re:match(iter) in a streamed rule feeds what the iterator makes available
-- to one Hyperscan stream, waiting for more bytes (the blocking iterator
-- yields), so a match split over any number of segments and packets is found
-- without scanning a byte twice. It returns when a match is complete (the
-- iterator then stands after it) or at the end of the stream (false / nil).
-- With createsub, the bytes where a match may have begun are kept with a
-- read-only mark (packets still leave; the kept bytes become read-only) that
-- follows the earliest possible start (the pattern's longest match back from
-- the bytes fed; the call start when unbounded or when Hyperscan cannot
-- report where matches begin), and released before returning.
local ffi = require('ffi')
require('haka.abi') -- declares hk_sub, hk_iter
local vbuffer = require('haka.vbuffer')

ffi.cdef('const char* hk_rx_cdef(void);')
local found, decls = pcall(function () return ffi.C.hk_rx_cdef() end)
if not found then
	-- ffi.C looks the functions up in the executable's dynamic symbols.
	error("regexp/pcre: the hk_rx_* functions are not exported by this executable (link it with export_dynamic)", 0)
end
ffi.cdef(ffi.string(decls))
local C = ffi.C

-- This VM's scanners and free sinks (lib/lua/regexp.hpp), sized for one
-- waiting match per direction of every connection the runtime tracks.
local CTX = C.hk_rx_ctx_new(require('haka.abi').rt)
if CTX == nil then error("memory error", 0) end
CTX = ffi.gc(CTX, C.hk_rx_ctx_release)

local RANGE = ffi.new('uint64_t[2]')
local ERR_LEN = 2048
local ERR = ffi.new('char[?]', ERR_LEN)
local UNBOUNDED = 0xffffffff
local sub_t = ffi.typeof('hk_sub')
local bufref_t = ffi.typeof('hk_bufref')
local iter_t = ffi.typeof('hk_iter')

-- Errors are raised without a position: the runtime's handler names the
-- rule's file:line (at load and in dispatches).
local function raise(rc)
	error(ffi.string(C.hk_rx_message(rc)), 0)
end

local function is_iterator(v)
	if type(v) ~= 'table' then return false end
	local c = rawget(v, 'c')
	return c ~= nil and ffi.istype(iter_t, c)
end

local function range()
	return tonumber(RANGE[0]), tonumber(RANGE[1])
end

local function new_sink(rx)
	local s = C.hk_rx_sink_new(rx)
	if s == nil then raise(-1) end
	return ffi.gc(s, C.hk_rx_sink_free)
end

local function free_sink(s)
	ffi.gc(s, nil)
	C.hk_rx_sink_free(s)
end

-- Releases our read-only mark. The stream may already be gone when a
-- connection ended while the match waited: nothing is left to release then.
local function unmark(mark)
	pcall(mark.unmark, mark)
end

-- re:match(iter, createsub): see the header.
local function match_iter(rx, input, createsub)
	local sink = new_sink(rx)
	local width = C.hk_rx_max_width(rx)
	-- Where the earliest match still to be found can begin (sink offsets).
	local keep_all = width == UNBOUNDED or C.hk_rx_exact_begin(rx) == 0
	local mark, mark_at -- plain iterator standing on our mark, and its offset
	local found, b, e, begin_it, end_it

	for sub in input:foreach_available() do
		local fed0 = tonumber(C.hk_rx_sink_fed(sink))
		local rc = C.hk_rx_sink_feed_sub(sink, sub, input.iseof and 1 or 0)
		if rc < 0 then
			if mark then unmark(mark) end
			free_sink(sink)
			raise(rc)
		end
		if rc == 1 then
			C.hk_rx_sink_result(sink, RANGE)
			b, e = range()
			found = true
			end_it = sub:pos(e - fed0)
			if createsub and b >= fed0 then begin_it = sub:pos(b - fed0) end
			break
		end
		if createsub then
			local fed = tonumber(C.hk_rx_sink_fed(sink))
			-- A match still to come ends after the bytes fed, or exactly at
			-- their end when it needs the next byte or the end of the stream
			-- to be known ("$", "\b"): it begins at fed - width or later.
			local want = 0
			if not keep_all then
				want = fed - width
				if want < 0 then want = 0 end
			end
			if mark == nil or want > mark_at then
				local it
				if want >= fed0 then
					it = sub:pos(want - fed0)
				else
					it = mark:copy()
					it:advance(want - mark_at)
				end
				if mark then mark:unmark() end
				it:mark(true)
				mark, mark_at = it, want
			end
		end
	end

	if not found and input.iseof then
		-- End of the stream (or of a plain buffer): end-anchored matches.
		-- (A plain iterator on a stream still open just ran out of bytes.)
		local rc = C.hk_rx_sink_feed(sink, nil, 0, 1)
		if rc < 0 then
			if mark then unmark(mark) end
			free_sink(sink)
			raise(rc)
		end
		if rc == 1 then
			found = true
			C.hk_rx_sink_result(sink, RANGE)
			b, e = range()
			end_it = input:copy()
		end
	end
	free_sink(sink)

	if found and createsub and begin_it == nil then
		-- The match began in bytes of an earlier feed, kept by the mark.
		if mark then
			if b < mark_at then b = mark_at end
			mark:unmark()
			begin_it = mark:copy()
			begin_it:advance(b - mark_at)
			mark = nil
		else
			begin_it = end_it:copy() -- nothing fed: an empty match at the end
		end
	end
	if mark then unmark(mark) end

	if not found then
		if createsub then return nil end
		return false
	end
	input:move_to(end_it)
	if createsub then return begin_it:sub(e - b) end
	return true
end

-- Compiled regexps ------------------------------------------------------------

local Regexp = {}

function Regexp.match(self, input, createsub)
	if type(input) == 'string' then
		local rc = C.hk_rx_match(self, ffi.cast('const uint8_t*', input), #input, RANGE)
		if rc < 0 then raise(rc) end
		if rc == 0 then return nil, -1, -1 end
		local b, e = range()
		return input:sub(b + 1, e), b, e
	end
	if ffi.istype(bufref_t, input) then input = input:sub(0, 'all') end
	if ffi.istype(sub_t, input) then
		local rc = C.hk_rx_match_sub(self, input, RANGE)
		if rc < 0 then raise(rc) end
		if rc == 0 then return nil end
		local b, e = range()
		return input:sub(b, e - b)
	end
	if is_iterator(input) then return match_iter(self, input, createsub) end
	error("regexp match: string, vbuffer, vbuffer_sub or vbuffer_iterator expected, got " .. type(input), 0)
end

function Regexp.create_sink(self)
	return new_sink(self)
end
Regexp.get_sink = Regexp.create_sink

ffi.metatype('hk_rx', {
	__index = Regexp,
	__tostring = function () return 'regexp' end,
})

-- Sinks -------------------------------------------------------------------------

local Sink = {}

function Sink.feed(self, data, eof, result)
	local e = eof and 1 or 0
	if type(data) == 'string' then
		local rc = C.hk_rx_sink_feed(self, ffi.cast('const uint8_t*', data), #data, e)
		if rc < 0 then raise(rc) end
		if result ~= nil then
			if C.hk_rx_sink_result(self, RANGE) == 1 then
				result.first, result.last = range()
			else
				result.first, result.last = -1, -1
			end
		end
		return rc == 1
	end
	if ffi.istype(bufref_t, data) then data = data:sub(0, 'all') end
	if not ffi.istype(sub_t, data) then
		error("regexp_sink feed: string or vbuffer_sub expected, got " .. type(data), 0)
	end
	local fed0 = tonumber(C.hk_rx_sink_fed(self))
	local matched_before = C.hk_rx_sink_result(self, RANGE) == 1
	local rc = C.hk_rx_sink_feed_sub(self, data, e)
	if rc < 0 then raise(rc) end
	if rc == 0 or matched_before then return rc == 1 end
	-- Positions of the match in this sub (a begin in earlier data is not here).
	C.hk_rx_sink_result(self, RANGE)
	local b, en = range()
	local begin_it
	if b >= fed0 then begin_it = data:pos(b - fed0) end
	return true, begin_it, data:pos(en - fed0)
end

-- begin, end of the match (offsets from the first byte fed), or nil.
function Sink.result(self)
	if C.hk_rx_sink_result(self, RANGE) == 0 then return nil end
	return range()
end

function Sink.ispartial()
	error("regexp_sink:ispartial() is not available: Hyperscan has no partial-match state", 0)
end

ffi.metatype('hk_rx_sink', {
	__index = Sink,
	__tostring = function () return 'regexp_sink' end,
})

-- The module -----------------------------------------------------------------

local re = {
	CASE_INSENSITIVE = 1,
	EXTENDED = 2,
	DOTALL = 4,
	MULTILINE = 8,
}

function re.compile(_, pattern, flags)
	if type(pattern) ~= 'string' then error("nil argument", 0) end
	local rx = C.hk_rx_compile(CTX, pattern, #pattern, flags or 0, ERR, ERR_LEN)
	if rx == nil then error(ffi.string(ERR), 0) end
	return ffi.gc(rx, C.hk_rx_free)
end

-- Patterns compiled by rem.re:match(pattern, ...), by (flags, pattern):
-- compiling allocates, so a rule matching the same pattern on every packet
-- compiles it once. Bounded: cleared when full.
local cache, cached, CACHE_MAX = {}, 0, 256

local function compiled(pattern, flags)
	if type(pattern) ~= 'string' then error("nil argument", 0) end
	local key = tostring(flags or 0) .. ':' .. pattern
	local rx = cache[key]
	if rx == nil then
		rx = C.hk_rx_compile(CTX, pattern, #pattern, flags or 0, ERR, ERR_LEN)
		if rx == nil then error(ffi.string(ERR), 0) end
		rx = ffi.gc(rx, C.hk_rx_free)
		if cached >= CACHE_MAX then cache, cached = {}, 0 end
		cache[key] = rx
		cached = cached + 1
	end
	return rx
end

function re.match(_, pattern, input, flags, createsub)
	return compiled(pattern, flags):match(input, createsub)
end

-- Haka's regexp_result (sink:feed(string, eof, result)).
local function result()
	return { first = -1, last = -1 }
end
re.result = result
if haka ~= nil and haka.regexp_result == nil then haka.regexp_result = result end

return { re = re }
