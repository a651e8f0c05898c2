-- filter: only connections to port 80 get through.
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.new_connection,
	eval = function (flow, pkt)
		if pkt.dstport ~= 80 then pkt:drop() end
	end,
}
