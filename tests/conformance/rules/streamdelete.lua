-- From the start of the new data: erase 10 bytes, print the 10 after them, again.
local tcp_connection = require('protocol/tcp_connection')
haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		local iter = data:pos('begin')
		while iter:available() > 0 do
			iter:sub(10, true):erase()
			print(iter:sub(10):asstring())
		end
	end
}
