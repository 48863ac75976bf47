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

cargo test --workspace --locked --no-fail-fast "$@"
