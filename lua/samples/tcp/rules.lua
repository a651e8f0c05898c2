-- The seed's example rule set for TCP (Haka's sample/ruleset/tcp), written
-- for this runtime: accept HTTP and SSH from the client network to the server
-- network, drop (with an alert) every other new connection.
require('protocol/ipv4')
require('protocol/tcp')
local tcp_connection = require('protocol/tcp_connection')

local clients = ipv4.network("192.168.10.0/25")
local servers = ipv4.network("192.168.20.0/25")

-- Registered first: a catch-all that later, more specific entries override
-- (the last eligible entry wins).
haka.policy {
	on = tcp_connection.policies.new_connection,
	name = "drop by default",
	action = {
		haka.policy.alert { description = "drop by default" },
		haka.policy.drop,
	},
}

haka.policy {
	on = tcp_connection.policies.new_connection,
	name = "authorizing http traffic",
	srcip = haka.policy.ipv4_in_network(clients),
	dstip = haka.policy.ipv4_in_network(servers),
	dstport = 80,
	action = haka.policy.accept,
}

haka.policy {
	on = tcp_connection.policies.new_connection,
	name = "authorizing ssh traffic (no available dissector)",
	srcip = haka.policy.ipv4_in_network(clients),
	dstip = haka.policy.ipv4_in_network(servers),
	dstport = 22,
	action = haka.policy.accept,
}

require('security')
