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

# Telemetry: /haka/stats and /haka/drops answer while the engine runs, with
# the same counters the summary ends with (rx grows, nothing dropped).
prefix="haka_tel_$$"
"$bin" -l "$cpu" --no-huge -m 512 --no-pci --file-prefix "$prefix" --log-level='*:error' \
  --vdev net_null0,size=64 --vdev net_null1,size=64 -- --duration 8 --stats-interval 0 \
  --summary-json "$tmp/tel.json" >"$tmp/tel.out" 2>&1 &
pid=$!
if /usr/bin/python3 - "$prefix" >"$tmp/tel.check" 2>&1 <<'PY'
import json, os, socket, sys, time
prefix = sys.argv[1]
dirs = ["/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk"), "/tmp/dpdk"]
path = None
for _ in range(100):
    for d in dirs:
        p = os.path.join(d, prefix, "dpdk_telemetry.v2")
        if os.path.exists(p):
            path = p
    if path:
        break
    time.sleep(0.05)
if not path:
    sys.exit("no telemetry socket for prefix %s" % prefix)
time.sleep(0.5)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(1024)
def ask(c):
    s.send(c.encode())
    return json.loads(s.recv(65536))[c]
# The socket comes up with EAL, our commands once the workers run (null
# before, then "not running"): on a loaded machine that can take a while.
a = None
for _ in range(100):
    a = ask("/haka/stats")
    if a is not None and a.get("rx_packets", 0) > 0:
        break
    time.sleep(0.05)
if a is None or "rx_packets" not in a:
    sys.exit("/haka/stats never answered with counters: %s" % a)
time.sleep(0.3)
b = ask("/haka/stats")
drops = ask("/haka/drops")
problems = []
if not (b["rx_packets"] > a["rx_packets"] > 0):
    problems.append("rx does not grow: %s then %s" % (a, b))
if b["workers"] != 1 or "worker0" not in b:
    problems.append("per-worker dict missing: %s" % b)
if b["dropped"] != 0 or any(drops.values()) or "tx_full" not in drops:
    problems.append("drops: %s" % drops)
print("; ".join(problems) or "ok")
sys.exit(1 if problems else 0)
PY
then
  echo "ok telemetry"
else
  echo "FAIL telemetry: $(cat "$tmp/tel.check")"; fails=$((fails + 1))
fi
kill -INT "$pid" 2>/dev/null || true # it ran long enough: SIGINT ends it cleanly, summary included
wait "$pid" || { echo "FAIL telemetry run: $(cat "$tmp/tel.out")"; fails=$((fails + 1)); }

echo "live_vdev: $fails failed"
[ "$fails" -eq 0 ]
