-- patterns.sh: a rule declaring patterns (scanned by the engine, the rule called on matches only);
-- it drops the connection on EVILPATTERN.
local tcp_connection = require('protocol/tcp_connection')
haka.rule{
	on = tcp_connection.events.receive_data,
	options = { patterns = { 'EVILPATTERN', { 'atstart', 1 }, 'ATEND$' } },
	eval = function (flow, match, dir)
		haka.log("pattern %d (%s) at %d..%d %s from %s", match.id, match.pattern, match.begin, match['end'], dir, flow.srcip)
		if match.pattern == 'EVILPATTERN' then flow:drop() end
	end
}
