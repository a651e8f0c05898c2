#!/usr/bin/env bash
# Connection tracking against real Linux TCP peers: a Python client and server (tcp_apps.py)
# in two network namespaces open planned connections through haka-dpdk (live, af_packet ports
# in a third namespace), move data both ways (3 B to 1 MiB, sha256-checked on both sides) and
# close each one in a way the test chose: FIN by the client first, FIN by the server first, or
# RST (SO_LINGER {1,0}) from either side; some one after another, some at the same time.
# Two scenarios: clean, and impaired (impair.py in its own namespace between the client and
# the engine drops, reorders and duplicates frames; see netns_lib.sh). tcpdump records the
# engine's client-facing port in each; haka-dpdk then runs offline on that capture.
# Checks, per scenario: the applications did what was planned; the capture holds those
# connections and end reasons; impaired: the forwarder's counts equal the engine port's;
# and for the live run AND the offline run, the engine's
# "connections" summary group equals what the applications did (opened, closed_fin,
# closed_rst; nothing timed out, refused, dropped or in error) with accounting.ok. The clean
# scenario also wants no alert, and no dropped packet but segments of already reset connections
# (a retransmission can cross a RST on a clean wire too). Finally the stored reference capture
# (tests/data/captures/tcp_close_kinds.pcap) is run offline and checked the same way.
# Run as root. Exit 0 pass, 1 fail, 77 skip (not root, or no usable `ip netns`).
# Usage: tcp_tracking.sh [--keep] [--only clean|impaired] [--make-reference FILE]
#   --keep                  leave the last topology and all files in place (HAKA_E2E_KEEP=1)
#   --only NAME             run one scenario
#   --make-reference FILE   record the small reference capture into FILE and exit
# Environment: HAKA_E2E_IMPAIR="--loss 0.05 --reorder 0.05 --dup 0.02 --seed 7" (the default).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/netns_lib.sh
source "$here/netns_lib.sh"

keep=${HAKA_E2E_KEEP:-0}
only=
make_ref=
while [[ $# -gt 0 ]]; do
  case $1 in
    --keep) keep=1 ;;
    --only) only=${2:?--only needs a scenario}; shift ;;
    --make-reference) make_ref=${2:?--make-reference needs a file}; shift ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tcp_tracking.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
case $only in '' | clean | impaired) ;; *) echo "tcp_tracking.sh: no scenario '$only'" >&2; exit 2 ;; esac

bin=${HAKA_DPDK_BIN:-}
if [[ -z $bin ]]; then
  for cand in "$src"/build*/app/haka-dpdk; do [[ -x $cand ]] && { bin=$cand; break; }; done
fi
if [[ -z $bin || ! -x $bin ]]; then
  echo "FAIL: haka-dpdk not found: set HAKA_DPDK_BIN (meson test sets it) or build into <source>/build*"; exit 1
fi
export HAKA_DPDK_BIN=$bin

topo_check_usable
rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
command -v tcpdump >/dev/null 2>&1 || { echo "SKIP: tcpdump not installed"; exit 77; }

py=/usr/bin/python3
apps=$here/tcp_apps.py
port=9000
impair_args=${HAKA_E2E_IMPAIR:---loss 0.05 --reorder 0.05 --dup 0.02 --seed 7}
reference=$src/tests/data/captures/tcp_close_kinds.pcap
start_time=$SECONDS
# The capture on the engine's client-facing port must also hold what the engine sends there.
TOPO_AF_PACKET_ARGS=",qdisc_bypass=0"
tmp=$(mktemp -d /tmp/haka-tcp-tracking.XXXXXX)
failed=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
finish() {
  local status=$?
  trap - EXIT INT TERM
  if [[ $keep == 1 ]]; then
    local saved_created=$TOPO_CREATED
    TOPO_CREATED=0
    topo_destroy
    TOPO_CREATED=$saved_created
    echo "kept: files in $tmp; namespaces (if any): $(ip netns list | grep -o "^$TOPO_TAG-[a-z]*" | tr '\n' ' ')"
  else
    topo_destroy
    # A failure keeps its evidence (captures, summaries, logs; not the namespaces).
    if [[ $status -eq 1 ]]; then echo "files kept for inspection: $tmp"; else rm -rf "$tmp"; fi
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_logs() { # DIR
  local f
  for f in "$1"/*.log; do
    [[ -s $f ]] || continue
    echo "--- ${f##*/} (last 15 lines)"
    tail -n 15 "$f"
  done
}

# One scenario: NAME PLAN IMPAIRED(0|1) [CAPTURE-COPY]. Returns 0 when every check passed.
scenario() {
  local name=$1 plan=$2 impaired=$3 copy_to=${4:-} dir=$tmp/$1 t0=$SECONDS ok=1
  mkdir -p "$dir"
  topo_destroy  # the previous scenario's topology, kept until now for --keep
  echo "== scenario $name (plan $plan: $($py "$apps" plan "$plan"))"
  if [[ $impaired == 1 ]]; then
    topo_create_impaired || { echo "FAIL $name: could not build the impaired topology"; return 1; }
    # shellcheck disable=SC2086  # impair_args is a list of options
    topo_impair_start "$dir/impair.log" $impair_args || { echo "FAIL $name: impair.py"; show_logs "$dir"; return 1; }
    echo "topology: $TOPO_NS_CLIENT($TOPO_IP_CLIENT) <-> $TOPO_NS_IMPAIR [impair.py $impair_args]" \
      "<-> $TOPO_NS_IPS [haka-dpdk] <-> $TOPO_NS_SERVER($TOPO_IP_SERVER)"
  else
    topo_create || { echo "FAIL $name: could not build the topology"; return 1; }
    echo "topology: $TOPO_NS_CLIENT($TOPO_IP_CLIENT) <-> $TOPO_NS_IPS [haka-dpdk] <-> $TOPO_NS_SERVER($TOPO_IP_SERVER)"
  fi
  topo_spawn "$TOPO_NS_SERVER" "$dir/server.log" "$py" "$apps" server --bind "$TOPO_IP_SERVER" --port "$port" \
    --out "$dir/server.jsonl"
  # The probe connects over the server's own loopback: it never crosses the engine.
  topo_wait_tcp "$TOPO_NS_SERVER" "$TOPO_IP_SERVER" "$port" 10 || { echo "FAIL $name: server did not start"; return 1; }
  topo_engine_start "$dir/engine.log" --stats-interval 0.5 --summary-json "$dir/live.json"
  topo_engine_wait_ready "$dir/engine.log" 20 || { echo "FAIL $name: engine did not start"; show_logs "$dir"; return 1; }
  # tcpdump after the engine: see topo_capture_start.
  topo_capture_start "$TOPO_NS_IPS" "$TOPO_IF_IPS_CLIENT" "$dir/capture.pcap" "$dir/tcpdump.log" ||
    { echo "FAIL $name: tcpdump did not start"; show_logs "$dir"; return 1; }

  local t_cli=$SECONDS
  topo_in "$TOPO_NS_CLIENT" timeout 40 "$py" "$apps" client --connect "$TOPO_IP_SERVER" --port "$port" \
    --plan "$plan" --out "$dir/client.jsonl" >"$dir/client.log" 2>&1 ||
    { echo "  client exited with status $? (see below)"; ok=0; }
  echo "  client done in $((SECONDS - t_cli)) s"
  # Every connection over on both hosts (all FINs acked, RSTs delivered), then the engine's
  # ports quiet: the engine has seen the last packet of every connection.
  topo_wait_sockets_done 15 || { echo "  connections still open after 15 s"; ok=0; }
  topo_wait_quiet 5 || echo "  note: traffic still flowing when the engine is stopped"
  sleep 0.3

  topo_engine_stop
  local engine_rc=$?
  [[ $engine_rc -eq 0 ]] || { echo "  FAIL engine exited with status $engine_rc after SIGINT"; ok=0; }
  grep '^ERROR' "$dir/engine.log" && { echo "  FAIL engine reported an error"; ok=0; }
  topo_capture_stop || { echo "  FAIL capture incomplete: $(grep -i 'dropped' "$dir/tcpdump.log" | tr '\n' ' ')"; ok=0; }
  if [[ $impaired == 1 ]]; then
    topo_impair_stop
    echo "  impair counts: $(tail -n 1 "$dir/impair.log")"
  fi
  echo "  capture: $(grep 'captured' "$dir/tcpdump.log"), $(stat -c %s "$dir/capture.pcap") bytes"
  [[ -n $copy_to ]] && cp "$dir/capture.pcap" "$copy_to"

  # The same traffic, offline, from the capture (veth frames may carry unfinished checksums).
  "$bin" --pcap "$dir/capture.pcap" --summary-json "$dir/offline.json" --checksum-validation no --quiet \
    >"$dir/offline.log" 2>&1 || { echo "  FAIL offline run exited with status $?: $(tail -n 2 "$dir/offline.log")"; ok=0; }

  local more=()
  if [[ $impaired == 0 ]]; then more=(--clean-summary live --clean-summary offline); else more=(--impair "$dir/impair.log"); fi
  "$py" "$apps" check --plan "$plan" --client "$dir/client.jsonl" --server "$dir/server.jsonl" \
    --capture "$dir/capture.pcap" --summary "live=$dir/live.json" --summary "offline=$dir/offline.json" \
    "${more[@]}" || ok=0
  echo "  ($((SECONDS - t0)) s)"
  if [[ $ok == 0 ]]; then
    [[ -s $dir/client.log || -s $dir/server.log ]] && show_logs "$dir" | grep -v '^stats:'
    return 1
  fi
  return 0
}

if [[ -n $make_ref ]]; then
  scenario reference reference 0 "$make_ref" || exit 1
  echo "wrote $make_ref ($(stat -c %s "$make_ref") bytes)"
  exit 0
fi

for s in clean impaired; do
  [[ -z $only || $only == "$s" ]] || continue
  if [[ $s == clean ]]; then scenario clean clean 0; else scenario impaired impaired 1; fi || failed+=("$s")
done

# The stored reference capture, offline only.
if [[ -z $only ]]; then
  echo "== reference capture ${reference#"$src"/}"
  mkdir -p "$tmp/ref"
  if "$bin" --pcap "$reference" --summary-json "$tmp/ref/offline.json" --checksum-validation no --quiet \
      >"$tmp/ref/offline.log" 2>&1; then
    "$py" "$apps" check --plan reference --capture "$reference" --summary "offline=$tmp/ref/offline.json" \
      --clean-summary offline || failed+=(reference)
  else
    echo "  FAIL offline run exited with status $?: $(tail -n 2 "$tmp/ref/offline.log")"
    failed+=(reference)
  fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAIL tcp tracking: ${failed[*]} ($((SECONDS - start_time)) s)"
  exit 1
fi
echo "PASS tcp tracking ($((SECONDS - start_time)) s)"
exit 0
