#!/usr/bin/env bash
# Offline throughput on large captures (issue 7): haka-dpdk reading a pcap file,
# next to the two reference readers measured in the same rounds.
#
#   bench/offline_throughput.sh [BUILD_DIR]        (default: build)
#
# Environment: RUNS (rounds, default 5), WORK (captures, default /work/tmp-offline),
# OUT_DIR (where output pcaps are written and deleted, default $WORK),
# CAPTURES (default "full1460 seg64"), HAKA_BASE (another haka-dpdk binary, e.g. a
# build of an earlier commit: adds base-fwd-map, base-fwd-map-out and base-reasm
# run with it, in the same rounds), CPU (the one CPU every run is pinned to, default
# the last one allowed: haka-dpdk's main lcore and, through taskset, the reference
# readers, so all compete for the same core; EAL pins the lcore anyway), EAL (EAL arguments; default: 2 MB hugepages
# when at least 512 are free (512 MB taken), else --no-huge -m 1024).
#
# Captures (made with haka-gen when missing, deterministic):
#   full1460  10,000 connections, 1,000 open at once, 146,000 payload bytes each way,
#             1460-byte segments: 2.07M packets, 1476 bytes on average, 3.09 GB
#   seg64     the same connections with 64-byte segments: 2.07M packets, 0.30 GB
#
# Each round runs every scenario once, in an order rotated from round to round:
#   libpcap   bench_offline libpcap: pcap_next_ex loop touching each packet's first byte
#   walk      bench_offline walk: mmap, read each record header and first byte
#   walk-out  bench_offline copy: the walk writing the mapped records to OUT_DIR
#             (write() of ~1 MiB at a time): the kernel's cost of an output pcap
#   fwd-map, fwd-libpcap   haka-dpdk --forward-only with the mapped / libpcap reader
#   track     haka-dpdk --no-reassembly (connection tracking)
#   track-nocsum  the same with --checksum-validation no (IPv4/TCP checksums are
#             verified by default, which reads every payload byte)
#   reasm     haka-dpdk with default settings (tracking and stream reassembly)
# and each haka-dpdk scenario again with "-out": an output pcap written to OUT_DIR
# (deleted right after the run, so its dirty pages are dropped, not written back
# during later runs). The file is warmed into the page cache before the rounds.
#
# Figures: the engine's own rate (packets / the "seconds" of --summary-json: the
# worker loop, from the first read to the last packet out; the reader's open and
# the output's final flush and close excluded), and as a cross-check the whole
# process's wall time minus its start-up (the same command on a 20-packet capture,
# measured in the same round). The reference readers time open, loop and close.
# Table: medians over rounds, and the median of the per-round ratios to the walk.
set -euo pipefail

build=${1:-build}
runs=${RUNS:-5}
work=${WORK:-/work/tmp-offline}
out_dir=${OUT_DIR:-$work}
captures=${CAPTURES:-"full1460 seg64"}
haka=$build/app/haka-dpdk
gen=$build/app/haka-gen
ref=$build/bench/bench_offline
py=/usr/bin/python3

for exe in "$haka" "$gen" "$ref"; do
  [[ -x $exe ]] || { echo "missing $exe (ninja -C $build app/haka-dpdk app/haka-gen bench/bench_offline)"; exit 1; }
done
mkdir -p "$work" "$out_dir"

cpu=${CPU:-$(taskset -pc $$ | awk -F'[ ,-]' '{print $NF}')}
pin=(taskset -c "$cpu")
if [[ -z ${EAL:-} ]]; then
  free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if [[ ${free_huge:-0} -ge 512 ]]; then
    EAL="-l $cpu --socket-mem 512 --in-memory --huge-unlink --no-pci --no-telemetry --log-level=*:error"
  else
    EAL="-l $cpu --no-huge -m 1024 --no-pci --no-shconf --no-telemetry --log-level=*:error"
  fi
fi
read -r -a eal <<<"$EAL"

gen_args() {
  case $1 in
    full1460) echo "--connections 10000 --concurrency 1000 --bytes-per-connection 146000 --segment 1460" ;;
    seg64) echo "--connections 10000 --concurrency 1000 --bytes-per-connection 6400 --segment 64" ;;
    tiny) echo "--connections 1 --concurrency 1 --bytes-per-connection 8000 --segment 1460" ;;
    *) echo "unknown capture $1" >&2; exit 1 ;;
  esac
}

# GB a capture needs in the page cache, with its output beside it.
need_gb() { case $1 in full1460) echo 7 ;; *) echo 1 ;; esac; }

capture() {
  local f=$work/$1.pcap avail
  if [[ ! -s $f ]]; then
    avail=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
    if ((avail < $(need_gb "$1"))); then
      echo "only ${avail} GB of memory available; $1 needs $(need_gb "$1") GB (input and output in the page cache)" >&2
      exit 1
    fi
    echo "generating $f" >&2
    # shellcheck disable=SC2046
    "$gen" --out "$f" $(gen_args "$1") --quiet
  fi
  echo "$f"
}

tiny=$(capture tiny)
results=$work/offline_results.tsv
: >"$results"

scenarios="libpcap walk walk-out fwd-map fwd-map-out fwd-libpcap fwd-libpcap-out track track-out track-nocsum reasm reasm-out"
[[ -n ${HAKA_BASE:-} ]] && scenarios+=" base-fwd-map base-fwd-map-out base-reasm"

haka_flags() {
  case ${1#base-} in
    fwd-map*) echo "--forward-only --pcap-reader map" ;;
    fwd-libpcap*) echo "--forward-only --pcap-reader libpcap" ;;
    track-nocsum*) echo "--no-reassembly --checksum-validation no" ;;
    track*) echo "--no-reassembly" ;;
    reasm*) echo "" ;;
  esac
}

now() { date +%s.%N; }

# run_haka CAPTURE_FILE SCENARIO -> "engine_pps wall_s packets"
run_haka() {
  local f=$1 sc=$2 out=() json=$work/summary.json t0 t1 exe=$haka
  [[ $sc == base-* ]] && exe=$HAKA_BASE
  # shellcheck disable=SC2207
  local flags=($(haka_flags "$sc"))
  [[ $sc == *-out ]] && out=(--out "$out_dir/offline_out.pcap")
  t0=$(now)
  "$exe" "${eal[@]}" -- --pcap "$f" "${out[@]}" "${flags[@]}" --quiet --summary-json "$json" >/dev/null
  t1=$(now)
  $py - "$json" "$t0" "$t1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
t = j["total"]["packets"]
assert j["input_problem"] is None and t["rx"] == t["tx"], j
print(t["rx"] / j["seconds"], float(sys.argv[3]) - float(sys.argv[2]), t["rx"])
EOF
}

echo "# $(date -u +%FT%TZ) $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null) EAL: $EAL; references: taskset -c $cpu; out: $out_dir" >&2
for cap in $captures; do
  f=$(capture "$cap")
  cat "$f" >/dev/null; cat "$f" >/dev/null # into the page cache
  read -r -a order <<<"$scenarios"
  for ((r = 1; r <= runs; r++)); do
    n=${#order[@]}
    shift_by=$(((r - 1) % n))
    rotated=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
    for sc in "${rotated[@]}"; do
      case $sc in
        libpcap | walk | walk-out)
          if [[ $sc == walk-out ]]; then
            read -r _ pk _ _ pps _ < <("${pin[@]}" "$ref" copy "$f" "$out_dir/offline_out.pcap")
            rm -f "$out_dir/offline_out.pcap"
          else
            read -r _ pk _ _ pps _ < <("${pin[@]}" "$ref" "$sc" "$f")
          fi
          printf '%s\t%s\t%d\tpps\t%s\n%s\t%s\t%d\twall_pps\t%s\n' "$cap" "$sc" "$r" "$pps" "$cap" "$sc" "$r" "$pps" >>"$results"
          ;;
        *)
          read -r pps wall pk < <(run_haka "$f" "$sc")
          if [[ $sc == *-out ]]; then
            if [[ $r == 1 ]]; then
              if cmp -s "$f" "$out_dir/offline_out.pcap"; then same=identical; else same=differs; fi
              printf '%s\t%s\t%d\toutput\t%s\n' "$cap" "$sc" "$r" "$same" >>"$results"
            fi
            rm -f "$out_dir/offline_out.pcap"
          fi
          # Start-up of the same command on a 20-packet capture.
          read -r _ wall0 _ < <(run_haka "$tiny" "${sc%-out}")
          printf '%s\t%s\t%d\tpps\t%s\n%s\t%s\t%d\twall_pps\t%s\n' "$cap" "$sc" "$r" "$pps" \
            "$cap" "$sc" "$r" "$($py -c "print($pk / max(1e-9, $wall - $wall0))")" >>"$results"
          ;;
      esac
      echo "  $cap round $r $sc done" >&2
    done
  done
done

$py - "$results" "$scenarios" <<'EOF'
import sys, statistics as st
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order = sys.argv[2].split()
val = defaultdict(dict)    # (cap, sc, metric) -> {round: value}
note = {}
for cap, sc, r, metric, v in rows:
    if metric == "output":
        note[(cap, sc)] = v
    else:
        val[(cap, sc, metric)][int(r)] = float(v)
caps = list(dict.fromkeys(r[0] for r in rows))
print("| capture | scenario | engine Mpps (median) | ratio to walk | wall-minus-start-up Mpps | ratio to walk | output vs input |")
print("|---|---|---:|---:|---:|---:|---|")
for cap in caps:
    for sc in order:
        cells = []
        for metric in ("pps", "wall_pps"):
            v = val.get((cap, sc, metric), {})
            w = val.get((cap, "walk", "pps"), {})
            if not v:
                cells += ["", ""]
                continue
            ratios = [v[r] / w[r] for r in v if r in w and w[r] > 0]
            cells += ["%.2f" % (st.median(v.values()) / 1e6), "%.2f" % st.median(ratios) if ratios else ""]
        print("| %s | %s | %s | %s |" % (cap, sc, " | ".join(cells), note.get((cap, sc), "")))
EOF
