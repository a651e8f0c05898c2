-- streammodif-rst: reset beyond 30 new bytes; otherwise insert "Haka" before
-- every 10 bytes (at the start, then after each 10).
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		if #data > 30 then
			flow:reset()
			return
		end
		local it = data:pos('begin')
		while it:available() > 0 do
			local b = haka.vbuffer_allocate(4)
			b:sub():setfixedstring("Haka")
			it:insert(b)
			it:advance(10)
		end
	end,
}
