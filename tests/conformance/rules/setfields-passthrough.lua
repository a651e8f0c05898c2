-- The same writes in pass-through: each is refused, and the refusal printed.
local tcp = require('protocol/tcp')
haka.rule{
	on = tcp.events.receive_packet,
	eval = function (pkt)
		local function try(f)
			local ok, err = pcall(f)
			print(string.format("%s %s", tostring(ok), tostring(err)))
		end
		try(function () pkt.srcport = 3 end)
		try(function () pkt.dstport = 65535 end)
		try(function () pkt.seq = 123456 end)
		try(function () pkt.ack_seq = 654321 end)
		try(function () pkt.res = 0 end)
		try(function () pkt.hdr_len = 20 end)
		try(function () pkt.flags.fin = true end)
		try(function () pkt.flags.syn = true end)
		try(function () pkt.flags.rst = true end)
		try(function () pkt.flags.psh = true end)
		try(function () pkt.flags.ack = true end)
		try(function () pkt.flags.urg = true end)
		try(function () pkt.flags.ecn = true end)
		try(function () pkt.flags.cwr = true end)
		try(function () pkt.window_size = 32 end)
		try(function () pkt.urgent_pointer = 15 end)
	end
}
