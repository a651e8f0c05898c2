-- Security rules of the TCP sample: Xmas scans (FIN+PSH+URG) raise an alert
-- and are dropped. Haka's sample also matched a /bin/sh shellcode across
-- segments with its regexp module; that rule is in shellcode.lua and needs
-- require('regexp/pcre') (lib/match), loaded only when that module exists.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
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

if pcall(require, 'regexp/pcre') then
	require('shellcode')
end
