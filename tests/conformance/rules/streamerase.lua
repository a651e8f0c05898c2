-- Erase the first 10 bytes (refused in pass-through: the error closes the flow).
local tcp_connection = require('protocol/tcp_connection')
haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		data:sub(0, 10):erase()
	end
}
