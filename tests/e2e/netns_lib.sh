# shellcheck shell=bash
# Network-namespace topology for live end-to-end tests (source this file, run as root).
#
#   [client ns]            [ips ns]                         [server ns]
#   cli0 10.199.X.1 ====== ips0 <- haka-dpdk -> ips1 ====== srv0 10.199.X.2
#                          (net_af_packet0)   (net_af_packet1)
#
# or, with topo_create_impaired, an impairing forwarder (impair.py: loss, reordering,
# duplication from a seeded RNG; the kernel here has no tc netem) between client and engine:
#
#   [client ns]        [impair ns]                [ips ns]                     [server ns]
#   cli0 10.199.X.1 == imp0 <- impair.py -> imp1 == ips0 <- haka-dpdk -> ips1 == srv0 10.199.X.2
#
# The engine bridges the two inner veth ends at L2 (one subnet, so ARP crosses it too).
# Names carry the caller's PID so parallel runs cannot collide. Everything started
# through topo_spawn / topo_engine_start is stopped by topo_destroy, which the caller
# puts in an EXIT trap.
#
# Public functions:
#   topo_check_usable            -> 0, or prints why and returns 77 (skip)
#   topo_create                  build namespaces and links; sets the TOPO_* variables below
#   topo_create_impaired         the same with the impair namespace between client and ips
#   topo_impair_start LOG ARGS.. start impair.py in the impair ns (ARGS: --loss P --reorder P
#                                 --dup P --seed N ...); waits until it forwards
#   topo_impair_stop             SIGTERM it and wait: its counts are the last line of LOG
#   topo_capture_start NS IF PCAP LOG   tcpdump -s 0 -w PCAP on IF in NS; waits until it listens
#   topo_capture_stop            SIGINT tcpdump and wait; 1 unless it wrote every frame it saw
#   topo_wait_sockets_done SEC   wait until no TCP socket in the client or server ns is in
#                                 any state but LISTEN and TIME-WAIT (every FIN was acked,
#                                 every RST delivered)
#   topo_wait_quiet SEC          wait until the engine's veths received nothing for 0.5 s
#   topo_destroy                 stop what we started, delete the namespaces (idempotent)
#   topo_spawn NS LOG CMD...     run CMD in NS in the background; pid in TOPO_SPAWNED_PID
#   topo_counter NS IF NAME      one /sys/class/net/IF/statistics/NAME value seen from NS
#   topo_wait_tcp NS IP PORT SEC wait until something listens on IP:PORT (checked from NS)
#   topo_engine_start LOG ARGS.. start haka-dpdk in the ips ns on the two af_packet ports
#                                 (ARGS go after '--'); pid in TOPO_ENGINE_PID
#   topo_engine_wait_ready LOG SEC   wait for the engine's first stats line
#   topo_engine_stop             SIGINT the engine, wait; returns its exit status
#                                 (topo_engine_start also sets TOPO_EAL, the EAL arguments
#                                 used, and TOPO_MEMORY: "hugepages" or "no-huge")
#
# Variables set by topo_create:
#   TOPO_NS_CLIENT TOPO_NS_SERVER TOPO_NS_IPS   namespace names
#   TOPO_IF_CLIENT TOPO_IF_SERVER               veth ends in the client / server ns
#   TOPO_IF_IPS_CLIENT TOPO_IF_IPS_SERVER       ips-ns ends: engine port 0 / port 1
#   TOPO_IP_CLIENT TOPO_IP_SERVER               addresses (no prefix length)
#   TOPO_NS_IMPAIR TOPO_IF_IMPAIR_CLIENT TOPO_IF_IMPAIR_IPS   (impaired topology only)
# Tunables (environment): HAKA_E2E_LCORE (engine lcore; default: first CPU we may run on),
#   HAKA_E2E_NO_HUGE=1 (force --no-huge even when hugepages are free),
#   HAKA_E2E_FRAMECNT (af_packet ring frames per queue, default 4096).
# Set by the caller before topo_engine_start: TOPO_AF_PACKET_ARGS, more net_af_packet devargs
#   for both ports (e.g. ",qdisc_bypass=0": without it the engine's transmissions skip the
#   kernel's taps and a tcpdump on the same interface sees only what the engine receives).

TOPO_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOPO_TAG="haka-e2e-$$"
TOPO_NS_CLIENT="$TOPO_TAG-cli"
TOPO_NS_SERVER="$TOPO_TAG-srv"
TOPO_NS_IPS="$TOPO_TAG-ips"
TOPO_NS_IMPAIR="$TOPO_TAG-imp"
TOPO_IF_CLIENT=cli0
TOPO_IF_SERVER=srv0
TOPO_IF_IPS_CLIENT=ips0
TOPO_IF_IPS_SERVER=ips1
TOPO_IF_IMPAIR_CLIENT=imp0
TOPO_IF_IMPAIR_IPS=imp1
TOPO_NET="10.199.$(($$ % 250 + 1))"
TOPO_IP_CLIENT="$TOPO_NET.1"
TOPO_IP_SERVER="$TOPO_NET.2"
TOPO_SPAWNED=()
TOPO_SPAWNED_PID=
TOPO_ENGINE_PID=
TOPO_IMPAIR_PID=
TOPO_CAPTURE_PID=
TOPO_CAPTURE_LOG=
TOPO_CREATED=0
TOPO_IMPAIRED=0
TOPO_EAL=()
TOPO_AF_PACKET_ARGS=${TOPO_AF_PACKET_ARGS:-}
export TOPO_MEMORY=

topo_log() { echo "[topo] $*" >&2; }

topo_check_usable() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: needs root (network namespaces, veth, af_packet)"; return 77
  fi
  local tool
  for tool in ip ethtool curl sysctl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: '$tool' not installed (run scripts/setup.sh)"; return 77; }
  done
  [[ -x /usr/bin/python3 ]] || { echo "SKIP: /usr/bin/python3 not installed"; return 77; }
  local probe="$TOPO_TAG-probe"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "SKIP: 'ip netns add' does not work here (no CAP_SYS_ADMIN or no netns support)"; return 77
  fi
  if ! ip netns exec "$probe" ip link set lo up 2>/dev/null; then
    ip netns del "$probe" 2>/dev/null
    echo "SKIP: 'ip netns exec' does not work here"; return 77
  fi
  ip netns del "$probe"
  return 0
}

# Run a command in a namespace.
topo_in() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Turn off what a raw-socket bridge cannot carry: checksum offload (the checksum would be left
# partial on the wire), TSO/GSO (frames above the MTU), GRO (merged frames at the af_packet socket).
topo_quiet_link() { # NS IF
  topo_in "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 ||
    { topo_log "ethtool -K $2 in $1 failed"; return 1; }
  if [[ -e /proc/sys/net/ipv6 ]]; then
    topo_in "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null || return 1
  fi
}

# No IPv6 anywhere in a namespace (no router/neighbour solicitations, no MLD): only the test's
# own traffic crosses the engine, so its counters can be compared exactly.
topo_new_ns() { # NS
  ip netns add "$1" || return 1
  topo_in "$1" ip link set lo up || return 1
  if [[ -e /proc/sys/net/ipv6 ]]; then
    topo_in "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null ||
      return 1
  fi
}

topo_create() { topo_build 0; }
topo_create_impaired() { topo_build 1; }

topo_build() { # IMPAIRED(0|1)
  TOPO_CREATED=1
  TOPO_IMPAIRED=$1
  topo_new_ns "$TOPO_NS_CLIENT" && topo_new_ns "$TOPO_NS_SERVER" && topo_new_ns "$TOPO_NS_IPS" || return 1
  # Each pair is made directly in its namespaces: no name ever exists in the root namespace.
  local pairs=("$TOPO_NS_SERVER $TOPO_IF_SERVER" "$TOPO_NS_IPS $TOPO_IF_IPS_CLIENT" "$TOPO_NS_IPS $TOPO_IF_IPS_SERVER")
  if [[ $TOPO_IMPAIRED == 1 ]]; then
    topo_new_ns "$TOPO_NS_IMPAIR" || return 1
    ip -n "$TOPO_NS_IPS" link add "$TOPO_IF_IPS_CLIENT" type veth peer name "$TOPO_IF_IMPAIR_IPS" netns "$TOPO_NS_IMPAIR" &&
      ip -n "$TOPO_NS_IMPAIR" link add "$TOPO_IF_IMPAIR_CLIENT" type veth peer name "$TOPO_IF_CLIENT" netns "$TOPO_NS_CLIENT" ||
      return 1
    pairs+=("$TOPO_NS_IMPAIR $TOPO_IF_IMPAIR_CLIENT" "$TOPO_NS_IMPAIR $TOPO_IF_IMPAIR_IPS")
  else
    ip -n "$TOPO_NS_IPS" link add "$TOPO_IF_IPS_CLIENT" type veth peer name "$TOPO_IF_CLIENT" netns "$TOPO_NS_CLIENT" ||
      return 1
  fi
  # The client's link is quieted last, once its peer exists wherever it is.
  pairs+=("$TOPO_NS_CLIENT $TOPO_IF_CLIENT")
  ip -n "$TOPO_NS_IPS" link add "$TOPO_IF_IPS_SERVER" type veth peer name "$TOPO_IF_SERVER" netns "$TOPO_NS_SERVER" ||
    return 1
  local pair
  for pair in "${pairs[@]}"; do
    # shellcheck disable=SC2086
    topo_quiet_link $pair || return 1
  done
  if [[ $TOPO_IMPAIRED == 1 ]]; then
    ip -n "$TOPO_NS_IMPAIR" link set "$TOPO_IF_IMPAIR_CLIENT" up &&
      ip -n "$TOPO_NS_IMPAIR" link set "$TOPO_IF_IMPAIR_IPS" up || return 1
  fi
  ip -n "$TOPO_NS_CLIENT" addr add "$TOPO_IP_CLIENT/24" dev "$TOPO_IF_CLIENT" &&
    ip -n "$TOPO_NS_SERVER" addr add "$TOPO_IP_SERVER/24" dev "$TOPO_IF_SERVER" || return 1
  # The inner ends carry no address: the ips namespace's own stack must stay silent.
  ip -n "$TOPO_NS_IPS" link set "$TOPO_IF_IPS_CLIENT" up &&
    ip -n "$TOPO_NS_IPS" link set "$TOPO_IF_IPS_SERVER" up &&
    ip -n "$TOPO_NS_CLIENT" link set "$TOPO_IF_CLIENT" up &&
    ip -n "$TOPO_NS_SERVER" link set "$TOPO_IF_SERVER" up || return 1
  # A veth reports carrier only once both ends are up; wait so the first packets are not lost.
  local i state
  for i in $(seq 50); do
    state=$(topo_in "$TOPO_NS_CLIENT" cat "/sys/class/net/$TOPO_IF_CLIENT/operstate")
    [[ $state == up ]] &&
      [[ $(topo_in "$TOPO_NS_SERVER" cat "/sys/class/net/$TOPO_IF_SERVER/operstate") == up ]] && return 0
    sleep 0.1
  done
  topo_log "links did not come up"
  return 1
}

topo_spawn() { # NS LOG CMD...
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  TOPO_SPAWNED_PID=$!
  TOPO_SPAWNED+=("$TOPO_SPAWNED_PID")
}

# The forwarder for the impaired topology, started by the caller once the namespaces exist.
topo_impair_start() { # LOG IMPAIR-ARGS...
  local log=$1 i; shift
  [[ $TOPO_IMPAIRED == 1 ]] || { topo_log "topo_impair_start: not an impaired topology"; return 1; }
  topo_spawn "$TOPO_NS_IMPAIR" "$log" /usr/bin/python3 "$TOPO_LIB_DIR/impair.py" \
    "$TOPO_IF_IMPAIR_CLIENT" "$TOPO_IF_IMPAIR_IPS" "$@"
  TOPO_IMPAIR_PID=$TOPO_SPAWNED_PID
  for i in $(seq 100); do
    grep -q '^impair: forwarding' "$log" 2>/dev/null && return 0
    kill -0 "$TOPO_IMPAIR_PID" 2>/dev/null || break
    sleep 0.05
  done
  topo_log "impair.py did not start: $(tail -n 3 "$log" 2>/dev/null)"
  return 1
}

topo_impair_stop() {
  local pid=$TOPO_IMPAIR_PID
  [[ -n $pid ]] || return 1
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  local rc=$?
  TOPO_IMPAIR_PID=
  return $rc
}

# tcpdump writes whole frames (-s 0) to PCAP as they pass IF. Immediate mode and -U: each frame
# is read and written as it comes, so a stop loses nothing that crossed before it; -Z root
# keeps it able to write into the caller's private directory. Start it AFTER the engine when
# capturing an engine port: the kernel hands a received frame to the newest packet socket
# first, so tcpdump then records each frame before the engine can forward it and the peer
# answer (started first, the capture can hold an answer ahead of what it answers).
topo_capture_start() { # NS IF PCAP LOG
  local ns=$1 ifname=$2 pcap=$3 i
  TOPO_CAPTURE_LOG=$4
  topo_spawn "$ns" "$TOPO_CAPTURE_LOG" tcpdump -n -i "$ifname" -s 0 -U --immediate-mode -Z root -B 8192 -w "$pcap"
  TOPO_CAPTURE_PID=$TOPO_SPAWNED_PID
  for i in $(seq 100); do
    grep -q 'listening on' "$TOPO_CAPTURE_LOG" 2>/dev/null && return 0
    kill -0 "$TOPO_CAPTURE_PID" 2>/dev/null || break
    sleep 0.05
  done
  topo_log "tcpdump did not start: $(tail -n 3 "$TOPO_CAPTURE_LOG" 2>/dev/null)"
  return 1
}

topo_capture_stop() {
  local pid=$TOPO_CAPTURE_PID captured received dropped
  [[ -n $pid ]] || return 1
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  TOPO_CAPTURE_PID=
  captured=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$TOPO_CAPTURE_LOG")
  received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$TOPO_CAPTURE_LOG")
  dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$TOPO_CAPTURE_LOG")
  [[ -n $captured && -n $received && -n $dropped ]] || { topo_log "tcpdump printed no statistics"; return 1; }
  # "received by filter" counts every frame that matched, read or not, dropped or not.
  [[ $dropped -eq 0 && $captured -eq $received ]] ||
    { topo_log "tcpdump: $captured captured of $received, $dropped dropped by kernel"; return 1; }
}

topo_wait_sockets_done() { # SECONDS
  local tries=$(($1 * 10)) i ns busy
  for ((i = 0; i < tries; i++)); do
    busy=0
    for ns in "$TOPO_NS_CLIENT" "$TOPO_NS_SERVER"; do
      [[ -n $(topo_in "$ns" ss -Htan state connected exclude time-wait 2>/dev/null) ]] && busy=1
    done
    [[ $busy == 0 ]] && return 0
    sleep 0.1
  done
  for ns in "$TOPO_NS_CLIENT" "$TOPO_NS_SERVER"; do
    topo_log "sockets still open in $ns: $(topo_in "$ns" ss -Htan state connected exclude time-wait | tr '\n' ';')"
  done
  return 1
}

topo_wait_quiet() { # SECONDS
  local tries=$(($1 * 2)) i now last=""
  for ((i = 0; i < tries; i++)); do
    now="$(topo_counter "$TOPO_NS_IPS" "$TOPO_IF_IPS_CLIENT" rx_packets) $(topo_counter "$TOPO_NS_IPS" "$TOPO_IF_IPS_SERVER" rx_packets)"
    [[ $now == "$last" ]] && return 0
    last=$now
    sleep 0.5
  done
  return 1
}

topo_counter() { # NS IF NAME
  topo_in "$1" cat "/sys/class/net/$2/statistics/$3"
}

topo_wait_tcp() { # NS IP PORT SECONDS
  local ns=$1 ip=$2 port=$3 tries=$(($4 * 10)) i
  for ((i = 0; i < tries; i++)); do
    topo_in "$ns" /usr/bin/python3 -c "import socket,sys; socket.create_connection(('$ip', $port), 0.5).close()" \
      2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# EAL arguments: af_packet ports on the inner veth ends, one lcore we are allowed to run on,
# a file prefix of our own, and hugepages only when enough are free (else ordinary memory).
topo_eal_args() {
  local lcore=${HAKA_E2E_LCORE:-}
  if [[ -z $lcore ]]; then
    lcore=$(taskset -pc $$ 2>/dev/null | sed 's/.*: //; s/[,-].*//')
    lcore=${lcore:-0}
  fi
  local framecnt=${HAKA_E2E_FRAMECNT:-4096}
  TOPO_EAL=(-l "$lcore" --no-pci --no-telemetry --file-prefix "$TOPO_TAG" --log-level='*:error'
    --vdev "net_af_packet0,iface=$TOPO_IF_IPS_CLIENT,framecnt=$framecnt$TOPO_AF_PACKET_ARGS"
    --vdev "net_af_packet1,iface=$TOPO_IF_IPS_SERVER,framecnt=$framecnt$TOPO_AF_PACKET_ARGS")
  local free_pages
  free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo 2>/dev/null)
  if [[ ${HAKA_E2E_NO_HUGE:-0} != 1 && $(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo) == 2048 &&
        ${free_pages:-0} -ge 160 ]] && grep -qs ' hugetlbfs ' /proc/mounts; then
    TOPO_EAL+=(-m 256 --huge-unlink)
    TOPO_MEMORY="hugepages"
  else
    TOPO_EAL+=(--no-huge -m 512)
    TOPO_MEMORY="no-huge"
  fi
}

topo_engine_start() { # LOG ENGINE-ARGS...
  local log=$1; shift
  topo_eal_args
  topo_log "engine: ${TOPO_EAL[*]} -- $*"
  topo_spawn "$TOPO_NS_IPS" "$log" "${HAKA_DPDK_BIN:?}" "${TOPO_EAL[@]}" -- "$@"
  TOPO_ENGINE_PID=$TOPO_SPAWNED_PID
}

topo_engine_wait_ready() { # LOG SECONDS
  local log=$1 tries=$(($2 * 10)) i
  for ((i = 0; i < tries; i++)); do
    grep -q '^stats:' "$log" 2>/dev/null && return 0
    kill -0 "$TOPO_ENGINE_PID" 2>/dev/null || { topo_log "engine exited during start-up"; return 1; }
    sleep 0.1
  done
  topo_log "engine printed no stats line within $2 s"
  return 1
}

topo_engine_stop() {
  local pid=$TOPO_ENGINE_PID rc
  [[ -n $pid ]] || return 1
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  TOPO_ENGINE_PID=
  return $rc
}

topo_destroy() {
  local pid ns
  for pid in "${TOPO_SPAWNED[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${TOPO_SPAWNED[@]}"; do
    # Give a clean shutdown a moment, then insist.
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  TOPO_SPAWNED=()
  TOPO_ENGINE_PID='' TOPO_IMPAIR_PID='' TOPO_CAPTURE_PID=''
  [[ $TOPO_CREATED == 1 ]] || return 0
  for ns in "$TOPO_NS_CLIENT" "$TOPO_NS_SERVER" "$TOPO_NS_IPS" "$TOPO_NS_IMPAIR"; do
    [[ -e /var/run/netns/$ns ]] || continue
    # Anything still inside one of our namespaces was started by this run.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || topo_log "could not delete namespace $ns"
  done
  rm -rf "/var/run/dpdk/$TOPO_TAG" 2>/dev/null
  TOPO_CREATED=0
  TOPO_IMPAIRED=0
}
