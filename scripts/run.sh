#!/usr/bin/env bash
# Sets up (packages, hugepages, build) and runs haka-dpdk. With no arguments,
# runs offline on the bundled sample capture and prints the summary.
#
#   scripts/run.sh                       # the bundled sample
#   scripts/run.sh [haka-dpdk arguments] # anything haka-dpdk takes
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
bin=$here/build/app/haka-dpdk
if [ $# -eq 0 ]; then
  out=${TMPDIR:-/tmp}/haka-dpdk-sample-out.pcap
  set -- --pcap "$here/tests/data/haka/sample/standard-tcp.pcap" --out "$out"
fi
exec "$bin" "$@"
