#!/usr/bin/env bash
# haka-gen's output checked by two independent readers, for each option:
# (1) tshark: no malformed frames, no bad IPv4/TCP checksums, and its TCP
#     analysis flags match what was asked (no lost segment, retransmission,
#     out-of-order or duplicate ACK unless --loss/--reorder asked for them;
#     present when they did), the SYNs carry MSS, SACK-permitted, timestamps
#     and window scale, IPv6 share and RST count as asked, the first
#     --concurrency connections all open before any closes;
# (2) haka-dpdk offline: exactly --connections connections opened and as many
#     closed by FIN and by RST as generated, 0 dropped, accounting balanced,
#     and with --dump-streams every stream's size equals the bytes asked.
# Plus: the same seed gives the same file, another seed a different one.
set -euo pipefail
bin=${HAKA_DPDK_BIN:?}
build=${HAKA_DPDK_BUILD:?}
gen=${HAKA_GEN_BIN:-$build/app/haka-gen}
[ -x "$gen" ] || { echo "no $gen"; exit 1; }
command -v tshark >/dev/null || { echo "tshark missing: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

json_num() { # FILE GROUP KEY: a counter from the summary JSON
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$@"
}

# check NAME "EXPECT" GEN-ARGS...: EXPECT is a list of words:
#   conns=N up=N down=N  loss  reorder  v6  rst=all|some|none  conc=N
check() {
  local name=$1 expect=$2; shift 2
  local f=$tmp/$name.pcap conns=0 up=0 down=0 loss=0 reorder=0 v6=0 rst=none conc=0 w
  for w in $expect; do
    case $w in
      conns=*) conns=${w#conns=} ;; up=*) up=${w#up=} ;; down=*) down=${w#down=} ;;
      conc=*) conc=${w#conc=} ;; rst=*) rst=${w#rst=} ;;
      loss) loss=1 ;; reorder) reorder=1 ;; v6) v6=1 ;;
    esac
  done
  if ! "$gen" --quiet --out "$f" "$@"; then bad "$name: haka-gen $*"; return; fi
  n=$((n + 1))

  # (1) tshark. One pass, one line per frame.
  tshark -r "$f" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o tcp.relative_sequence_numbers:TRUE \
    -T fields -E separator='|' -E occurrence=f \
    -e _ws.malformed -e ip.checksum.status -e tcp.checksum.status -e tcp.analysis.lost_segment \
    -e tcp.analysis.retransmission -e tcp.analysis.fast_retransmission -e tcp.analysis.out_of_order \
    -e tcp.analysis.duplicate_ack -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset -e tcp.flags.fin \
    -e tcp.options.mss_val -e tcp.options.sack_perm -e tcp.options.timestamp.tsval -e tcp.options.wscale.shift \
    -e ipv6.src -e tcp.stream >"$tmp/t.txt" 2>"$tmp/t.err" || { bad "$name: tshark: $(head -3 "$tmp/t.err")"; return; }
  local stats
  stats=$(awk -F'|' '
    { frames++ }
    $1 != "" { malformed++ }
    $2 == "0" || $3 == "0" { badsum++ }
    $4 != "" { lost++ }
    $5 != "" || $6 != "" { retx++ }
    $7 != "" { ooo++ }
    $8 != "" { dup++ }
    $9 == "1" || $9 == "True" { syns++; if ($10 == "0" || $10 == "False") { csyn++; if ($17 != "") v6++;
        if ($13 == "" || $14 == "" || $15 == "" || $16 == "") badopt++ } }
    $11 == "1" || $11 == "True" { rsts++ }
    # connections opened before the first close
    ($11 == "1" || $11 == "True" || $12 == "1" || $12 == "True") && !closed { closed = 1; before = csyn }
    END { printf "frames=%d malformed=%d badsum=%d lost=%d retx=%d ooo=%d dup=%d csyn=%d v6=%d badopt=%d rsts=%d before=%d\n",
          frames, malformed, badsum, lost, retx, ooo, dup, csyn, v6, badopt, rsts, before }' "$tmp/t.txt")
  local frames malformed badsum lost retx ooo dup csyn v6n badopt rsts before
  eval "$(sed 's/v6=/v6n=/' <<<"$stats")"
  [ "$frames" -gt 0 ] || bad "$name: tshark read no frames"
  [ "$malformed" -eq 0 ] || bad "$name: $malformed malformed frames"
  [ "$badsum" -eq 0 ] || bad "$name: $badsum bad checksums"
  [ "$badopt" -eq 0 ] || bad "$name: $badopt SYNs without MSS/SACK-permitted/timestamps/window scale"
  [ "$csyn" -eq "$conns" ] || bad "$name: $csyn client SYNs, asked for $conns connections"
  [ "$dup" -eq 0 ] || [ "$loss" -eq 1 ] || bad "$name: $dup duplicate ACKs without --loss"
  if [ "$loss" -eq 0 ] && [ "$reorder" -eq 0 ]; then
    [ $((lost + retx + ooo)) -eq 0 ] || bad "$name: lost $lost retransmitted $retx out-of-order $ooo without --loss/--reorder"
  fi
  if [ "$loss" -eq 1 ]; then
    # A segment after a hole, the receiver's repeated ACK, the retransmission
    # (tshark calls it out-of-order when it comes within its RTT estimate).
    [ "$lost" -gt 0 ] && [ "$dup" -gt 0 ] && [ $((retx + ooo)) -gt 0 ] ||
      bad "$name: --loss but lost $lost duplicate ACKs $dup retransmitted/out-of-order $((retx + ooo))"
  fi
  if [ "$reorder" -eq 1 ]; then
    [ "$lost" -gt 0 ] && [ $((retx + ooo)) -gt 0 ] || bad "$name: --reorder but lost $lost retransmitted/out-of-order $((retx + ooo))"
    [ "$loss" -eq 1 ] || [ "$dup" -eq 0 ] || bad "$name: --reorder alone gave $dup duplicate ACKs"
  fi
  if [ "$v6" -eq 1 ]; then
    [ "$v6n" -gt 0 ] && [ "$v6n" -lt "$conns" ] || bad "$name: $v6n of $conns connections over IPv6"
  else
    [ "$v6n" -eq 0 ] || bad "$name: $v6n IPv6 connections without --ipv6-ratio"
  fi
  case $rst in
    none) [ "$rsts" -eq 0 ] || bad "$name: $rsts RSTs without --rst-ratio" ;;
    all) [ "$rsts" -eq "$conns" ] || bad "$name: $rsts RSTs for $conns connections at --rst-ratio 1" ;;
    some) [ "$rsts" -gt 0 ] && [ "$rsts" -lt "$conns" ] || bad "$name: $rsts RSTs of $conns connections" ;;
  esac
  if [ "$conc" -gt 0 ]; then
    [ "$before" -eq "$conc" ] || bad "$name: $before connections opened before the first close, concurrency $conc"
  fi

  # (2) The engine.
  local d=$tmp/$name.streams
  rm -rf "$d"; mkdir "$d"
  if ! "$bin" --pcap "$f" --summary-json "$tmp/s.json" --dump-streams "$d" --quiet; then
    bad "$name: haka-dpdk failed"; return
  fi
  local opened fin rstc dropped ok
  opened=$(json_num "$tmp/s.json" connections opened)
  fin=$(json_num "$tmp/s.json" connections closed_fin)
  rstc=$(json_num "$tmp/s.json" connections closed_rst)
  dropped=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["packets"]["dropped"])' "$tmp/s.json")
  ok=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accounting"]["ok"])' "$tmp/s.json")
  [ "$opened" -eq "$conns" ] || bad "$name: engine opened $opened connections, generated $conns"
  [ "$rstc" -eq "$rsts" ] || bad "$name: engine closed $rstc by RST, generated $rsts"
  [ "$fin" -eq $((conns - rsts)) ] || bad "$name: engine closed $fin by FIN, generated $((conns - rsts))"
  [ "$dropped" -eq 0 ] || bad "$name: engine dropped $dropped packets"
  [ "$ok" = True ] || bad "$name: engine accounting not ok"
  # Streams that carried bytes are dumped, one file per direction.
  local want_files=0 wrong
  [ "$up" -gt 0 ] && want_files=$((want_files + conns))
  [ "$down" -gt 0 ] && want_files=$((want_files + conns))
  local nup ndown
  nup=$(find "$d" -name '*.up*' -size +0c | wc -l)
  ndown=$(find "$d" -name '*.down*' -size +0c | wc -l)
  [ $((nup + ndown)) -eq "$want_files" ] || bad "$name: $nup + $ndown non-empty dumped streams, expected $want_files"
  wrong=$(find "$d" -name '*.up*' -size +0c -printf '%s\n' | grep -vcx "$up" || true)
  [ "$wrong" -eq 0 ] || bad "$name: $wrong upstream dumps not $up bytes"
  wrong=$(find "$d" -name '*.down*' -size +0c -printf '%s\n' | grep -vcx "$down" || true)
  [ "$wrong" -eq 0 ] || bad "$name: $wrong downstream dumps not $down bytes"
  echo "ok: $name ($stats; engine opened $opened fin $fin rst $rstc)"
}

base=(--connections 40 --concurrency 8 --seed 7)
check plain "conns=40 up=12000 down=12000 conc=8" "${base[@]}" --bytes-per-connection 12000 --segment 1000
check small-segments "conns=40 up=3000 down=3000" "${base[@]}" --bytes-per-connection 3000 --segment 64
check imix "conns=40 up=20000 down=20000" "${base[@]}" --bytes-per-connection 20000 --imix
check asymmetric "conns=40 up=500 down=30000" "${base[@]}" --bytes-up 500 --bytes-down 30000 --segment 1460
check upload-only "conns=40 up=9000 down=0" "${base[@]}" --bytes-up 9000 --bytes-down 0 --segment 1460
check ipv6 "conns=40 up=8000 down=8000 v6" "${base[@]}" --bytes-per-connection 8000 --ipv6-ratio 0.5
check reorder "conns=40 up=12000 down=12000 reorder" "${base[@]}" --bytes-per-connection 12000 --segment 500 --reorder 0.2
check loss "conns=40 up=12000 down=12000 loss" "${base[@]}" --bytes-per-connection 12000 --segment 500 --loss 0.2
check rst-some "conns=40 up=4000 down=4000 rst=some" "${base[@]}" --bytes-per-connection 4000 --rst-ratio 0.5
check rst-all "conns=40 up=4000 down=4000 rst=all" "${base[@]}" --bytes-per-connection 4000 --rst-ratio 1
check concurrency1 "conns=10 up=5000 down=5000 conc=1" --connections 10 --concurrency 1 --bytes-per-connection 5000
check concurrency-all "conns=100 up=2000 down=2000 conc=100" --connections 100 --concurrency 100 --bytes-per-connection 2000 --segment 300
check everything "conns=60 up=15000 down=7000 loss reorder v6 rst=some conc=20" --connections 60 --concurrency 20 --seed 3 \
  --bytes-up 15000 --bytes-down 7000 --imix --ipv6-ratio 0.3 --reorder 0.1 --loss 0.1 --rst-ratio 0.3

# Deterministic: the same seed, the same bytes; another seed, other bytes.
args=(--quiet --connections 30 --concurrency 5 --imix --loss 0.1 --reorder 0.1 --ipv6-ratio 0.5 --rst-ratio 0.3)
"$gen" "${args[@]}" --seed 11 --out "$tmp/a.pcap"
"$gen" "${args[@]}" --seed 11 --out "$tmp/b.pcap"
"$gen" "${args[@]}" --seed 12 --out "$tmp/c.pcap"
cmp -s "$tmp/a.pcap" "$tmp/b.pcap" || bad "same seed, different output"
cmp -s "$tmp/a.pcap" "$tmp/c.pcap" && bad "different seeds, same output"
# Bad arguments are refused.
for a in "--loss 1.5" "--segment 0" "--concurrency 0" "--connections x" "--bogus"; do
  # shellcheck disable=SC2086
  if "$gen" --out "$tmp/x.pcap" $a 2>/dev/null; then bad "accepted $a"; fi
done
"$gen" --connections 1 2>/dev/null && bad "accepted no --out"

# Live: replayed into net_memif, the engine on the other side receives every
# frame and sees every connection open and close (its second port: a net_pcap
# that receives nothing and writes to /dev/null).
"$gen" --quiet --out "$tmp/empty.pcap" --connections 0
"$gen" --quiet --out "$tmp/live.pcap" --connections 100 --concurrency 20 --bytes-per-connection 3000 --imix --seed 5
live_frames=$(tshark -r "$tmp/live.pcap" 2>/dev/null | wc -l)
sock=$tmp/memif.sock
"$gen" --quiet --connections 100 --concurrency 20 --bytes-per-connection 3000 --imix --seed 5 --memif "$sock" \
  --eal "-l 0 --no-huge -m 256 --no-pci --no-telemetry --file-prefix hg-gen-$$ --log-level=*:error" \
  >"$tmp/gen-live.out" 2>&1 &
gpid=$!
sleep 1
if ! "$bin" -l 0 --no-huge -m 512 --no-pci --no-telemetry --file-prefix "hg-eng-$$" --log-level='*:error' \
    --vdev "net_memif0,role=client,socket=$sock" --vdev "net_pcap1,rx_pcap=$tmp/empty.pcap,tx_pcap=/dev/null" -- \
    --duration 3 --stats-interval 0 --summary-json "$tmp/live.json" >"$tmp/eng-live.out" 2>&1; then
  bad "memif: haka-dpdk failed: $(tail -3 "$tmp/eng-live.out")"
fi
wait "$gpid" || bad "memif: haka-gen failed: $(cat "$tmp/gen-live.out")"
if [ -s "$tmp/live.json" ]; then
  got=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["connections"]; t=d["total"]["packets"]
print(t["rx"], t["dropped"], c["opened"], c["closed_fin"])' "$tmp/live.json")
  [ "$got" = "$live_frames 0 100 100" ] || bad "memif: engine rx/dropped/opened/closed_fin $got, expected $live_frames 0 100 100"
  [ "$got" = "$live_frames 0 100 100" ] && echo "ok: memif ($live_frames frames, 100 connections opened and closed)"
fi

echo "$n generated files checked, $fail failures"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
