-- streamdelete: erase 10 bytes, show the next 10, until the new bytes run out.
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		local it = data:pos('begin')
		while it:available() > 0 do
			it:sub(10, true):erase()
			print(it:sub(10):asstring())
		end
	end,
}
