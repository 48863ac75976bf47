#!/usr/bin/env bash
# Inside the private D-Bus session: start the keyring, run the suites.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d /tmp/latch-test.XXXXXX)
cleanup() {
  local pids
  pids=$(jobs -p)
  [[ -z $pids ]] || kill $pids 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# gnome-keyring keeps its files under XDG_DATA_HOME: a throwaway one here.
export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'latch-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

# A virtual display for the real window, free display number chosen by Xvfb.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$scratch/display" 2>/dev/null &
for _ in $(seq 50); do [[ -s $scratch/display ]] && break; sleep 0.1; done
export DISPLAY=":$(cat "$scratch/display")"
# A real notification daemon on this session bus, for Latch's notifications.
dunst >/dev/null 2>&1 &
# Not WEBKIT_DISABLE_COMPOSITING_MODE: with it, WebDriver screenshots hang.

status=0
echo "== Dependencies: licenses, duplicate versions, sources (cargo deny; deny.toml)"
target/tools/bin/cargo-deny check --hide-inclusion-graph licenses bans sources || status=1
echo "== UI unit and component tests (Vitest)"
npm --prefix ui test --silent || status=1
echo "== Rust unit and end-to-end tests"
# A backstop: each desktop test has its own deadline, but nothing may keep
# the suite running forever. timeout(1) signals its whole process group.
timeout --kill-after=30s 40m cargo test --workspace --locked --no-fail-fast "$@" || status=1
exit $status
