-- Haka's vbuffer, vbuffer_sub and vbuffer_iterator over lib/vbuffer (FFI).
-- Buffers made by rules live in runtime slots freed by the GC; subs and
-- iterators are plain copies whose validity lib/vbuffer checks on each use.
local ffi = require('ffi')
local abi = require('haka.abi')

local api, rt, fail = abi.api, abi.rt, abi.fail
local SIZE, I64, INT, U8, U32 = abi.size, abi.i64, abi.int, abi.u8, abi.u32
local ALL = ffi.cast('size_t', 0xffffffffffffffffULL)

ffi.cdef [[ typedef struct hk_bufref { uint32_t slot, gen; } hk_bufref; ]]

local M = {}

local scratch_len = 4096
local scratch = ffi.new('uint8_t[?]', scratch_len)
local function scratch_of(n)
	if n > scratch_len then
		scratch_len = n
		scratch = ffi.new('uint8_t[?]', n)
	end
	return scratch
end

local function endian(e)
	if e == nil or e == 'big' then return 1 end
	if e == 'little' then return 0 end
	error("invalid endian: " .. tostring(e), 3)
end

-- vbuffer (a buffer made by a rule, or a packet payload copy)

local bufref_t
local function new_buffer(slot, gen)
	return ffi.gc(bufref_t(slot, gen), function (b) api.buf_free(rt, b.slot, b.gen) end)
end

local sub_t = ffi.typeof('hk_sub')
local iter_t = ffi.typeof('hk_iter')

local Iterator = {}
Iterator.__index = Iterator

local function new_iterator(c, ctx)
	return setmetatable({ c = c, ctx = ctx or false }, Iterator)
end

local Buffer = {}

function Buffer.size(self)
	local rc = api.buf_size(rt, self.slot, self.gen, SIZE)
	if rc ~= 0 then fail(rc) end
	return tonumber(SIZE[0])
end

function Buffer.sub(self, offset, size)
	local s = sub_t()
	local len = size == nil and ALL or size
	if size == 'all' then len = ALL end
	local rc = api.buf_sub(rt, self.slot, self.gen, offset or 0, len, s)
	if rc ~= 0 then fail(rc) end
	return s
end

function Buffer.pos(self, pos)
	local it = iter_t()
	local off = pos
	if pos == 'begin' or pos == nil then off = 0 elseif pos == 'end' then off = ALL end
	local rc = api.buf_position(rt, self.slot, self.gen, off, it)
	if rc ~= 0 then fail(rc) end
	return new_iterator(it)
end

function Buffer.append(self, other)
	local rc = api.buf_append(rt, self.slot, self.gen, other.slot, other.gen)
	if rc ~= 0 then fail(rc) end
end

function Buffer.clone(self, copy)
	return self:sub(0, 'all'):clone(copy)
end

function Buffer.asstring(self)
	return self:sub(0, 'all'):asstring()
end

function Buffer.modified(self)
	local rc = api.buf_modified(rt, self.slot, self.gen, INT)
	if rc ~= 0 then fail(rc) end
	return INT[0] ~= 0
end

bufref_t = ffi.metatype('hk_bufref', {
	__index = function (self, k)
		if type(k) == 'number' then return self:sub(k - 1, 1):asnumber() end
		if k == 'modified' then return Buffer.modified(self) end
		return Buffer[k]
	end,
	__newindex = function (self, k, v)
		if type(k) ~= 'number' then error("unknown field: " .. tostring(k), 2) end
		self:sub(k - 1, 1):setnumber(v)
	end,
	__len = function (self) return Buffer.size(self) end,
	__tostring = function (self) return 'vbuffer' end,
})

function M.allocate(n, zero)
	local rc = api.buf_new(rt, nil, n, zero == false and 0 or 1, U32, U32 + 1)
	if rc ~= 0 then fail(rc) end
	return new_buffer(U32[0], U32[1])
end

function M.from(str)
	local rc = api.buf_new(rt, ffi.cast('const uint8_t*', str), #str, 0, U32, U32 + 1)
	if rc ~= 0 then fail(rc) end
	return new_buffer(U32[0], U32[1])
end

function M.wrap(slot, gen)
	return new_buffer(slot, gen)
end

-- vbuffer_sub

local Sub = {}

function Sub.size(self)
	local rc = api.sub_size(self, SIZE)
	if rc ~= 0 then fail(rc) end
	return tonumber(SIZE[0])
end

function Sub.asstring(self)
	local rc = api.sub_size(self, SIZE)
	if rc ~= 0 then fail(rc) end
	local n = tonumber(SIZE[0])
	local p = scratch_of(n)
	rc = api.sub_read(self, p, n, SIZE)
	if rc ~= 0 then fail(rc) end
	return ffi.string(p, SIZE[0])
end

function Sub.setstring(self, s)
	local rc = api.sub_set_string(self, ffi.cast('const uint8_t*', s), #s)
	if rc ~= 0 then fail(rc) end
end

function Sub.setfixedstring(self, s)
	local rc = api.sub_write(self, ffi.cast('const uint8_t*', s), #s, nil)
	if rc ~= 0 then fail(rc) end
end

function Sub.asnumber(self, e)
	local rc = api.sub_number(self, endian(e), I64)
	if rc ~= 0 then fail(rc) end
	return tonumber(I64[0])
end

function Sub.setnumber(self, v, e)
	local rc = api.sub_set_number(self, endian(e), v)
	if rc ~= 0 then fail(rc) end
end

function Sub.asbits(self, off, bits, e)
	local rc = api.sub_bits(self, off, bits, endian(e), I64)
	if rc ~= 0 then fail(rc) end
	return tonumber(I64[0])
end

function Sub.setbits(self, off, bits, v, e)
	local rc = api.sub_set_bits(self, off, bits, endian(e), v)
	if rc ~= 0 then fail(rc) end
end

function Sub.zero(self)
	local rc = api.sub_zero(self)
	if rc ~= 0 then fail(rc) end
end

function Sub.erase(self)
	local rc = api.sub_erase(self)
	if rc ~= 0 then fail(rc) end
end

function Sub.replace(self, buf)
	local rc = api.sub_replace(rt, self, buf.slot, buf.gen)
	if rc ~= 0 then fail(rc) end
end

function Sub.isflat(self)
	local rc = api.sub_is_flat(self, INT)
	if rc ~= 0 then fail(rc) end
	return INT[0] ~= 0
end

function Sub.flatten(self)
	return self:asstring()
end

function Sub.sub(self, offset, size)
	local s = sub_t()
	local len = (size == nil or size == 'all') and ALL or size
	local rc = api.sub_sub(self, offset or 0, len, s)
	if rc ~= 0 then fail(rc) end
	return s
end

function Sub.pos(self, pos)
	local it = iter_t()
	local off = pos
	if pos == 'begin' or pos == nil then off = 0 elseif pos == 'end' then off = ALL end
	local rc = api.sub_position(self, off, it)
	if rc ~= 0 then fail(rc) end
	return new_iterator(it)
end

-- Moves the bytes out (returned as a vbuffer) and leaves a placeholder in
-- the stream, which holds it until ref:restore(buf).
function Sub.select(self)
	local ref = iter_t()
	local rc = api.sub_select(rt, self, ref, U32, U32 + 1)
	if rc ~= 0 then fail(rc) end
	return new_iterator(ref), new_buffer(U32[0], U32[1])
end

function Sub.clone(self, copy)
	local rc = api.sub_clone(rt, self, U32, U32 + 1)
	if rc ~= 0 then fail(rc) end
	return new_buffer(U32[0], U32[1])
end

ffi.metatype('hk_sub', {
	__index = function (self, k)
		if type(k) == 'number' then
			local rc = api.sub_get_byte(self, k - 1, U8)
			if rc ~= 0 then fail(rc) end
			return U8[0]
		end
		local m = Sub[k]
		if m == nil then error("unknown field '" .. tostring(k) .. "' of vbuffer_sub", 2) end
		return m
	end,
	__newindex = function (self, k, v)
		if type(k) ~= 'number' then error("unknown field '" .. tostring(k) .. "' of vbuffer_sub", 2) end
		local rc = api.sub_set_byte(self, k - 1, v)
		if rc ~= 0 then fail(rc) end
	end,
	__len = Sub.size,
	__tostring = function (self) return 'vbuffer_sub' end,
})

-- vbuffer_iterator. A blocking one (streamed rules) has a ctx: its
-- coroutine yields while the bytes it needs have not arrived.

local function available(it)
	if it.ctx and it.ctx.closed then return 0 end
	local rc = api.iter_available(it.c, SIZE)
	if rc ~= 0 then fail(rc) end
	return tonumber(SIZE[0])
end

local function at_eof(it)
	if it.ctx and it.ctx.closed then return true end
	local rc = api.iter_state(it.c, INT, INT + 1)
	if rc ~= 0 then fail(rc) end
	return INT[0] ~= 0 or (it.ctx and it.ctx.eof and INT[1] ~= 0)
end

local function advance_raw(it, n)
	if it.ctx and it.ctx.closed then return 0 end
	local rc = api.iter_advance(it.c, n, SIZE)
	if rc ~= 0 then fail(rc) end
	return tonumber(SIZE[0])
end

-- Yields to the stream; on resume the iterator stands where the new bytes start.
local function block(it)
	coroutine.yield()
	local ctx = it.ctx
	if ctx.current ~= nil then
		local meter = api.iter_meter(it.c)
		ffi.copy(it.c, ctx.current, ffi.sizeof(iter_t))
		api.iter_set_meter(it.c, meter)
	end
end

function Iterator.available(self)
	return available(self)
end

function Iterator.copy(self)
	local c = iter_t()
	ffi.copy(c, self.c, ffi.sizeof(iter_t))
	return new_iterator(c)
end

function Iterator.advance(self, n)
	if n == 'available' then return advance_raw(self, ALL) end
	local size = (n ~= nil and n ~= 'all') and tonumber(n) or nil
	if not self.ctx then return advance_raw(self, size or ALL) end
	local rem = size or -1
	while true do
		local adv = advance_raw(self, rem >= 0 and rem or ALL)
		if at_eof(self) then break end
		if rem >= 0 then rem = rem - adv end
		if rem == 0 then break end
		block(self)
	end
	if size then return size - rem end
	return 0
end

function Iterator.check_available(self, n, nonblocking)
	local avail = available(self)
	if avail >= n or nonblocking or not self.ctx then return avail >= n, avail end
	local begin
	local rem = n
	while true do
		local here = self:copy()
		local adv = advance_raw(self, rem)
		if not begin and adv > 0 then begin = here end
		if at_eof(self) then break end
		rem = rem - adv
		if rem <= 0 then break end
		block(self)
	end
	if begin then self:move_to(begin) end
	if rem <= 0 then return true, n end
	return false, n - rem
end

function Iterator.sub(self, n, split)
	local avail_mode = n == 'available'
	local size = (n ~= nil and n ~= 'all' and not avail_mode) and tonumber(n) or nil
	if not self.ctx then
		local s = sub_t()
		local len = size or ALL
		local rc = api.iter_sub(self.c, len, split and 1 or 0, s)
		if rc ~= 0 then fail(rc) end
		if avail_mode and api.sub_size(s, SIZE) == 0 and SIZE[0] == 0 then return nil end
		return s
	end
	if size == 0 then
		local s = sub_t()
		local rc = api.iter_sub(self.c, 0, 0, s)
		if rc ~= 0 then fail(rc) end
		return s
	end
	local rem = size or -1
	local begin
	local here = self:copy()
	while true do
		local adv = advance_raw(self, rem >= 0 and rem or ALL)
		if not begin and adv > 0 then begin = here end
		if at_eof(self) then break end
		if avail_mode then
			if adv > 0 then break end
		else
			if rem >= 0 then rem = rem - adv end
			if rem == 0 then break end
		end
		block(self)
		here = self:copy()
	end
	if begin == nil then return nil end
	if split then
		local rc = api.iter_split(self.c)
		if rc ~= 0 then fail(rc) end
	end
	-- The (begin, end) range between the saved start and here.
	local s = sub_t()
	local len = 0
	local c = begin.c
	local rc = api.iter_available(c, SIZE)
	if rc ~= 0 then fail(rc) end
	local total = tonumber(SIZE[0])
	rc = api.iter_available(self.c, SIZE)
	if rc ~= 0 then fail(rc) end
	len = total - tonumber(SIZE[0])
	rc = api.iter_sub(c, len, 0, s)
	if rc ~= 0 then fail(rc) end
	return s
end

function Iterator.wait(self)
	if not self.ctx then return at_eof(self) end
	while true do
		if available(self) > 0 then return true end
		if at_eof(self) then return false end
		block(self)
	end
end

function Iterator.foreach_available(self)
	return function (iter)
		return iter:sub('available')
	end, self, 0
end

function Iterator.insert(self, buf)
	local s = sub_t()
	local rc = api.iter_insert(rt, self.c, buf.slot, buf.gen, s)
	if rc ~= 0 then fail(rc) end
	return s
end

function Iterator.restore(self, buf, clone)
	local rc = api.iter_restore(rt, self.c, buf.slot, buf.gen, clone and 1 or 0)
	if rc ~= 0 then fail(rc) end
end

function Iterator.split(self)
	local rc = api.iter_split(self.c)
	if rc ~= 0 then fail(rc) end
end

function Iterator.mark(self, readonly)
	local rc = api.iter_mark(self.c, readonly and 1 or 0)
	if rc ~= 0 then fail(rc) end
end

function Iterator.unmark(self)
	local rc = api.iter_unmark(self.c)
	if rc ~= 0 then fail(rc) end
end

function Iterator.move_to(self, other)
	local meter = api.iter_meter(other.c)
	ffi.copy(self.c, other.c, ffi.sizeof(iter_t))
	api.iter_set_meter(self.c, meter)
end

local iter_props = {
	meter = function (self) return tonumber(api.iter_meter(self.c)) end,
	iseof = function (self) return at_eof(self) end,
}

Iterator.__index = function (self, k)
	local m = Iterator[k]
	if m ~= nil then return m end
	local p = iter_props[k]
	if p ~= nil then return p(self) end
	error("unknown field '" .. tostring(k) .. "' of vbuffer_iterator", 2)
end
Iterator.__newindex = function (self, k, v)
	if k == 'meter' then api.iter_set_meter(self.c, v) return end
	error("unknown field '" .. tostring(k) .. "' of vbuffer_iterator", 2)
end
Iterator.__tostring = function () return 'vbuffer_iterator' end

M.new_iterator = new_iterator
M.iter_t = iter_t
M.sub_t = sub_t

return M
