#!/usr/bin/env bash
# Sets up and runs every test: the release build, then the ASan+UBSan build.
# Ends with one line: "tests: N passed, N failed" (N counts each GoogleTest
# case and each script test).
#
#   scripts/test.sh [--quick]     # --quick: release build only
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$here/scripts/setup.sh" --no-build || exit 1

builds=("build:-Dbuildtype=release")
[ "$quick" -eq 1 ] || builds+=("build-asan:-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false")

status=0
logs=()
for entry in "${builds[@]}"; do
  dir=$here/${entry%%:*}
  opts=${entry#*:}
  echo "== $dir ($opts)"
  if [ ! -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$dir" "$here" $opts >/dev/null || { status=1; continue; }
  fi
  ninja -C "$dir" -j"$(nproc)" >/dev/null || { echo "build failed in $dir"; ninja -C "$dir" -j1 2>&1 | tail -30; status=1; continue; }
  rm -f "$dir/meson-logs/testlog.junit.xml"
  # Sanitizer settings: fail on the first report; DPDK maps memory at fixed
  # hints, which LeakSanitizer cannot follow, so leaks are checked by the
  # engine's own pool accounting instead.
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
  logs+=("$dir/meson-logs/testlog.junit.xml")
done
/usr/bin/python3 "$here/scripts/count_tests.py" "${logs[@]}" || status=1
exit $status
