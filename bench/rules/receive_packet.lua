-- Issue 5 bench: a receive_packet rule reading a header field.
local tcp_connection = require('protocol/tcp_connection')
local n = 0
haka.rule{
	on = tcp_connection.events.receive_packet,
	eval = function (flow, pkt, dir)
		if pkt.window_size > 0 then n = n + 1 end
	end
}
