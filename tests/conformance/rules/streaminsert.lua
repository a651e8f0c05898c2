-- From the start of the new data: insert "Haka", print the next 10 bytes, again.
local tcp_connection = require('protocol/tcp_connection')
local vbuffer = require('haka.vbuffer')
haka.rule{
	on = tcp_connection.events.receive_data,
	eval = function (flow, data)
		haka.log.debug("received stream len=%d", #data)
		local iter = data:pos('begin')
		while iter:available() > 0 do
			local b = vbuffer.allocate(4)
			b:sub(0, 1):setnumber(0x48)
			b:sub(1, 1):setnumber(0x61)
			b:sub(2, 1):setnumber(0x6b)
			b:sub(3, 1):setnumber(0x61)
			iter:insert(b)
			local shown = iter:sub(10)
			if not shown then break end
			print(shown:asstring())
		end
	end
}
