-- setfields: overwrite every TCP header field.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		pkt.srcport = 3
		pkt.dstport = 65535
		pkt.seq = 123456
		pkt.ack_seq = 654321
		pkt.res = 0
		pkt.hdr_len = 20
		for _, f in ipairs { 'fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ecn', 'cwr' } do
			pkt.flags[f] = true
		end
		pkt.window_size = 32
		pkt.urgent_pointer = 15
	end,
}
