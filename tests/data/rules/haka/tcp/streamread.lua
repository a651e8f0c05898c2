-- streamread (and streamread-passthrough): each arrival of new bytes.
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		print(data:asstring())
	end,
}
