-- Haka's tcpfilter sample: log and accept port 80 traffic, drop the rest.
-- (Haka's sample misspelt dstport as destport on one side, which made every
-- packet from the server look unauthorised; this one spells both right.)
local tcp = require('protocol/tcp')
haka.rule{
	on = tcp.events.receive_packet,
	eval = function (pkt)
		if pkt.dstport == 80 or pkt.srcport == 80 then
			haka.log("Authorizing traffic on port 80")
		else
			haka.log("Trafic not authorized on port %d", pkt.dstport)
			pkt:drop()
		end
	end
}
