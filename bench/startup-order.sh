#!/usr/bin/env bash
# Writes src-tauri/startup-order.txt: the functions of latch-app that a start
# runs, which the release link places side by side (src-tauri/build.rs; why
# in bench/README.md, "where Latch's own code goes"). Run it again when
# `make bench` says the list is stale (a new toolchain, a changed Cargo.lock),
# then rebuild: `cargo build --release -p latch-app`.
#
# How: the release build (symbols kept: the release profile does not strip,
# scripts/package.sh does) runs under valgrind's callgrind in the desktop
# bench's throwaway session (bench/session.sh) with 100 connections, until
# its window has shown the list and idled; every function of latch-app
# that ran is listed. STARTUP_ORDER_WAIT (90) seconds under callgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
WAIT=${STARTUP_ORDER_WAIT:-90}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
LATCH_APP=$TARGET/release/latch-app
LATCH_CLI=$TARGET/release/latch
ORDER=$PWD/src-tauri/startup-order.txt

if [[ "${1:-}" != --measure ]]; then
  missing=()
  for p in valgrind xvfb python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "startup-order: installing ${missing[*]}" >&2
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  echo "== building (release): the UI, latch-app and latch"
  npm --prefix ui run build --silent
  cargo build --release --locked -p latch-app -p latch-cli
  # The session's services (a11y bus, portals) log to its stdout and stderr: into a file.
  mkdir -p target/bench/logs
  exec 4>&2 5>&1
  exec dbus-run-session -- bash "$0" --measure >target/bench/logs/startup-order-session.log 2>&1
fi
exec 1>&5 2>&4 4>&- 5>&-

# ---- inside a private D-Bus session ------------------------------------------
# shellcheck source=bench/session.sh
source bench/session.sh
echo "== 100 connections in a throwaway data directory (latch import)"
seed_connections 100
export LATCH_DATA_DIR=$scratch/latch-data-100

echo "== latch-app under callgrind for $WAIT s"
valgrind --tool=callgrind --demangle=no --dump-instr=no \
  --callgrind-out-file="$scratch/callgrind.%p" "$LATCH_APP" 2>"$scratch/valgrind.log" &
app=$!
sleep "$WAIT"
callgrind_control --dump=idle "$app" >/dev/null
kill -TERM "$app"
wait "$app" 2>/dev/null || true

new=$scratch/startup-order.txt
$PY bench/startup_order.py write "$new" "$scratch"/callgrind.*
# The window asked for the list and got it: otherwise the wait was too short.
grep -q 'ConnectionDto' "$new" || {
  echo "startup-order: the window had not loaded its list after $WAIT s; try STARTUP_ORDER_WAIT=180" >&2
  exit 1
}
mv "$new" "$ORDER"
echo "wrote $ORDER; rebuild with: cargo build --release -p latch-app"
