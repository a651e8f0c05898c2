#!/usr/bin/env bash
# Stream dumps against real Linux TCP peers: stream_apps.py's client and server in two
# network namespaces move data through haka-dpdk (live, two net_af_packet ports, see
# netns_lib.sh) running with --dump-streams: several connections at once and one after
# another, 0 B to 3 MiB each way, some reusing a four-tuple (fixed client port; the
# server closes first so its side holds TIME-WAIT) to get the .2/.3 suffixes, over IPv4
# and IPv6. The applications record the sha256 of what they wrote; every dumped stream
# must equal it byte for byte, there must be no other file, and every transfer must
# complete. tcpdump records the engine's input (each port's received frames), and
# `tshark -z follow,tcp,raw` on that capture is compared with the dumps: on the clean run
# it must agree; on the impaired one differences are reported, not failed (see the
# report the run prints: tshark follows what it saw, including copies the engine refused).
# Clean, then with impair.py's loss, reordering and duplication between client and engine.
# Run as root. Exit 0 pass, 1 fail, 77 skip. Usage: stream_dump.sh [--only clean|impaired]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/netns_lib.sh
source "$here/netns_lib.sh"
only=
[[ ${1:-} == --only ]] && only=${2:?}
bin=${HAKA_DPDK_BIN:-}
if [[ -z $bin ]]; then
  for cand in "$src"/build*/app/haka-dpdk; do [[ -x $cand ]] && { bin=$cand; break; }; done
fi
[[ -n $bin && -x $bin ]] || { echo "FAIL: haka-dpdk not found (set HAKA_DPDK_BIN)"; exit 1; }
export HAKA_DPDK_BIN=$bin
topo_check_usable
rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
for t in tcpdump tshark mergecap; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done

py=/usr/bin/python3
apps=$here/stream_apps.py
port=9200
ip6_client=fd42:$(($$ % 9000 + 1000))::1 ip6_server=fd42:$(($$ % 9000 + 1000))::2
tmp=$(mktemp -d /tmp/haka-stream-dump.XXXXXX)
failed=()
trap 'topo_destroy; if [[ ${#failed[@]} -eq 0 ]]; then rm -rf "$tmp"; else echo "files kept in $tmp"; fi' EXIT

# IPv6 on the client and server links only (netns_lib.sh turns it off everywhere).
enable_ipv6() {
  local ns ifname addr
  for x in "$TOPO_NS_CLIENT $TOPO_IF_CLIENT $ip6_client" "$TOPO_NS_SERVER $TOPO_IF_SERVER $ip6_server"; do
    read -r ns ifname addr <<<"$x"
    topo_in "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$ifname.disable_ipv6=0" \
      "net.ipv6.conf.$ifname.accept_ra=0" >/dev/null || return 1
    ip -n "$ns" addr add "$addr/64" dev "$ifname" nodad || return 1
  done
}

scenario() { # NAME IMPAIRED
  local name=$1 impaired=$2 dir=$tmp/$1 ok=1 cap0 cap1
  mkdir -p "$dir"
  topo_destroy
  echo "== $name"
  if [[ $impaired == 1 ]]; then
    topo_create_impaired || { echo "FAIL $name: topology"; return 1; }
    topo_impair_start "$dir/impair.log" --loss 0.03 --reorder 0.05 --dup 0.02 --seed 5 ||
      { echo "FAIL $name: impair.py"; return 1; }
  else
    topo_create || { echo "FAIL $name: topology"; return 1; }
  fi
  enable_ipv6 || { echo "FAIL $name: IPv6 addresses"; return 1; }
  topo_spawn "$TOPO_NS_SERVER" "$dir/server.log" "$py" "$apps" server --bind "$TOPO_IP_SERVER" \
    --bind "$ip6_server" --port "$port" --out "$dir/server.jsonl"
  topo_wait_tcp "$TOPO_NS_SERVER" "$TOPO_IP_SERVER" "$port" 10 || { echo "FAIL $name: server"; return 1; }
  topo_engine_start "$dir/engine.log" --stats-interval 0.5 --dump-streams "$dir/dumps" \
    --summary-json "$dir/live.json"
  topo_engine_wait_ready "$dir/engine.log" 20 || { echo "FAIL $name: engine"; tail "$dir/engine.log"; return 1; }
  # The engine's input: what each port receives (its own transmissions skip the taps).
  topo_capture_start "$TOPO_NS_IPS" "$TOPO_IF_IPS_CLIENT" "$dir/in0.pcap" "$dir/tcpdump0.log" || return 1
  cap0=$TOPO_CAPTURE_PID
  topo_spawn "$TOPO_NS_IPS" "$dir/tcpdump1.log" tcpdump -n -i "$TOPO_IF_IPS_SERVER" -s 0 -U --immediate-mode \
    -Z root -B 8192 -w "$dir/in1.pcap"
  cap1=$TOPO_SPAWNED_PID
  sleep 0.5
  # Let IPv6 neighbour discovery settle (DAD is off, but the first NS crosses the engine).
  topo_in "$TOPO_NS_CLIENT" ping -6 -c 1 -W 5 "$ip6_server" >/dev/null 2>&1 || true
  topo_in "$TOPO_NS_CLIENT" timeout 150 "$py" "$apps" client --connect "$TOPO_IP_SERVER" --port "$port" \
    --plan "$name" --out "$dir/client4.jsonl" >"$dir/client4.log" 2>&1 &
  local c4=$!
  topo_in "$TOPO_NS_CLIENT" timeout 150 "$py" "$apps" client --connect "$ip6_server" --port "$port" \
    --plan "$name" --out "$dir/client6.jsonl" >"$dir/client6.log" 2>&1
  local r6=$?
  wait $c4; local r4=$?
  [[ $r4 == 0 && $r6 == 0 ]] || { echo "  FAIL client exit $r4 (IPv4) $r6 (IPv6)"; ok=0; }
  topo_wait_sockets_done 20 || { echo "  FAIL connections still open"; ok=0; }
  topo_wait_quiet 5 || echo "  note: traffic still flowing when the engine is stopped"
  sleep 0.3
  topo_engine_stop || { echo "  FAIL engine exit status"; ok=0; }
  topo_capture_stop || { echo "  FAIL capture port 0 incomplete"; ok=0; }
  kill -INT "$cap1" 2>/dev/null; wait "$cap1" 2>/dev/null
  grep -q '^0 packets dropped by kernel' "$dir/tcpdump1.log" || { echo "  FAIL capture port 1: $(tail -n 3 "$dir/tcpdump1.log" | tr '\n' ' ')"; ok=0; }
  [[ $impaired == 1 ]] && { topo_impair_stop; echo "  impair: $(tail -n 1 "$dir/impair.log")"; }
  mergecap -w "$dir/input.pcap" "$dir/in0.pcap" "$dir/in1.pcap" || { echo "  FAIL mergecap"; ok=0; }
  local nstreams zargs=() i
  nstreams=$(tshark -r "$dir/input.pcap" -Y tcp -T fields -e tcp.stream 2>/dev/null | sort -un | tail -n 1)
  for ((i = 0; i <= ${nstreams:--1}; i++)); do zargs+=(-z "follow,tcp,raw,$i"); done
  tshark -r "$dir/input.pcap" -q "${zargs[@]}" >"$dir/follow.txt" 2>"$dir/tshark.log" ||
    { echo "  FAIL tshark: $(tail -n 2 "$dir/tshark.log")"; ok=0; }
  local must=()
  [[ $impaired == 0 ]] && must=(--tshark-must-agree)
  "$py" "$apps" check --plan "$name" --client "$dir/client4.jsonl" --client "$dir/client6.jsonl" \
    --server "$dir/server.jsonl" --dumps "$dir/dumps" --follow "$dir/follow.txt" \
    --capture-label "engine input, $name" "${must[@]}" || ok=0
  if ! "$py" - "$dir/live.json" "$impaired" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
impaired = sys.argv[2] == "1"
s, c = d["streams"], d["connections"]
problems = []
if not d["accounting"]["ok"]:
    problems.append("accounting %s" % d["accounting"])
# Out-of-order queue caps may be hit under loss (the sender retransmits what was refused):
# reported, not failed. Anything that loses or corrupts bytes fails.
for k in ("rebuild_failed", "translation_lost", "cap_held_bytes", "cap_worker", "retransmit_unverifiable",
          "retransmit_normalised", "retransmit_conflict_dropped", "chunk_exhausted", "mbuf_exhausted"):
    if s.get(k):
        problems.append("%s = %d" % (k, s[k]))
dropped = {k: v for k, v in d["total"]["dropped"].items() if v}
if not impaired and dropped:
    problems.append("clean run dropped packets: %s" % dropped)
if c["closed_fin"] != c["opened"] or c["opened"] == 0:
    problems.append("connections not all closed by FIN: %s" % c)
print("  engine: bytes up %d down %d, out of order %d, retransmissions same %d acked %d, overlaps same %d, "
      "duplicates %d, queue caps hit: segments %d bytes %d; connections %s; dropped %s: %s" % (
    s["bytes_up"], s["bytes_down"], s["out_of_order"], s["retransmit_same"], s["retransmit_acked"], s["overlap_same"],
    s["duplicate"], s["cap_queue_segments"], s["cap_queue_bytes"],
    {k: v for k, v in c.items() if v}, dropped, "; ".join(problems) or "ok"))
sys.exit(1 if problems else 0)
PY
  then ok=0; fi
  [[ $ok == 1 ]] || { tail -n 5 "$dir/engine.log" "$dir"/client*.log; return 1; }
}

for s in clean impaired; do
  [[ -z $only || $only == "$s" ]] || continue
  scenario "$s" $([[ $s == impaired ]] && echo 1 || echo 0) || failed+=("$s")
done
if [[ ${#failed[@]} -gt 0 ]]; then echo "FAIL stream dump: ${failed[*]}"; exit 1; fi
echo "PASS stream dump"
