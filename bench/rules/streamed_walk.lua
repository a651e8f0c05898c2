-- Issue 5 bench: a streamed rule walking every available byte range with the iterator.
local tcp_connection = require('protocol/tcp_connection')
local total = 0
haka.rule{
	on = tcp_connection.events.receive_data,
	options = { streamed = true },
	eval = function (flow, iter)
		while iter:wait() do
			local sub = iter:sub('available')
			if sub then total = total + #sub end
		end
	end
}
