-- hook-up-rule: ports of every received TCP packet.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		print(string.format("srcport:%d - dstport:%d", pkt.srcport, pkt.dstport))
	end,
}
