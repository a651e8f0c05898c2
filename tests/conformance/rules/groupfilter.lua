-- A rule group on new_connection: port 80 or 22 is accepted, anything else
-- alerts and drops (the group's final function runs when no rule accepted).
local tcp_connection = require('protocol/tcp_connection')

local group = haka.rule_group{
	hook = tcp_connection.events.new_connection,
	name = "group",
	init = function (flow, pkt)
		haka.log.debug("Entering packet filtering rules : %d --> %d", pkt.srcport, pkt.dstport)
	end,
	final = function (flow, pkt)
		haka.alert{
			description = "Packet dropped : drop by default",
			targets = { haka.alert.service("tcp", pkt.dstport) }
		}
		pkt:drop()
	end,
	continue = function (ret, flow, pkt)
		return not ret
	end
}

group:rule{
	eval = function (flow, pkt)
		if pkt.dstport == 80 then
			haka.log("Authorizing traffic on port 80")
			return true
		end
	end
}

group:rule{
	eval = function (flow, pkt)
		if pkt.dstport == 22 then
			haka.log("Authorizing traffic on port 22")
			return true
		end
	end
}
