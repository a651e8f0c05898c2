-- groupfilter: a rule group accepting ports 80 and 22; anything else alerts
-- and is dropped.
local tcp_connection = require('protocol/tcp_connection')

local group = haka.rule_group {
	name = "filter",
	on = tcp_connection.events.new_connection,
	init = function (flow, pkt)
		haka.log.debug("Entering packet filtering rules : %d --> %d", pkt.srcport, pkt.dstport)
	end,
	-- a rule returning true accepts: stop there
	continue = function (accepted) return not accepted end,
	final = function (flow, pkt)
		haka.alert {
			description = "Packet dropped : drop by default",
			targets = { haka.alert.service("tcp", pkt.dstport) },
		}
		pkt:drop()
	end,
}

for _, port in ipairs { 80, 22 } do
	group:rule {
		eval = function (flow, pkt)
			if pkt.dstport == port then
				haka.log("Authorizing traffic on port %d", port)
				return true
			end
		end,
	}
end
