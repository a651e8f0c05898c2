#!/usr/bin/env bash
# --patterns: one Hyperscan scan per stream direction finds patterns split
# across out-of-order segments exactly once, at the very start and end of
# streams, never in bytes the receiver does not get (a copy the overlap
# policy discarded, a segment out of window), and what the scan saw is what
# left (the output pcap's payloads). Bad pattern files are refused.
set -uo pipefail
bin=${HAKA_DPDK_BIN:?}
src=${HAKA_DPDK_SOURCE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
cap="$src/tests/data/patterns/split.pcap"
printf '# planted patterns\nEVILPATTERN\n^ATSTART\nATEND$\n' >"$tmp/p.txt"

check() { # POLICY WANT_EVIL
  local policy=$1 want=$2
  rm -rf "$tmp/d"
  if ! "$bin" --pcap "$cap" --out "$tmp/out.pcap" --patterns "$tmp/p.txt" --overlap-policy "$policy" \
      --dump-streams "$tmp/d" --summary-json "$tmp/s.json" --quiet >"$tmp/alerts.txt" 2>"$tmp/err.txt"; then
    echo "FAIL $policy: exit $?: $(cat "$tmp/err.txt")"; fails=$((fails + 1)); return
  fi
  if /usr/bin/python3 - "$tmp" "$want" "$policy" <<'PY'
import json, os, sys
tmp, want, policy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from scapy.all import rdpcap, TCP, Raw
alerts = open(os.path.join(tmp, "alerts.txt")).read()
s = json.load(open(os.path.join(tmp, "s.json")))
problems = []
count = lambda p: alerts.count("matched: " + p + "\n")
if count("EVILPATTERN") != want:
    problems.append("EVILPATTERN matched %d times, want %d" % (count("EVILPATTERN"), want))
if count("^ATSTART") != 1 or count("ATEND$") != 1:
    problems.append("start/end anchored matches: %d %d" % (count("^ATSTART"), count("ATEND$")))
if s["patterns"]["matches"] != want + 2:
    problems.append("patterns.matches %d" % s["patterns"]["matches"])
up = open(os.path.join(tmp, "d", "10.1.0.1_40000-10.1.0.2_80.up"), "rb").read()
if (b"EVILPATTERN" in up) != (want == 1):
    problems.append("dumped stream %r" % up)
# What left: the client's payloads put back in sequence order.
seen = {}
for p in rdpcap(os.path.join(tmp, "out.pcap")):
    if TCP in p and p[TCP].sport == 40000 and Raw in p:
        for i, b in enumerate(bytes(p[Raw].load)):
            seen.setdefault(p[TCP].seq - 1001 + i, set()).add(b)
if any(len(v) != 1 for v in seen.values()):
    problems.append("two versions of the same bytes left")
out = bytes(next(iter(seen[i])) for i in sorted(seen) if 0 <= i < 10_000_000)
if out != up:
    problems.append("output %r != dump %r" % (out, up))
print("; ".join(problems) or "ok")
sys.exit(1 if problems else 0)
PY
  then echo "ok $policy"; else echo "FAIL $policy"; fails=$((fails + 1)); fi
}

for p in first bsd linux windows; do check "$p" 0; done
check last 1

# A second run into the same --dump-streams directory replaces the files.
cp "$tmp/d/10.1.0.1_40000-10.1.0.2_80.up" "$tmp/once"
"$bin" --pcap "$cap" --overlap-policy last --dump-streams "$tmp/d" --quiet >/dev/null 2>&1
if cmp -s "$tmp/once" "$tmp/d/10.1.0.1_40000-10.1.0.2_80.up"; then echo "ok dump-rerun"
else echo "FAIL a second run into the dump directory changed the file (appended?)"; fails=$((fails + 1)); fi

# Patterns declared by a Lua rule (options.patterns): the rule runs on each
# match only (nothing per data event), in the flow's context; its drop stops
# the connection, so no later match is reported.
rules="$src/tests/data/patterns/rule_patterns.lua"
for policy in first last; do
  if ! "$bin" --pcap "$cap" --rules "$rules" --overlap-policy "$policy" --summary-json "$tmp/r.json" --quiet \
      >"$tmp/r.txt" 2>&1; then
    echo "FAIL rule patterns $policy: $(cat "$tmp/r.txt")"; fails=$((fails + 1)); continue
  fi
  if [ "$policy" = first ]; then
    want="info external: pattern 2 (atstart) at 0..7 down from 10.1.0.1
info external: pattern 3 (ATEND$) at 21..26 up from 10.1.0.1"
    drops=0
  else
    want="info external: pattern 2 (atstart) at 0..7 down from 10.1.0.1
info external: pattern 1 (EVILPATTERN) at 4..15 up from 10.1.0.1"
    drops=1
  fi
  got_drops=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['connections']['closed_dropped'])" "$tmp/r.json")
  if [ "$(cat "$tmp/r.txt")" = "$want" ] && [ "$got_drops" = "$drops" ]; then
    echo "ok rule patterns $policy"
  else
    echo "FAIL rule patterns $policy: $(cat "$tmp/r.txt") (closed_dropped $got_drops)"; fails=$((fails + 1))
  fi
done
printf 'haka.rule{ on = require("protocol/tcp_connection").events.receive_data,\n  options = { patterns = { "ok", "a(b" } }, eval = function () end }\n' >"$tmp/bad.lua"
if "$bin" --pcap "$cap" --rules "$tmp/bad.lua" --quiet >"$tmp/o" 2>&1; then
  echo "FAIL bad rule pattern accepted"; fails=$((fails + 1))
elif grep -q 'bad.lua:1: pattern #1 (id 2) "a(b": Missing close parenthesis' "$tmp/o"; then
  echo "ok bad-rule-pattern"
else
  echo "FAIL bad rule pattern message: $(cat "$tmp/o")"; fails=$((fails + 1))
fi

# A pattern Hyperscan cannot compile: refused at start, naming file and line.
printf 'good\n\na(b\n' >"$tmp/bad.txt"
if "$bin" --pcap "$cap" --patterns "$tmp/bad.txt" --quiet >"$tmp/o" 2>&1; then
  echo "FAIL bad pattern accepted"; fails=$((fails + 1))
elif grep -q "bad.txt:3: .*a(b.*Missing close parenthesis" "$tmp/o"; then
  echo "ok bad-pattern"
else
  echo "FAIL bad pattern message: $(cat "$tmp/o")"; fails=$((fails + 1))
fi

echo "patterns: $fails failed"
[ "$fails" -eq 0 ]
