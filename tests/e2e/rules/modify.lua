-- stream_modify.sh's rule: the client's stream gets a 100-byte header
-- inserted before its first byte; the server's stream loses its first 10
-- bytes. Both change the streams' lengths, so every later sequence number,
-- acknowledgement and SACK block of the connection must be translated for
-- the real TCP stacks at both ends to accept them.
local tcp_connection = require('protocol/tcp_connection')
local vbuffer = require('haka.vbuffer')

local HEADER = string.rep("INSERTED-BY-HAKA-DPDK!", 5):sub(1, 100)
local seen = {}

haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data, dir)
		local key = tostring(flow.srcport) .. dir
		if seen[key] then return end
		seen[key] = true
		if dir == 'up' then
			data:pos('begin'):insert(vbuffer.from(HEADER))
		else
			data:sub(0, 10):erase()
		end
	end
}
