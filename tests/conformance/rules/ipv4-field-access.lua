-- The addresses through the packet's ip layer.
local tcp = require('protocol/tcp')
haka.rule{
	on = tcp.events.receive_packet,
	eval = function (pkt)
		print(string.format("IP : %s:%d > %s:%d", pkt.ip.src, pkt.srcport, pkt.ip.dst, pkt.dstport))
	end
}
