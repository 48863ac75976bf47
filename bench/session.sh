# Sourced by desktop.sh and startup-order.sh, inside `dbus-run-session`: a
# throwaway desktop session for the app — scratch XDG dirs, an unlocked
# gnome-keyring, an Xvfb display — and data directories of N connections.
# Needs PY (a python3) and LATCH_CLI (the `latch` to import with).

# The scratch directory, removed (with every background job) on exit.
scratch=$(mktemp -d /tmp/latch-bench.XXXXXX)
cleanup() {
  local pids
  pids=$(jobs -p)
  [[ -z $pids ]] || kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

export XDG_DATA_HOME=$scratch/xdg/data XDG_CACHE_HOME=$scratch/xdg/cache \
  XDG_CONFIG_HOME=$scratch/xdg/config XDG_RUNTIME_DIR=$scratch/xdg/run
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'latch-bench' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

# -br: a black root, so an unpainted window is one plain colour.
Xvfb -displayfd 3 -screen 0 1920x1200x24 -br -nolisten tcp 3>"$scratch/display" 2>/dev/null &
for _ in $(seq 50); do [[ -s $scratch/display ]] && break; sleep 0.1; done
[[ -s $scratch/display ]] || { echo "bench: Xvfb did not start" >&2; exit 1; }
export DISPLAY=":$(cat "$scratch/display")"
unset WEBKIT_DISABLE_COMPOSITING_MODE WEBKIT_DISABLE_DMABUF_RENDERER WEBKIT_SKIA_ENABLE_CPU_RENDERING BARE_HARDWARE_ACCELERATION

# seed_connections COUNT: $scratch/latch-data-COUNT holding COUNT
# authorization-code connections, imported with the real CLI (what `latch add
# --flow authorization_code --client-id cN --authorize-url ... --scope read`
# makes), named "Connection 0001" ...
seed_connections() {
  local count=$1 listed
  $PY - "$count" >"$scratch/seed-$count.json" <<'PY'
import json, sys
count = int(sys.argv[1])
connections = [{"name": "Connection %04d" % n, "kind": "oauth2", "flow": "authorization_code", "pkce": "s256",
                "authorize_url": "https://example.com/auth", "token_url": "https://example.com/token",
                "client_id": "c%d" % n, "client_auth": "none", "scopes": ["read"]} for n in range(1, count + 1)]
json.dump({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": connections}, sys.stdout)
PY
  LATCH_DATA_DIR=$scratch/latch-data-$count "$LATCH_CLI" import "$scratch/seed-$count.json" >/dev/null
  listed=$(LATCH_DATA_DIR=$scratch/latch-data-$count "$LATCH_CLI" list --json |
    $PY -c 'import json, sys; print(len(json.load(sys.stdin)))')
  echo "latch list: $listed connections"
  [[ $listed -eq $count ]] || { echo "bench: expected $count connections" >&2; exit 1; }
}
