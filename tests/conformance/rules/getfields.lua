-- Prints every TCP header field of every packet, in the reference's layout.
local tcp = require('protocol/tcp')

-- Haka's picture of the flag byte: the flag's bit as a digit among dots,
-- FIN first (Haka's own bit order).
local function flag(name, pos, set)
	local bits = {}
	for i = 0, 7 do bits[#bits + 1] = i == pos and (set and "1" or "0") or "." end
	local mask = table.concat(bits, "", 1, 4) .. " " .. table.concat(bits, "", 5, 8)
	return string.format("    %s = %s Flag: %s", mask, name, set and "Set" or "Not set")
end

local function py(b) return b and "True" or "False" end

haka.rule{
	on = tcp.events.receive_packet,
	eval = function (pkt)
		print("----------TCP HEADER ---------")
		print(string.format("TCP Source Port: %d", pkt.srcport))
		print(string.format("TCP Destination Port: %d", pkt.dstport))
		print(string.format("TCP Sequence No: 0x%x", pkt.seq))
		print(string.format("TCP Ack Sequence No: 0x%x", pkt.ack_seq))
		print(string.format("TCP Reserved: 0x%x", pkt.res))
		print(string.format("TCP Header Length: %d bytes", pkt.hdr_len))
		print(string.format("TCP Flags: 0x%02x", pkt.flags.all))
		print(flag("FIN", 0, pkt.flags.fin))
		print(flag("SYN", 1, pkt.flags.syn))
		print(flag("RST", 2, pkt.flags.rst))
		print(flag("PSH", 3, pkt.flags.psh))
		print(flag("ACK", 4, pkt.flags.ack))
		print(flag("URG", 5, pkt.flags.urg))
		print(flag("ECN", 6, pkt.flags.ecn))
		print(flag("CWR", 7, pkt.flags.cwr))
		print(string.format("TCP Window Size: 0x%04x", pkt.window_size))
		print(string.format("TCP Checksum: 0x%04x", pkt.checksum))
		local good = pkt:verify_checksum()
		print(string.format("    [Good: %s]", py(good)))
		print(string.format("    [Bad: %s]", py(not good)))
		print(string.format("TCP Urgent Pointer: 0x%04x", pkt.urgent_pointer))
		print("")
	end
}
