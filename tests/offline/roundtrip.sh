#!/usr/bin/env bash
# Offline round trip: every bundled capture comes out byte-identical, through
# the zero-copy reader and through libpcap, both when only forwarded
# (--forward-only) and when tracked but observed only (--pass-through, which
# must never alter or drop anything); the summary's accounting holds.
set -euo pipefail
bin=${HAKA_DPDK_BIN:?}
src=${HAKA_DPDK_SOURCE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
for f in "$src"/tests/data/haka/*/*.pcap; do
  [ -L "$f" ] && continue
  for mode in "map --forward-only" "libpcap --forward-only" "map --pass-through" "libpcap --pass-through"; do
    out=$tmp/out.pcap
    # shellcheck disable=SC2086
    if ! "$bin" --pcap "$f" --out "$out" --pcap-reader $mode --summary-json "$tmp/s.json" --quiet; then
      echo "FAIL: $f ($mode): exit $?"; fail=$((fail + 1)); continue
    fi
    if ! cmp -s "$f" "$out"; then
      echo "FAIL: $f ($mode): output differs from input"; fail=$((fail + 1)); continue
    fi
    if ! grep -q '"ok":true' "$tmp/s.json"; then
      echo "FAIL: $f ($mode): accounting: $(cat "$tmp/s.json")"; fail=$((fail + 1)); continue
    fi
    n=$((n + 1))
  done
done
echo "$n round trips identical, $fail failed"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
