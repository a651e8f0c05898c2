#!/usr/bin/env bash
# Bad flags, missing or broken files: a one-line error naming the problem and
# a non-zero exit, never a crash. Good flags: exit 0.
set -uo pipefail
bin=${HAKA_DPDK_BIN:?}
src=${HAKA_DPDK_SOURCE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
good=$src/tests/data/haka/tcp/oneconnection.pcap
fails=0

# expect CODE PATTERN -- ARGS...: exit status CODE, stderr has PATTERN, no crash.
expect() {
  local code=$1 pattern=$2
  shift 3
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$code" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err"; } || [ "$rc" -ge 128 ]; then
    echo "FAIL: haka-dpdk $* -> exit $rc (want $code), stderr: $(cat "$tmp/err")"
    fails=$((fails + 1))
  elif [ "$code" -ne 0 ] && [ "${multiline:-0}" -eq 0 ] && [ "$(grep -c . "$tmp/err")" -ne 1 ]; then
    echo "FAIL: haka-dpdk $*: want one error line, got: $(cat "$tmp/err")"
    fails=$((fails + 1))
  else
    echo "ok: $* -> $rc"
  fi
}

expect 2 'nothing to do' --
expect 2 'unknown option --bogus' -- --bogus
expect 2 "unknown option --vdev (EAL options go before '--'" -- --vdev net_null0
expect 2 'unknown option' -- --pcap "$good" extra
expect 2 '--pcap needs a value' -- --pcap
expect 2 "--pcap: cannot read '$tmp/none.pcap'" -- --pcap "$tmp/none.pcap"
expect 2 '--out needs --pcap' -- --out "$tmp/x.pcap"
expect 2 "--mbufs: '12x' is not a pool size" -- --pcap "$good" --mbufs 12x
expect 2 "--mbufs: '-5' is not a pool size" -- --pcap "$good" --mbufs -5
expect 2 "--rx-desc: '99999' is not a descriptor count" -- --pcap "$good" --rx-desc 99999
expect 2 "--stats-interval: 'soon' is not a number" -- --stats-interval soon
expect 2 "--pcap-reader: 'mmap' is not" -- --pcap "$good" --pcap-reader mmap
expect 2 '--quiet takes no value' -- --pcap "$good" --quiet=yes
expect 2 '--duration is for live mode' -- --pcap "$good" --duration 3
expect 2 "--rules: cannot read" -- --pcap "$good" --rules "$tmp/none.lua"
expect 2 "--overlap-policy: 'solaris' is not first, last, bsd, linux or windows" -- --pcap "$good" --overlap-policy solaris
expect 2 "--retransmit-conflict: 'keep' is not 'normalise' or 'drop'" -- --pcap "$good" --retransmit-conflict keep
expect 2 "--stream-queue: '0' is not a count from 1 to 16384" -- --pcap "$good" --stream-queue 0
expect 2 "--stream-kept-bytes: 'lots' is not a count" -- --pcap "$good" --stream-kept-bytes lots
expect 2 '--dump-streams needs stream reassembly' -- --pcap "$good" --dump-streams "$tmp/d" --no-reassembly
expect 2 '--rules needs tracking and stream reassembly' -- --pcap "$good" --rules "$good" --forward-only
expect 2 "--patterns: cannot read '$tmp/none.txt'" -- --pcap "$good" --patterns "$tmp/none.txt"
printf 'local x = \n' >"$tmp/syntax.lua"
expect 1 'syntax.lua:' -- --pcap "$good" --rules "$tmp/syntax.lua"
mkdir -p "$tmp/ro" && : >"$tmp/ro/file"
expect 1 "$tmp/ro/file is not a directory" -- --pcap "$good" --dump-streams "$tmp/ro/file"

printf 'not a capture at all, just some text\n' >"$tmp/text.pcap"
expect 1 'not a capture libpcap can read' -- --pcap "$tmp/text.pcap"
head -c 10 "$good" >"$tmp/short.pcap"
expect 1 'truncated pcap file header' -- --pcap "$tmp/short.pcap"
head -c 1000 "$good" >"$tmp/cut.pcap"
expect 1 'the file ends inside a record' -- --pcap "$tmp/cut.pcap" --out "$tmp/cut-out.pcap" --quiet
expect 1 "$tmp/nodir/x.pcap: cannot create" -- --pcap "$good" --out "$tmp/nodir/x.pcap"
expect 1 'unsupported link type 189' -- --pcap "$(
  printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\xbd\x00\x00\x00' >"$tmp/usb.pcap"
  echo "$tmp/usb.pcap")"
# DPDK's EAL prints its own lines before ours: only ours is checked.
multiline=1 expect 1 "DPDK EAL initialisation failed" -- -l 0 --no-huge --no-pci --no-such-eal-flag -- --pcap "$good"
expect 1 'no ports' -- -l 0 --no-huge -m 256 --no-pci --no-shconf --no-telemetry --log-level='*:error' -- --duration 1

# Good invocations.
expect 0 '' -- --help
expect 0 '' -- --version
"$bin" --version | grep -q '^haka-dpdk [0-9]' || { echo "FAIL: --version output"; fails=$((fails + 1)); }
"$bin" --help | grep -q '^usage: haka-dpdk' || { echo "FAIL: --help output"; fails=$((fails + 1)); }
expect 0 '' -- --pcap "$good" --quiet
# EAL options given explicitly in offline mode work too.
expect 0 '' -- -l 0 --no-huge -m 256 --no-pci --no-shconf --no-telemetry --log-level='*:error' -- --pcap "$good" --quiet
# A truncated capture still writes what it read before the cut.
[ -s "$tmp/cut-out.pcap" ] || { echo "FAIL: nothing written for a truncated capture"; fails=$((fails + 1)); }

echo "cli_errors: $fails failed"
[ "$fails" -eq 0 ]
