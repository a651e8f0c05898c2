#!/usr/bin/env bash
# haka-gen's generation rate (issue 7 asks for over 100,000 packets per
# second): packets per second of complete TCP connections written to a pcap
# on tmpfs, for three traffic mixes, next to copying the same file on the
# same tmpfs (the write floor), measured alternately.
#
#   bench/generator.sh [BUILD_DIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-5}
gen=$build/app/haka-gen
[ -x "$gen" ] || { echo "no $gen: build first" >&2; exit 1; }
dir=$(mktemp -d /dev/shm/haka-gen-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print 0; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }
now() { date +%s.%N; }

mixes=(
  "64-byte segments|--connections 100000 --concurrency 20000 --segment 64 --bytes-per-connection 640"
  "IMIX, 20% IPv6, 1% loss, 1% reordering, 5% RST|--connections 20000 --concurrency 5000 --imix --bytes-per-connection 20000 --ipv6-ratio 0.2 --loss 0.01 --reorder 0.01 --rst-ratio 0.05"
  "1460-byte segments|--connections 10000 --concurrency 2000 --segment 1460 --bytes-per-connection 100000"
)
printf '%-48s %10s %10s %12s %14s\n' "mix" "packets" "Mpps" "Gbit/s" "copy floor"
for mix in "${mixes[@]}"; do
  name=${mix%%|*}
  read -r -a args <<<"${mix#*|}"
  pps=() gbps=() cps=()
  pkts=0
  for _ in $(seq "$runs"); do
    line=$("$gen" "${args[@]}" --out "$dir/t.pcap" 2>&1 >/dev/null | tail -1)
    pkts=$(sed -n 's/.*: \([0-9]*\) packets, .*/\1/p' <<<"$line")
    pps+=("$(sed -n 's/.* s: \([0-9.]*\) Mpps.*/\1/p' <<<"$line")")
    gbps+=("$(sed -n 's/.* Mpps, \([0-9.]*\) Gbit\/s.*/\1/p' <<<"$line")")
    t0=$(now); cp "$dir/t.pcap" "$dir/copy.pcap"; t1=$(now)
    cps+=("$(awk -v n="$pkts" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a) / 1e6}')")
    rm -f "$dir/copy.pcap" "$dir/t.pcap"
  done
  printf '%-48s %10d %10.2f %12.2f %9.1f Mpps\n' "$name" "$pkts" "$(printf '%s\n' "${pps[@]}" | median)" \
    "$(printf '%s\n' "${gbps[@]}" | median)" "$(printf '%s\n' "${cps[@]}" | median)"
done
echo "(medians of $runs runs; 'copy floor': cp of the same file on the same tmpfs, in packets per second)"
