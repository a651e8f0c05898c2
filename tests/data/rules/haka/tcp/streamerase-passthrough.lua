-- streamerase-passthrough: erasing is refused in pass-through (read only buffer).
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		data:pos('begin'):sub(10, true):erase()
	end,
}
