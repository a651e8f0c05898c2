-- The classic /bin/sh shellcode, matched across segment boundaries on the
-- client and server streams; the connection is dropped on a match.
local rem = require('regexp/pcre')

local pattern = "%xeb %x1f %x5e %x89 %x76 %x08 %x31 %xc0" ..
	"%x88 %x46 %x07 %x89 %x46 %x0c %xb0 %x0b" ..
	"%x89 %xf3 %x8d %x4e %x08 %x8d %x56 %x0c" ..
	"%xcd %x80 %x31 %xdb %x89 %xd8 %x40 %xcd" ..
	"%x80 %xe8 %xdc %xff %xff %xff /bin/sh"

local re = rem.re:compile(pattern, rem.re.EXTENDED)

haka.rule {
	on = haka.dissectors.tcp_connection.events.receive_data,
	options = { streamed = true },
	eval = function (flow, iter)
		if re:match(iter) then
			haka.alert {
				description = "/bin/sh shellcode detected",
				sources = haka.alert.address(flow.srcip),
				targets = haka.alert.address(flow.dstip),
			}
			flow:drop()
		end
	end,
}
