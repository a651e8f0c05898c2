#!/usr/bin/env bash
# Forward-only throughput of haka-dpdk next to dpdk-testpmd --forward-mode=io,
# on the same vdevs (two net_null ports, 64-byte frames) and the same lcores,
# alternating runs in one session so both see the same machine state.
#
#   bench/forward_vs_testpmd.sh [BUILD_DIR] [RUNS] [SECONDS]
#
# Prints each run's steady-state packets per second (median of its 1-second
# samples, first sample skipped), the medians and the ratio; with
# RESULTS=bench/RESULTS.md set, appends a dated entry there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-5}
secs=${3:-6}
bin=$build/app/haka-dpdk
[ -x "$bin" ] || { echo "no $bin: build first (scripts/build.sh)" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing: apt-get install dpdk" >&2; exit 1; }

lcores=${LCORES:-0,1}
mem=(--no-huge -m 1024)
if [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 600 ] 2>/dev/null; then
  mem=(--socket-mem 1024)
fi
eal=(-l "$lcores" "${mem[@]}" --no-pci --vdev net_null0,size=64 --vdev net_null1,size=64 --log-level='*:error')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print 0; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }

run_testpmd() {
  timeout -s INT $((secs + 3)) dpdk-testpmd "${eal[@]}" --file-prefix "bench-tp-$$" -- \
    --forward-mode=io --auto-start --stats-period 1 --nb-cores=1 --total-num-mbufs=16383 \
    </dev/null >"$out/tp.log" 2>&1 || true
  # Per period, testpmd prints Rx-pps for port 0 then port 1: sum each pair.
  awk '/Rx-pps:/ {v[n++]=$2} END {for (i=0;i+1<n;i+=2) print v[i]+v[i+1]}' "$out/tp.log" |
    tail -n +3 | head -n $((secs - 2)) | median
}

run_haka() {
  "$bin" "${eal[@]}" --file-prefix "bench-hk-$$" -- --forward-only --duration "$secs" --stats-interval 1 --mbufs 16383 \
    >"$out/hk.log" 2>&1 || { cat "$out/hk.log" >&2; echo 0; return; }
  # "stats: rx N pkts (X kpps, ...": every stats line is one period for all ports.
  sed -n 's/^stats: rx [0-9]* pkts (\([0-9.]*\) kpps.*/\1/p' "$out/hk.log" |
    awk '{print $1*1000}' | tail -n +2 | head -n $((secs - 2)) | median
}

tp=() hk=()
for i in $(seq "$runs"); do
  t=$(run_testpmd); h=$(run_haka)
  tp+=("$t"); hk+=("$h")
  printf 'run %d: testpmd %.0f pps, haka-dpdk %.0f pps, ratio %.3f\n' "$i" "$t" "$h" "$(awk -v a="$h" -v b="$t" 'BEGIN {print (b>0)?a/b:0}')"
done
tpm=$(printf '%s\n' "${tp[@]}" | median)
hkm=$(printf '%s\n' "${hk[@]}" | median)
ratio=$(awk -v a="$hkm" -v b="$tpm" 'BEGIN {printf "%.3f", (b>0)?a/b:0}')
printf 'median of %d runs: testpmd io %.2f Mpps, haka-dpdk forward-only %.2f Mpps, ratio %s\n' \
  "$runs" "$(awk -v v="$tpm" 'BEGIN{print v/1e6}')" "$(awk -v v="$hkm" 'BEGIN{print v/1e6}')" "$ratio"

if [ -n "${RESULTS:-}" ]; then
  {
    echo
    echo "### Forward-only vs testpmd io ($(date -u +%Y-%m-%d), $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r)"
    echo "- Command: \`bench/forward_vs_testpmd.sh $build $runs $secs\` (EAL: ${eal[*]})"
    echo "- Per run (testpmd / haka-dpdk pps): $(for i in "${!tp[@]}"; do printf '%.0f/%.0f ' "${tp[$i]}" "${hk[$i]}"; done)"
    echo "- Median: testpmd io $(awk -v v="$tpm" 'BEGIN{printf "%.2f", v/1e6}') Mpps, haka-dpdk $(awk -v v="$hkm" 'BEGIN{printf "%.2f", v/1e6}') Mpps, **ratio $ratio** (target 0.8)"
  } >>"$RESULTS"
fi
