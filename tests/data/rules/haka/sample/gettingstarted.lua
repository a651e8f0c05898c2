-- gettingstarted: bad TCP checksums alert and drop; connections to the web
-- server are logged.
local ipv4 = require('protocol/ipv4')
local tcp = require('protocol/tcp')
local tcp_connection = require('protocol/tcp_connection')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt)
		if not pkt:verify_checksum() then
			haka.alert { description = "Bad TCP checksum" }
			pkt:drop()
		end
	end,
}

local web = ipv4.addr("192.168.20.1")

haka.rule {
	on = tcp_connection.events.new_connection,
	eval = function (flow, pkt)
		if pkt.dst == web and pkt.dstport == 80 then
			haka.log.debug("Traffic on HTTP port from %s", pkt.src)
		end
	end,
}
