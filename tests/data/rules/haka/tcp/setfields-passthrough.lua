-- setfields-passthrough: every write is refused in pass-through; print each
-- pcall result.
local tcp = require('protocol/tcp')

local writes = {
	function (p) p.srcport = 3 end,
	function (p) p.dstport = 65535 end,
	function (p) p.seq = 123456 end,
	function (p) p.ack_seq = 654321 end,
	function (p) p.res = 0 end,
	function (p) p.hdr_len = 20 end,
}
for _, f in ipairs { 'fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ecn', 'cwr' } do
	writes[#writes + 1] = function (p) p.flags[f] = true end
end
writes[#writes + 1] = function (p) p.window_size = 32 end
writes[#writes + 1] = function (p) p.urgent_pointer = 15 end

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		for _, w in ipairs(writes) do print(pcall(w, pkt)) end
	end,
}
