-- tcpfilter: port 80 passes, the rest is dropped. Haka's sample reads the
-- misspelt `destport` (an error on every packet); kept, as the case expects.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		if pkt.destport == 80 or pkt.srcport == 80 then
			haka.log("Authorizing trafic on port 80")
		else
			haka.log("Trafic not authorized on port %d", pkt.dstport)
			pkt:drop()
		end
	end,
}
