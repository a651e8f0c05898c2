-- stream-rst: reset the connection once more than 10 new bytes arrive.
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		if #data > 10 then flow:reset() end
	end,
}
