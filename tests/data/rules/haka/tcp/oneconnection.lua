-- oneconnection (and interleavedconnection): log each connection's start
-- (from its SYN) and end (from the flow).
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp_connection.events.new_connection,
	eval = function (flow, pkt)
		haka.log("new tcp connection %s:%d -> %s:%d", pkt.src, pkt.srcport, pkt.dst, pkt.dstport)
	end,
}

haka.rule {
	on = tcp_connection.events.end_connection,
	eval = function (flow)
		haka.log("end tcp connection %s:%d -> %s:%d", flow.srcip, flow.srcport, flow.dstip, flow.dstport)
	end,
}
