-- Overwrite every TCP header field.
local tcp = require('protocol/tcp')
haka.rule{
	on = tcp.events.receive_packet,
	eval = function (pkt)
		pkt.srcport = 3
		pkt.dstport = 65535
		pkt.seq = 123456
		pkt.ack_seq = 654321
		pkt.res = 0
		pkt.hdr_len = 20
		pkt.flags.fin = true
		pkt.flags.syn = true
		pkt.flags.rst = true
		pkt.flags.psh = true
		pkt.flags.ack = true
		pkt.flags.urg = true
		pkt.flags.ecn = true
		pkt.flags.cwr = true
		pkt.window_size = 32
		pkt.urgent_pointer = 15
	end
}
