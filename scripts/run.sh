#!/usr/bin/env bash
# Sets up (packages, hugepages, build) and runs haka-dpdk. With no arguments,
# runs offline on the bundled sample capture with the seed's sample rule set
# (lua/samples/tcp: default-drop policy, Xmas scan and /bin/sh shellcode
# rules), printing the rules' alerts and the summary.
#
#   scripts/run.sh                       # the bundled sample
#   scripts/run.sh [haka-dpdk arguments] # anything haka-dpdk takes
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
bin=$here/build/app/haka-dpdk
if [ $# -eq 0 ]; then
  out=${TMPDIR:-/tmp}/haka-dpdk-sample-out.pcap
  # The capture was taken on a host with checksum offload (Haka's test
  # data): checksums are not verified, as Haka did not.
  set -- --pcap "$here/tests/data/haka/sample/standard-tcp.pcap" --out "$out" \
    --rules "$here/lua/samples/tcp/rules.lua" --checksum-validation no
fi
exec "$bin" "$@"
