-- Issue 5 bench: a plain receive_data rule that reads #data.
local tcp_connection = require('protocol/tcp_connection')
local total = 0
haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		total = total + #data
	end
}
