-- getfields (and getfields-passthrough): print every TCP header field of
-- every packet, in the layout of Haka's reference text.
require('protocol/ipv4')
local tcp = require('protocol/tcp')

local function flag(set) return set and 1 or 0, set and "Set" or "Not set" end

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		local ok = pkt:verify_checksum()
		local f = pkt.flags
		print("----------TCP HEADER ---------")
		print(string.format("TCP Source Port: %d", pkt.srcport))
		print(string.format("TCP Destination Port: %d", pkt.dstport))
		print(string.format("TCP Sequence No: 0x%08x", pkt.seq))
		print(string.format("TCP Ack Sequence No: 0x%08x", pkt.ack_seq))
		print(string.format("TCP Reserved: 0x%1x", pkt.res))
		print(string.format("TCP Header Length: %d bytes", pkt.hdr_len))
		print(string.format("TCP Flags: 0x%02x", f.all))
		print(string.format("    %d... .... = FIN Flag: %s", flag(f.fin)))
		print(string.format("    .%d.. .... = SYN Flag: %s", flag(f.syn)))
		print(string.format("    ..%d. .... = RST Flag: %s", flag(f.rst)))
		print(string.format("    ...%d .... = PSH Flag: %s", flag(f.psh)))
		print(string.format("    .... %d... = ACK Flag: %s", flag(f.ack)))
		print(string.format("    .... .%d.. = URG Flag: %s", flag(f.urg)))
		print(string.format("    .... ..%d. = ECN Flag: %s", flag(f.ecn)))
		print(string.format("    .... ...%d = CWR Flag: %s", flag(f.cwr)))
		print(string.format("TCP Window Size: 0x%04x", pkt.window_size))
		print(string.format("TCP Checksum: 0x%04x", pkt.checksum))
		print(string.format("    [Good: %s]", ok and "True" or "False"))
		print(string.format("    [Bad: %s]", ok and "False" or "True"))
		print(string.format("TCP Urgent Pointer: 0x%04x", pkt.urgent_pointer))
		print()
	end,
}
