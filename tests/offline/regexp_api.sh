#!/usr/bin/env bash
# Haka's regexp API in streamed rules (lua/regexp/pcre.lua), run by the real
# executable over tests/data/patterns/split.pcap (patterns split across
# out-of-order segments, an overlapping copy with other bytes, a pattern at
# the very start of a stream and one at its very end): each is found exactly
# once, with the right bytes and offsets, and EVILPATTERN only when the
# overlap policy keeps the copy that carries it (as the engine-level scan,
# patterns.sh). The sample rule set's shellcode rule is covered by the
# standard-tcp conformance case.
set -uo pipefail
bin=${HAKA_DPDK_BIN:?}
src=${HAKA_DPDK_SOURCE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
cat >"$tmp/rules.lua" <<'LUA'
local tc = require('protocol/tcp_connection')
local rem = require('regexp/pcre')
for _, p in ipairs{ 'EVILPATTERN', '^ATSTART', 'ATEND$' } do
	local re = rem.re:compile(p, rem.re.CASE_INSENSITIVE)
	haka.rule{ on = tc.events.receive_data, options = { streamed = true },
		eval = function (flow, iter, dir)
			while true do
				local s = re:match(iter, true)
				if not s then break end
				print(p, dir, s:asstring(), iter.meter)
			end
		end }
end
LUA
for policy in first last; do
  if ! "$bin" --pcap "$src/tests/data/patterns/split.pcap" --rules "$tmp/rules.lua" --overlap-policy "$policy" \
      --summary-json "$tmp/s.json" --quiet >"$tmp/out.txt" 2>&1; then
    echo "FAIL $policy: $(cat "$tmp/out.txt")"; fails=$((fails + 1)); continue
  fi
  want=$'^ATSTART down ATSTART 7\nATEND$ up ATEND 26'
  [ "$policy" = last ] && want=$'^ATSTART down ATSTART 7\nEVILPATTERN up EVILPATTERN 15\nATEND$ up ATEND 26'
  # The API's scans are reported too: one match per line printed.
  matches=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['regexp']['matches'])" "$tmp/s.json")
  if [ "$(cat "$tmp/out.txt")" = "$want" ] && [ "$matches" = "$(printf '%s\n' "$want" | wc -l)" ]; then
    echo "ok $policy"
  else
    echo "FAIL $policy: got (regexp matches counted: $matches)"; cat "$tmp/out.txt"; fails=$((fails + 1))
  fi
done
echo "regexp_api: $fails failed"
[ "$fails" -eq 0 ]
