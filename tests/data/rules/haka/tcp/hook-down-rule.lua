-- hook-down-rule: ports of every TCP packet sent.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.send_packet,
	eval = function (pkt)
		print(string.format("srcport:%d - dstport:%d", pkt.srcport, pkt.dstport))
	end,
}
