#!/usr/bin/env bash
# Stream modification against real Linux TCP stacks: a Lua rule (rules/modify.lua)
# inserts 100 bytes at the start of every client stream and erases the first 10
# bytes of every server stream, live, between network namespaces (netns_lib.sh);
# the applications (modify_apps.py) check byte for byte that each side received
# exactly the modified stream, over several connections of 300 KB each way. The
# length changes mean every later seq, ack and SACK block must be translated, and
# retransmissions re-emitted from the modified bytes: a mistake makes the kernels
# drop segments, stall or reset, and the transfer fails or times out. Clean, then
# with impair.py's loss, reordering and duplication between client and engine.
# Run as root. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/netns_lib.sh
source "$here/netns_lib.sh"
bin=${HAKA_DPDK_BIN:-}
if [[ -z $bin ]]; then
  for cand in "$src"/build*/app/haka-dpdk; do [[ -x $cand ]] && { bin=$cand; break; }; done
fi
[[ -n $bin && -x $bin ]] || { echo "FAIL: haka-dpdk not found (set HAKA_DPDK_BIN)"; exit 1; }
export HAKA_DPDK_BIN=$bin
topo_check_usable
rc=$?
[[ $rc -eq 0 ]] || exit "$rc"

py=/usr/bin/python3
port=9100
tmp=$(mktemp -d /tmp/haka-stream-modify.XXXXXX)
failed=()
trap 'topo_destroy; [[ ${#failed[@]} -eq 0 ]] && rm -rf "$tmp"' EXIT

scenario() { # NAME IMPAIRED
  local name=$1 impaired=$2 dir=$tmp/$1 ok=1
  mkdir -p "$dir"
  topo_destroy
  echo "== $name"
  if [[ $impaired == 1 ]]; then
    topo_create_impaired || { echo "FAIL $name: topology"; return 1; }
    topo_impair_start "$dir/impair.log" --loss 0.03 --reorder 0.05 --dup 0.02 --seed 11 ||
      { echo "FAIL $name: impair.py"; return 1; }
  else
    topo_create || { echo "FAIL $name: topology"; return 1; }
  fi
  topo_spawn "$TOPO_NS_SERVER" "$dir/server.log" "$py" "$here/modify_apps.py" server "$TOPO_IP_SERVER" "$port"
  topo_wait_tcp "$TOPO_NS_SERVER" "$TOPO_IP_SERVER" "$port" 10 || { echo "FAIL $name: server"; return 1; }
  topo_engine_start "$dir/engine.log" --stats-interval 0.5 --rules "$here/rules/modify.lua" \
    --summary-json "$dir/live.json"
  topo_engine_wait_ready "$dir/engine.log" 20 || { echo "FAIL $name: engine"; tail "$dir/engine.log"; return 1; }
  if ! topo_in "$TOPO_NS_CLIENT" timeout 90 "$py" "$here/modify_apps.py" client "$TOPO_IP_SERVER" "$port" 4 300000 3 \
      >"$dir/client.log" 2>&1; then
    echo "  FAIL client: $(tail -n 5 "$dir/client.log")"; ok=0
  fi
  cat "$dir/client.log" | sed 's/^/  /'
  topo_wait_sockets_done 15 || { echo "  FAIL connections still open"; ok=0; }
  topo_engine_stop || { echo "  FAIL engine exit status"; ok=0; }
  [[ $impaired == 1 ]] && topo_impair_stop
  if ! "$py" - "$dir/live.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, r, c = d["streams"], d.get("rules", {}), d["connections"]
problems = []
if not d["accounting"]["ok"]:
    problems.append("accounting %s" % d["accounting"])
if r.get("errors", 0) or r.get("instruction_limit", 0):
    problems.append("rule errors %s" % r)
if s["rebuilt"] == 0 or s["translated_packets"] == 0:
    problems.append("nothing rebuilt or translated: %s" % {k: s[k] for k in ("rebuilt", "translated_packets")})
if s["translation_lost"] or s["rebuild_failed"]:
    problems.append("translation lost / rebuild failed: %d %d" % (s["translation_lost"], s["rebuild_failed"]))
if c["closed_fin"] != 4:
    problems.append("connections %s" % c)
print("  engine: rebuilt %d, translated %d, re-emitted retransmissions %d, tcp bad_ack %d: %s" % (
    s["rebuilt"], s["translated_packets"], s["retransmit_reemitted"], d["tcp"]["tcp_bad_ack"],
    "; ".join(problems) or "ok"))
sys.exit(1 if problems else 0)
PY
  then ok=0; fi
  [[ $ok == 1 ]] || { tail -n 5 "$dir/engine.log"; return 1; }
}

scenario clean 0 || failed+=(clean)
scenario impaired 1 || failed+=(impaired)
if [[ ${#failed[@]} -gt 0 ]]; then echo "FAIL stream modify: ${failed[*]} (files in $tmp)"; exit 1; fi
echo "PASS stream modify"
