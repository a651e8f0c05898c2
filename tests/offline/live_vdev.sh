#!/usr/bin/env bash
# Live mode on in-memory vdevs (no root, no NIC): one and two workers forward
# between net_null ports with balanced accounting; net_ring ports pass nothing
# and still shut down clean; SIGINT stops the engine cleanly.
set -uo pipefail
bin=${HAKA_DPDK_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
eal_common=(--no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level='*:error')
cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: //; s/[,-].*//')
cpu=${cpu:-0}

check_json() { # FILE WORKERS
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want_workers = int(sys.argv[2])
t = d["total"]["packets"]
problems = []
if not d["accounting"]["ok"]:
    problems.append("accounting not ok: %s" % d["accounting"])
if len(d["workers"]) != want_workers:
    problems.append("workers %d, want %d" % (len(d["workers"]), want_workers))
if t["rx"] == 0 or t["tx"] != t["rx"] or t["dropped"] != 0:
    problems.append("packets %s" % t)
ports = {p["port"]: p for p in d["ports"]}
if ports[0]["ipackets"] != ports[1]["opackets"] or ports[1]["ipackets"] != ports[0]["opackets"]:
    problems.append("ports disagree: %s" % d["ports"])
if sum(w["packets"]["rx"] for w in d["workers"]) != t["rx"]:
    problems.append("workers do not sum to the total")
if want_workers > 1 and min(w["packets"]["rx"] for w in d["workers"]) == 0:
    problems.append("a worker received nothing: RSS did not spread the load")
print("; ".join(problems) if problems else "ok")
sys.exit(1 if problems else 0)
PY
}

run() { # NAME WORKERS EAL-LCORE-ARGS...
  local name=$1 workers=$2
  shift 2
  if ! "$bin" "$@" "${eal_common[@]}" --vdev net_null0,size=64 --vdev net_null1,size=64 -- \
      --duration 1 --stats-interval 0 --summary-json "$tmp/$name.json" >"$tmp/$name.out" 2>&1; then
    echo "FAIL $name: exit $?: $(cat "$tmp/$name.out")"; fails=$((fails + 1)); return
  fi
  check_json "$tmp/$name.json" "$workers" || { echo "FAIL $name"; fails=$((fails + 1)); return; }
  echo "ok $name"
}

run one-lcore 1 -l "$cpu"
run main-plus-worker 1 --lcores "0@$cpu,1@$cpu"
run two-workers 2 --lcores "0@$cpu,1@$cpu,2@$cpu"

# net_ring ports receive nothing: the engine idles and stops clean.
if "$bin" -l "$cpu" "${eal_common[@]}" --vdev net_ring0 --vdev net_ring1 -- --duration 0.5 --stats-interval 0 \
    --summary-json "$tmp/ring.json" >"$tmp/ring.out" 2>&1 && grep -q '"ok":true' "$tmp/ring.json"; then
  echo "ok ring-idle"
else
  echo "FAIL ring-idle: $(cat "$tmp/ring.out")"; fails=$((fails + 1))
fi

# SIGINT: clean stop, exit 0, accounting checked.
"$bin" -l "$cpu" "${eal_common[@]}" --vdev net_null0 --vdev net_null1 -- --stats-interval 0 \
  --summary-json "$tmp/sig.json" >"$tmp/sig.out" 2>&1 &
pid=$!
sleep 1.5
kill -INT "$pid"
if wait "$pid" && check_json "$tmp/sig.json" 1 >/dev/null; then
  echo "ok sigint"
else
  echo "FAIL sigint: $(cat "$tmp/sig.out")"; fails=$((fails + 1))
fi

# An odd number of ports cannot be paired.
if "$bin" -l "$cpu" "${eal_common[@]}" --vdev net_null0 -- --duration 1 >"$tmp/odd.out" 2>&1; then
  echo "FAIL odd-ports: accepted"; fails=$((fails + 1))
elif grep -q 'port pairs' "$tmp/odd.out"; then
  echo "ok odd-ports"
else
  echo "FAIL odd-ports: $(cat "$tmp/odd.out")"; fails=$((fails + 1))
fi

echo "live_vdev: $fails failed"
[ "$fails" -eq 0 ]
