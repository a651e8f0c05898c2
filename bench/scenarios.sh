#!/usr/bin/env bash
# The standard scenarios of issue 7, on one worker, printed as one table (and
# appended to bench/RESULTS.md with RESULTS=bench/RESULTS.md):
#   S0 dpdk-testpmd io forward       S1 haka-dpdk forward-only
#   S2 tracking                      S3 tracking + reassembly
#   S4 S3 + a plain receive_data Lua rule (bench/rules/receive_data_len.lua)
#   S5 S3 + a streamed rule walking every byte (bench/rules/streamed_walk.lua)
#   S6 S3 + 1,000 Hyperscan literals (bench/patterns/literals1000.txt)
# at each connection count (CONNS, default "1000 100000"; "1000000" works, in
# waves) and segment size
# (64-byte frames, IMIX 7:4:1, 1460-byte payload).
#
# How the ratio to S0 is measured: S0 and S1 run live over two net_null vdevs
# on the same lcores, alternating (bench/forward_vs_testpmd.sh's method: wall
# clock, packets per second from the stats lines), which gives S1/S0. S1..S6
# then run in one bench_pipeline process on the same preloaded TCP traffic,
# interleaved in every repetition, timed in the worker thread's CPU time;
# each S_k/S0 = (S_k/S1 of that process) x (S1/S0 of the live runs). Every
# figure is a median of REPS (default 5) repetitions.
# usage: bench/scenarios.sh [BUILD_DIR]     (BUILD_DIR: a release build, default build/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
reps=${REPS:-5}
conns_list=${CONNS:-"1000 100000"}
pipe=$build/bench/bench_pipeline
[ -x "$pipe" ] || { echo "no $pipe: build with -Dbenchmarks=true first" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# S1/S0 from the live comparison (3 short alternating runs is enough for a ratio).
bash "$here/bench/forward_vs_testpmd.sh" "$build" 3 5 >"$out/s0.txt" 2>&1 || true
s0_line=$(grep '^median of' "$out/s0.txt" || true)
s1s0=$(sed -n 's/.*ratio \([0-9.]*\).*/\1/p' <<<"$s0_line")
s0_mpps=$(sed -n 's/.*testpmd io \([0-9.]*\) Mpps.*/\1/p' <<<"$s0_line")
[ -n "$s1s0" ] || { echo "S0/S1 live comparison failed:"; cat "$out/s0.txt"; exit 1; }

table="| conns | segments | S1 | S2 | S3 | S4 | S5 | S6 | S3 payload Gbit/s | S6 payload Gbit/s |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for conns in $conns_list; do
  # About a million data packets per processor: fewer segments at more connections.
  segs=$(( 1000000 / conns )); [ "$segs" -lt 2 ] && segs=2; [ "$segs" -gt 400 ] && segs=400
  segs=$(( (segs + 11) / 12 * 12 ))  # whole IMIX cycles
  for size in 64 imix 1460; do
    args=(--conns "$conns" --segs "$segs" --reps "$reps" --rules "$here/bench/rules/receive_data_len.lua"
          --rules "$here/bench/rules/streamed_walk.lua" --patterns "$here/bench/patterns/literals1000.txt")
    # Beyond about 4M preloaded packets (1M connections) the traffic is built
    # and run in waves of a million packets (bench_pipeline --waves): the same
    # packets, with every connection's state kept across waves.
    [ $(( conns * (segs + 6) )) -gt 4000000 ] && args+=(--waves 1000000)
    case $size in
      64) args+=(--payload 10) ;;
      imix) args+=(--imix) ;;
      1460) args+=(--payload 1460) ;;
    esac
    "$pipe" "${args[@]}" >"$out/p.txt" 2>&1 || { echo "bench_pipeline failed:"; cat "$out/p.txt"; exit 1; }
    # Mpps of each processor, in the order bench_pipeline prints them.
    fwd=$(sed -n 's/^forward-only *\([0-9.]*\) Mpps.*/\1/p' "$out/p.txt")
    trk=$(sed -n 's/^tracking *\([0-9.]*\) Mpps.*/\1/p' "$out/p.txt")
    rsm=$(sed -n 's/^+ reassembly *\([0-9.]*\) Mpps.*/\1/p' "$out/p.txt")
    rsm_g=$(sed -n 's/^+ reassembly.*payload \([0-9.]*\) Gbit.*/\1/p' "$out/p.txt")
    mapfile -t rul < <(grep -A1 '^+ rules' "$out/p.txt" | sed -n 's/^ *\([0-9.]*\) Mpps.*/\1/p')
    pat=$(grep -A1 '^+ patterns' "$out/p.txt" | sed -n 's/^ *\([0-9.]*\) Mpps.*/\1/p')
    pat_g=$(grep -A1 '^+ patterns' "$out/p.txt" | sed -n 's/.*payload \([0-9.]*\) Gbit.*/\1/p')
    r() { awk -v a="$1" -v f="$fwd" -v k="$s1s0" 'BEGIN {printf "%.3f", (f>0)?a/f*k:0}'; }
    label=$size; [ "$size" = 64 ] && label="64-byte frames"; [ "$size" = 1460 ] && label="1460-byte payload"
    [ "$size" = imix ] && label="IMIX"
    row="| $conns | $label | $s1s0 | $(r "$trk") | $(r "$rsm") | $(r "${rul[0]}") | $(r "${rul[1]}") | $(r "$pat") | $rsm_g | $pat_g |"
    echo "$row"
    table+=$'\n'"$row"
  done
done

summary="S0 (dpdk-testpmd io, 64-byte frames, net_null) $s0_mpps Mpps. Ratios to S0 (medians of $reps; S_k/S0 = S_k/S1 x S1/S0):"
echo "$summary"
echo "$table"
if [ -n "${RESULTS:-}" ]; then
  {
    echo
    echo "### Standard scenarios ($(date -u +%Y-%m-%d), $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "Machine: $(nproc) vCPUs $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1 /proc/loadavg) at the start."
    echo "Command: \`CONNS=\"$conns_list\" REPS=$reps bench/scenarios.sh $build\`. $summary"
    echo
    echo "$table"
  } >>"$RESULTS"
fi
