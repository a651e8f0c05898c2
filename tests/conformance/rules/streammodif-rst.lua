-- Reset past 30 bytes; otherwise insert "Haka" every 10 bytes.
local tcp_connection = require('protocol/tcp_connection')
local vbuffer = require('haka.vbuffer')
haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		if #data > 30 then
			flow:reset()
			return
		end
		local iter = data:pos('begin')
		while iter:available() > 0 do
			iter:insert(vbuffer.from("Haka"))
			if not iter:advance(10) then break end
		end
	end
}
