-- ipv6: addresses (128 bits, kept as their 16 bytes). Haka had no IPv6;
-- connections and packets over IPv6 give these where IPv4 gives ipv4.addr.
local ipv6 = { name = 'ipv6' }

local Addr = {}
Addr.__index = Addr

-- RFC 5952 text: lower-case hex groups, the longest run (>= 2) of zero groups as "::".
Addr.__tostring = function (a)
	local g = {}
	for i = 0, 7 do
		g[i + 1] = a.bytes:byte(2 * i + 1) * 256 + a.bytes:byte(2 * i + 2)
	end
	local best, best_len, cur, cur_len = 0, 0, 0, 0
	for i = 1, 8 do
		if g[i] == 0 then
			if cur_len == 0 then cur = i end
			cur_len = cur_len + 1
			if cur_len > best_len then best, best_len = cur, cur_len end
		else
			cur_len = 0
		end
	end
	local parts = {}
	local i = 1
	while i <= 8 do
		if best_len >= 2 and i == best then
			parts[#parts + 1] = (i == 1) and ':' or ''
			i = i + best_len
			if i > 8 then parts[#parts + 1] = '' end
		else
			parts[#parts + 1] = string.format('%x', g[i])
			i = i + 1
		end
	end
	return table.concat(parts, ':')
end
Addr.__eq = function (a, b) return a.bytes == b.bytes end
Addr.__lt = function (a, b) return a.bytes < b.bytes end
Addr.__le = function (a, b) return a.bytes <= b.bytes end

function ipv6.addr(bytes)
	if type(bytes) ~= 'string' or #bytes ~= 16 then error("ipv6.addr expects 16 bytes", 2) end
	return setmetatable({ bytes = bytes }, Addr)
end

function ipv6.isaddr(a) return getmetatable(a) == Addr end

haka.dissectors.ipv6 = ipv6
return ipv6
