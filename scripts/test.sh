#!/usr/bin/env bash
# Runs every test suite with real parts: a private D-Bus session with an
# unlocked gnome-keyring (the Secret Service) around everything, so tests
# never touch the user's own keyring.
set -euo pipefail
cd "$(dirname "$0")/.."

npm --prefix ui run build --silent
cargo build --workspace --all-targets --locked
exec dbus-run-session -- bash scripts/test-session.sh "$@"
