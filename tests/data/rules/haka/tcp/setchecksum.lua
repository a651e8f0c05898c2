-- setchecksum: recompute every TCP checksum.
local tcp = require('protocol/tcp')

haka.rule {
	on = tcp.events.receive_packet,
	eval = function (pkt) pkt:compute_checksum() end,
}
