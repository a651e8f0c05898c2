-- streammodif-rst: reset beyond 30 new bytes, else insert "Haka" every 10 bytes.
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		if #data > 30 then
			flow:reset()
			return
		end
		local it = data:pos('begin')
		while it:available() > 0 do
			it:advance(10)
			it:insert(haka.vbuffer_from("Haka"))
		end
	end,
}
