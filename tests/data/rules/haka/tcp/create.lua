-- create: for every packet to or from port 4444, forge a copy shifted by 1000
-- in sequence space and by 10 in ports, and inject it; more than 10 is a loop.
require('protocol/ipv4')
require('protocol/tcp')

local left = 10

haka.rule {
	on = haka.dissectors.tcp.events.receive_packet,
	eval = function (pkt)
		if pkt.dstport ~= 4444 and pkt.srcport ~= 4444 then return end
		if left == 0 then error("loop detected") end
		left = left - 1
		local ip = haka.dissectors.ipv4.create(haka.dissectors.packet.create())
		ip.ttl = pkt.ttl
		ip.src = pkt.src
		ip.dst = pkt.dst
		local n = haka.dissectors.tcp.create(ip)
		n.window_size = pkt.window_size
		n.seq = pkt.seq + 1000
		if pkt.ack_seq ~= 0 then n.ack_seq = pkt.ack_seq + 1000 end
		n.flags.all = pkt.flags.all
		n.srcport = pkt.srcport + 10
		n.dstport = pkt.dstport + 10
		n.payload:append(pkt.payload:clone())
		n:inject()
	end,
}
