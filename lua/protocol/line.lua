-- line: a small line-based protocol dissector built on
-- tcp_connection.helper.TcpFlowDissector, as an example of the helper.
--
--   local line = require('protocol/line')
--   line.install_tcp_rule(7777)            -- or policy/dissect()
--   haka.rule{ on = line.events.receive_line,
--              eval = function (d, text, direction) ... end }
--
-- Each complete line (without its "\n" or "\r\n") of either direction fires
-- receive_line(dissector, line, direction); a line longer than max_line
-- fires line_too_long(dissector, direction) and the connection is dropped.
local tcp_connection = require('protocol/tcp_connection')

local LineDissector = haka.dissector.new {
	type = tcp_connection.helper.TcpFlowDissector,
	name = 'line',
}

LineDissector:register_event('receive_line')
LineDissector:register_event('line_too_long')

LineDissector.max_line = 4096

function LineDissector.method.__init(self, flow)
	tcp_connection.helper.TcpFlowDissector.method.__init(self, flow)
	rawset(self, '_partial', { up = '', down = '' })
	rawset(self, 'lines', 0)
end

-- The state machine: one reading state; each update consumes the bytes
-- available and fires one event per complete line.
LineDissector.state_machine = haka.state_machine.new("line", function ()
	state_type {
		events = { 'data', 'overflow' },
		update = function (self, sm, iter, direction)
			sm:trigger('data', iter, direction)
		end,
	}

	reading = state()
	closed = state()

	reading:on {
		event = events.data,
		execute = function (self, iter, direction)
			local partial = rawget(self, '_partial')
			local s = iter:sub('available')
			local text = partial[direction] .. (s and s:asstring() or '')
			local start = 1
			while true do
				local nl = text:find('\n', start, true)
				if nl == nil then break end
				local l = text:sub(start, nl - 1)
				if l:sub(-1) == '\r' then l = l:sub(1, -2) end
				rawset(self, 'lines', rawget(self, 'lines') + 1)
				self:trigger('receive_line', l, direction)
				start = nl + 1
			end
			partial[direction] = text:sub(start)
			if #partial[direction] > LineDissector.max_line then
				rawget(self, '_state'):trigger('overflow', direction)
			end
		end,
	}

	reading:on {
		event = events.overflow,
		execute = function (self, direction)
			self:trigger('line_too_long', direction)
			self:drop()
		end,
		jump = closed,
	}

	closed:on {
		event = events.data,
		execute = function (self, iter) iter:advance('available') end,
	}

	initial(reading)
end)

local line = haka.dissectors.line
line.class = LineDissector
function line.install_tcp_rule(port) LineDissector:install_tcp_rule(port) end
function line.dissect(flow) return LineDissector:dissect(flow) end

return line
