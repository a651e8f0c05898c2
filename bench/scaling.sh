#!/usr/bin/env bash
# The scaling curve of issue 7: forward-only, tracking and tracking +
# reassembly on one worker at 1K, 10K, 100K, 1M and 10M concurrent TCP
# connections, with the memory each takes; one table on stdout.
#
# Every point runs bench_pipeline --waves: the traffic (handshakes of all
# connections, then the data round robin over all of them, then the closes)
# is built WAVE packets at a time, untimed, and run timed in the worker
# thread's CPU time, so the flow table and the stream state hold every
# connection while the mbuf pool holds one wave (plus what the reassembly
# keeps, capped per worker). About a million data packets per point (64-byte
# frames), two data segments per connection at 1M and 10M (one each way);
# forward-only runs over the same waves in every repetition, for the ratios.
# Medians of REPS (default 3) repetitions.
#
# Memory: mbufs in 2 MB hugepages (--socket-mem) when enough are free, else
# --no-huge (said in the table); the flow tables and the stream state are
# anonymous memory the engine asks transparent huge pages for (madvise). A
# point does not start until `available` memory covers its estimate plus
# 2 GB (other benches share the machine): it waits and retries.
#
# usage: bench/scaling.sh [BUILD_DIR]   (a release build with -Dbenchmarks=true, default build/)
#        POINTS="1000:1000 10000:100 ..." (connections:segments), REPS, WAVE, LOG_DIR (keep raw outputs)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
reps=${REPS:-3}
wave=${WAVE:-1000000}
points=${POINTS:-"1000:1000 10000:100 100000:10 1000000:2 10000000:2"}
pipe=$build/bench/bench_pipeline
[ -x "$pipe" ] || { echo "no $pipe: build with -Dbenchmarks=true first" >&2; exit 1; }
if [ -n "${LOG_DIR:-}" ]; then
  out=$LOG_DIR
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

available_mb() { awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo; }
free_huge_mb() { awk '/^HugePages_Free:/ {f=$2} /^Hugepagesize:/ {s=$2} END {print int(f * s / 1024)}' /proc/meminfo; }

table="| connections | data segments each | forward-only Mpps | tracking Mpps (ratio) | + reassembly Mpps (ratio) | tracking state, bytes per connection | stream state reserved, MB (bytes per connection) | peak RSS | mbufs |
|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for point in $points; do
  conns=${point%%:*}
  segs=${point##*:}
  # The wave's mbufs (about 600 bytes each, with what the reassembly keeps)
  # and about 1 KB of tracking and stream state per connection (tables are
  # sized 9/8 of the connections), plus a margin.
  pool_mb=$(( (wave + 200000) * 600 / 1000000 ))
  need_mb=$(( conns / 1000 + 1500 + pool_mb ))
  eal_mb=$(( pool_mb + 256 ))
  tries=0
  while [ "$(available_mb)" -lt $(( need_mb + 2048 )) ]; do
    tries=$((tries + 1))
    if [ $tries -gt 30 ]; then
      echo "$conns connections: only $(available_mb) MB available after waiting 30 minutes (need $need_mb + 2048)" >&2
      exit 1
    fi
    echo "$conns connections: $(available_mb) MB available, need $need_mb + 2048: waiting" >&2
    sleep 60
  done
  if [ "$(free_huge_mb)" -ge "$eal_mb" ]; then
    # Hugepage files unlinked at once: a killed run leaves none behind.
    eal="--socket-mem $eal_mb --huge-unlink"
  else
    eal="--no-huge -m $eal_mb"
  fi
  log=$out/scaling_$conns.txt
  echo "$conns connections x $segs segments: $pipe --conns $conns --segs $segs --reps $reps --waves $wave --eal \"$eal\"" >&2
  "$pipe" --conns "$conns" --segs "$segs" --reps "$reps" --waves "$wave" --eal "$eal" >"$log" 2>&1 ||
    { echo "bench_pipeline failed at $conns connections:" >&2; cat "$log" >&2; exit 1; }
  fwd=$(sed -n 's/^forward-only *\([0-9.]*\) Mpps.*/\1/p' "$log")
  trk=$(sed -n 's/^tracking *\([0-9.]*\) Mpps.*ratio to forward-only \([0-9.]*\).*/\1 (\2)/p' "$log")
  rsm=$(sed -n 's/^+ reassembly *\([0-9.]*\) Mpps.*ratio to forward-only \([0-9.]*\).*/\1 (\2)/p' "$log")
  bpc=$(sed -n 's/^memory *\([0-9]*\) bytes per tracked connection.*/\1/p' "$log")
  stream=$(sed -n 's/.*stream state reserved: \([0-9]*\) bytes.*/\1/p' "$log")
  rss=$(sed -n 's/^peak RSS *\([0-9.]*\) GB.*/\1/p' "$log")
  pool=$(sed -n 's/.*mbuf pool \([0-9]*\) mbufs (\([0-9.]*\) GB).*/\1 mbufs, \2 GB/p' "$log")
  where=$(grep -q 'hugetlbfs' "$log" && echo "2 MB hugepages" || echo "--no-huge")
  table+="
| $conns | $segs | $fwd | $trk | $rsm | $bpc | $(( stream / 1000000 )) ($(( stream / conns ))) | $rss GB | $pool, $where |"
done
echo "bench_pipeline --waves $wave, medians of $reps, build $build, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "$table"
