#!/usr/bin/env bash
# Installs what haka-dpdk needs on Debian 12, reserves hugepages, builds.
# Idempotent: a second run checks and returns quickly.
#
#   scripts/setup.sh [--no-build] [--build-dir DIR] [--meson-opts "..."]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$here/build
meson_opts="-Dbuildtype=release"
do_build=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) do_build=0 ;;
    --build-dir) build_dir=$2; shift ;;
    --meson-opts) meson_opts=$2; shift ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# Exact Debian 12 package names.
packages=(
  g++ meson ninja-build pkg-config
  dpdk dpdk-dev libdpdk-dev libnuma-dev
  libhyperscan-dev libluajit-5.1-dev luajit libpcap-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-scapy tshark tcpdump curl iproute2 ethtool iperf3 procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: missing packages (${missing[*]}); run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2 MB hugepages for the mbuf pools and flow tables. Without them the engine
# still runs (it adds --no-huge), only slower.
hp_dir=/sys/kernel/mm/hugepages/hugepages-2048kB
want_pages=${HAKA_HUGEPAGES:-2048}
if [ "$(id -u)" -eq 0 ] && [ -w "$hp_dir/nr_hugepages" ]; then
  if [ "$(cat "$hp_dir/nr_hugepages")" -lt "$want_pages" ]; then
    echo "$want_pages" >"$hp_dir/nr_hugepages" 2>/dev/null || true
  fi
  mkdir -p /dev/hugepages
  if ! mountpoint -q /dev/hugepages; then
    mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null || true
  fi
fi
if ! mountpoint -q /dev/hugepages 2>/dev/null || [ "$(cat "$hp_dir/nr_hugepages" 2>/dev/null || echo 0)" -eq 0 ]; then
  echo "setup.sh: no 2 MB hugepages available: live runs will use --no-huge (slower)" >&2
fi

if [ "$do_build" -eq 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$build_dir" "$here" $meson_opts >/dev/null
  fi
  ninja -C "$build_dir" -j"$(nproc)" >/dev/null
fi
