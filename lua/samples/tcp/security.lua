-- Security rules of the TCP sample (Haka's sample/ruleset/tcp/security.lua,
-- written for this runtime): Xmas scans (FIN+PSH+URG) raise an alert and are
-- dropped; the classic /bin/sh shellcode is matched across segment and packet
-- boundaries on every stream, and its connection dropped.
local tcp = require('protocol/tcp')
local tcp_connection = require('protocol/tcp_connection')
local rem = require('regexp/pcre')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		-- Xmas scan, as made by nmap -sX <IP>
		local flags = pkt.flags
		if flags.fin and flags.psh and flags.urg then
			haka.alert {
				description = "Xmas attack detected",
				sources = haka.alert.address(pkt.src),
				targets = haka.alert.address(pkt.dst),
			}
			pkt:drop()
		end
	end,
}

-- Haka's %xNN escapes; EXTENDED ignores the spaces between the bytes.
local shellcode = "%xeb %x1f %x5e %x89 %x76 %x08 %x31 %xc0" ..
	"%x88 %x46 %x07 %x89 %x46 %x0c %xb0 %x0b" ..
	"%x89 %xf3 %x8d %x4e %x08 %x8d %x56 %x0c" ..
	"%xcd %x80 %x31 %xdb %x89 %xd8 %x40 %xcd" ..
	"%x80 %xe8 %xdc %xff %xff %xff /bin/sh"

local re = rem.re:compile(shellcode, rem.re.EXTENDED)

haka.rule {
	on = tcp_connection.events.receive_data,
	options = { streamed = true },
	eval = function (flow, iter)
		-- One Hyperscan stream per direction: re:match waits for more bytes
		-- until the pattern is complete or the stream ends.
		if re:match(iter) then
			haka.alert {
				description = "/bin/sh shellcode detected",
				sources = haka.alert.address(flow.srcip),
				targets = haka.alert.address(flow.dstip),
			}
			flow:drop()
		end
	end,
}
