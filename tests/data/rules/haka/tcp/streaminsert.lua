-- streaminsert (and streaminsert-passthrough): insert "Haka" every 10 bytes.
local tcp_connection = require('protocol/tcp_connection')

local function haka_bytes()
	local b = haka.vbuffer_allocate(4)
	b[1], b[2], b[3], b[4] = 0x48, 0x61, 0x6b, 0x61
	return b
end

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		local it = data:pos('begin')
		while it:available() > 0 do
			it:insert(haka_bytes())
			print(it:sub(10):asstring())
		end
	end,
}
