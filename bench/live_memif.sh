#!/usr/bin/env bash
# End-to-end live bench: haka-gen replays generated TCP traffic into a
# net_memif port (it is the memif server and waits when the ring is full, so
# its send rate is the receiver's throughput); on the other side, in turn,
# dpdk-testpmd --forward-mode=io (the limit), haka-dpdk --forward-only,
# tracking (--no-reassembly) and the default (tracking + reassembly), each
# forwarding to a net_null port (no-rx: it only swallows what it is sent).
# Runs alternate so all see the same machine.
#
#   bench/live_memif.sh [BUILD_DIR] [RUNS]
#   CONNS=100000 CONC=20000 SEG=64 BYTES=640 bench/live_memif.sh build 5
#
# Prints each run's frames per second as haka-gen measured them, the medians
# and each mode's ratio to testpmd, and checks that haka-dpdk received every
# frame and dropped none (the generated traffic is clean).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-5}
bin=$build/app/haka-dpdk
gen=$build/app/haka-gen
[ -x "$bin" ] && [ -x "$gen" ] || { echo "no $bin or $gen: build first" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing: apt-get install dpdk" >&2; exit 1; }
conns=${CONNS:-100000}
conc=${CONC:-20000}
seg=${SEG:-64}
bytes=${BYTES:-640}
gen_args=(--quiet --connections "$conns" --concurrency "$conc" --segment "$seg" --bytes-per-connection "$bytes" --seed 7)

# 4 KB pages unless HUGE=1 (then 1 GB of 2 MB hugepages per process): the
# memif rings and buffers are the driver's own shared memory either way.
mem=(--no-huge -m 1024)
[ "${HUGE:-0}" = 1 ] && mem=(--socket-mem 1024)
out=$(mktemp -d)
cleanup() { pkill -INT -f "bench-lm-.*-$$" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print 0; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }

# The frames the generator will send (it writes the same traffic to a file).
"$gen" "${gen_args[@]}" --out "$out/traffic.pcap"
frames=$(/usr/bin/python3 -c '
import struct, sys
f = open(sys.argv[1], "rb"); f.read(24); n = 0
while True:
    h = f.read(16)
    if len(h) < 16: break
    f.seek(struct.unpack("<IIII", h)[2], 1); n += 1
print(n)' "$out/traffic.pcap")
rm -f "$out/traffic.pcap"

# One run: the generator on lcore 0, the receiver's worker on lcore 1. Prints
# the generator's frames per second.
run_one() {
  local mode=$1 gpid rpid
  local sock="$out/memif-$mode.sock"
  rm -f "$sock"
  "$gen" "${gen_args[@]}" --memif "$sock" \
    --eal "-l 0 ${mem[*]} --no-pci --no-telemetry --file-prefix bench-lm-gen-$$ --log-level=*:error" \
    >"$out/gen.log" 2>&1 &
  gpid=$!
  # The generator builds its traffic, then listens (an abstract socket, as
  # net_memif makes by default): the client connects once it is there.
  for _ in $(seq 600); do ss -xl 2>/dev/null | grep -qF "@$sock" && break; sleep 0.1; done
  local eal=(-l 0,1 "${mem[@]}" --no-pci --no-telemetry --log-level='*:error'
             --vdev "net_memif0,role=client,socket=$sock" --vdev net_null1,no-rx=1)
  case $mode in
    testpmd)
      dpdk-testpmd "${eal[@]}" --file-prefix "bench-lm-tp-$$" -- --forward-mode=io --auto-start --nb-cores=1 \
        --total-num-mbufs=16383 --stats-period 1 </dev/null >"$out/rx.log" 2>&1 &
      ;;
    *)
      local flags=()
      [ "$mode" = forward ] && flags=(--forward-only)
      [ "$mode" = tracking ] && flags=(--no-reassembly)
      "$bin" "${eal[@]}" --file-prefix "bench-lm-hk-$$" -- "${flags[@]}" --stats-interval 0 \
        --summary-json "$out/$mode.json" >"$out/rx.log" 2>&1 &
      ;;
  esac
  rpid=$!
  wait "$gpid" || { echo "haka-gen failed ($mode): $(tail -3 "$out/gen.log")" >&2; kill -INT "$rpid"; wait "$rpid" || true; echo 0; return; }
  sleep 0.5
  kill -INT "$rpid" 2>/dev/null || true
  wait "$rpid" || true
  if [ "$mode" != testpmd ]; then
    local got
    got=$(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["total"]["packets"]; print(t["rx"], t["dropped"])' \
      "$out/$mode.json" 2>/dev/null || echo "? ?")
    [ "$got" = "$frames 0" ] || echo "warning: $mode received/dropped $got, expected $frames 0" >&2
  fi
  sed -n 's/.* in \([0-9.]*\) s: \([0-9.]*\) Mpps.*/\2/p' "$out/gen.log"
}

modes=(testpmd forward tracking reassembly)
declare -A res ratios
for i in $(seq "$runs"); do
  line="run $i:"
  tp=0
  for m in "${modes[@]}"; do
    v=$(run_one "$m")
    [ -n "$v" ] || v=0
    [ "$m" = testpmd ] && tp=$v
    res[$m]+="$v "
    ratios[$m]+="$(awk -v a="$v" -v b="$tp" 'BEGIN {print (b>0)?a/b:0}') "
    line+=" $m $v"
  done
  echo "$line Mpps"
done
printf '%d connections, %d-byte segments, %d bytes each way, %d frames per run; median of %d runs\n' \
  "$conns" "$seg" "$bytes" "$frames" "$runs"
printf '(EAL %s; ratio: median of the per-run ratios to the testpmd run just before):\n' "${mem[*]}"
for m in "${modes[@]}"; do
  med=$(printf '%s\n' ${res[$m]} | median)
  r=$(printf '%s\n' ${ratios[$m]} | median)
  printf '  %-11s %6.2f Mpps  ratio to testpmd %.3f\n' "$m" "$med" "$r"
done
