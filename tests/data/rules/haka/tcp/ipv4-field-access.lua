-- ipv4-field-access: addresses from the packet's IPv4 layer.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		print(string.format("IP : %s:%d > %s:%d", pkt.ip.src, pkt.srcport, pkt.ip.dst, pkt.dstport))
	end,
}
