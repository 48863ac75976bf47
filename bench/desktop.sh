#!/usr/bin/env bash
# Desktop benchmark: Latch's release build beside a bare Tauri window built in
# the same run (bench/bare-window: same tauri, same window size, one line of
# HTML), under Xvfb. Prints figures, not pass/fail. `make bench` runs it.
#
# What is measured, per app and per WebKitGTK setting (see CONFIGS):
#
#   cold start to first paint  From the spawn of the process until a
#       screenshot of its window shows rendered content. bench/probe.py polls
#       the X server through Xlib (ctypes): first for a viewable top-level
#       window whose _NET_WM_PID is the app's pid, then takes screenshots of
#       that window with XGetImage every 10 ms. Under Xvfb there is no
#       compositor, so XGetImage reads exactly what is on the (virtual)
#       screen. A frame counts as painted when it has at least 3 distinct
#       colours and 50+ pixels unlike its top-left pixel: a window that is
#       mapped but still empty (one colour: GTK's background or the page's
#       plain background; or two: Xvfb's black root showing through a
#       half-drawn window, hence -br) does not count; anti-aliased text does.
#       Same method, same window size, for both apps. Warm disk caches: one
#       unmeasured warm-up launch of each app per setting, then BENCH_RUNS
#       (5) launches of each, alternating which app goes first.
#   settled  From the spawn until the last change of the window's pixels,
#       once they have stayed the same for half a second (screenshots go on
#       after the first paint): when all the app draws at start is on the
#       screen. Latch's first frame is its window's frame (the sidebar and
#       its heading, painted from the HTML before the app is mounted); its list
#       of connections comes after it, so this is "the list on screen". No
#       target; printed so that a faster first paint cannot hide a slower
#       list. The first painted and the settled frame of round 1 are kept.
#   idle memory  BENCH_IDLE (5) seconds after that first paint: PSS from
#       /proc/PID/smaps_rollup summed over the app process and all its
#       descendants (WebKitWebProcess, WebKitNetworkProcess, ...). PSS splits
#       shared libraries fairly between the processes that map them, so the
#       sum is what the app costs the machine. Median over the runs.
#
# Latch runs against a throwaway data directory holding 100 connections, and
# again against one holding 1,000 (BENCH_COUNTS="100 1000"), imported with the
# real CLI (latch import), inside a private D-Bus session with an unlocked
# gnome-keyring (as scripts/test-session.sh does) and XDG dirs in a temp dir,
# so nothing of the user's is read or written. Every row (setting x count)
# launches the bare window too, alternating with Latch. Results (JSON lines),
# the apps' stderr and one screenshot per app and setting are kept in
# target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-5}
IDLE=${BENCH_IDLE:-5}
PY=/usr/bin/python3          # Debian's: probe.py needs nothing beyond the stdlib
OUT=$PWD/target/bench
# BENCH_PROFILE: the cargo profile Latch is built with (release); another one
# can be defined for a trial without editing Cargo.toml, e.g.
# CARGO_PROFILE_TRIAL_INHERITS=release CARGO_PROFILE_TRIAL_LTO=thin BENCH_PROFILE=trial
# BENCH_LATCH_BIN_DIR=DIR measures the latch-app and latch already in DIR
# (a copy kept from an earlier build, or /usr/bin after installing the .deb)
# and builds only the bare window.
PROFILE=${BENCH_PROFILE:-release}
BIN_DIR=${BENCH_LATCH_BIN_DIR:-$PWD/target/$PROFILE}
LATCH_APP=$BIN_DIR/latch-app
LATCH_CLI=$BIN_DIR/latch
BARE_APP=$OUT/release/bare-window

# The WebKitGTK settings compared: "label|VAR=value ...|VAR=value ..." — the
# environment of both apps, then of the bare window alone. The first row is
# each app as shipped: Latch turns hardware acceleration off in code
# (src-tauri/src/webview.rs), the bare window is Tauri's default; the targets
# are claimed on it. The second gives the bare window the same setting, the
# same way (bench/bare-window/src/main.rs), to compare like with like.
# "no compositing" (the variable the setting replaces) is measured only when
# BENCH_SETTINGS names it.
CONFIGS=(
  "as shipped||"
  "same setting on both||BARE_HARDWARE_ACCELERATION=never"
  "no compositing|WEBKIT_DISABLE_COMPOSITING_MODE=1|"
)
read -r -a COUNTS <<<"${BENCH_COUNTS:-100 1000}"

# BENCH_SETTINGS="as shipped,no compositing" measures only those rows.
BENCH_SETTINGS=${BENCH_SETTINGS:-as shipped,same setting on both}
if [[ -n $BENCH_SETTINGS ]]; then
  chosen=()
  for config in "${CONFIGS[@]}"; do
    [[ ",$BENCH_SETTINGS," == *",${config%%|*},"* ]] && chosen+=("$config")
  done
  ((${#chosen[@]})) || { echo "bench: BENCH_SETTINGS matches none of the settings" >&2; exit 1; }
  CONFIGS=("${chosen[@]}")
fi

lock_version() { # crate, Cargo.lock
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$2"
}

if [[ "${1:-}" != --measure ]]; then
  # ---- outside the session: tools and the three release builds ------------
  missing=()
  for p in xvfb python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "bench: installing ${missing[*]}" >&2
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  echo "== building (release): the UI, latch-app and latch, the bare window"
  if [[ -z ${BENCH_LATCH_BIN_DIR:-} ]]; then
    npm --prefix ui run build --silent
    cargo build --profile "$PROFILE" --locked -p latch-app -p latch-cli
  fi
  CARGO_TARGET_DIR=$OUT cargo build --release --locked --manifest-path bench/bare-window/Cargo.toml
  # How much of src-tauri/startup-order.txt this latch-app still matches.
  $PY bench/startup_order.py check "$LATCH_APP" src-tauri/startup-order.txt
  latch_tauri=$(lock_version tauri Cargo.lock)
  bare_tauri=$(lock_version tauri bench/bare-window/Cargo.lock)
  echo "tauri $latch_tauri in latch-app, $bare_tauri in the bare window"
  [[ $latch_tauri == "$bare_tauri" ]] ||
    echo "bench: WARNING: different tauri versions; update bench/bare-window/Cargo.lock" >&2

  # D-Bus services the apps activate (a11y bus, portals) log to the session's
  # stdout/stderr: into a file. The script itself keeps the terminal (fd 4, 5).
  mkdir -p "$OUT/logs"
  exec 4>&2 5>&1
  exec dbus-run-session -- bash "$0" --measure >"$OUT/logs/session.log" 2>&1
fi
exec 1>&5 2>&4 4>&- 5>&-

# ---- inside a private D-Bus session ------------------------------------------
# shellcheck source=bench/session.sh
source bench/session.sh
for count in "${COUNTS[@]}"; do
  echo "== $count connections in a throwaway data directory (latch import)"
  seed_connections "$count"
done

results=$OUT/results.jsonl
mkdir -p "$OUT/logs" "$OUT/screens"
: >"$results"

run() { # config-label env app-label binary warmup round
  local label=$1 envs=$2 app=$3 bin=$4 warmup=$5 round=$6 slug idle=$IDLE shot=()
  [[ $app != "bare window" ]] || envs="$envs $bare_envs"
  slug=$(tr 'A-Z ' 'a-z-' <<<"$label-$count-$app")
  [[ $warmup == false ]] || idle=0
  [[ $round != 1 ]] || shot=(--shot "$OUT/screens/$slug.png" --first-shot "$OUT/screens/$slug.first.png")
  # BENCH_SMAPS=1: each process's smaps after the idle wait of the first
  # measured launch, for bench/smaps_by_kind.py (where the memory is).
  [[ -z ${BENCH_SMAPS:-} || $round != 1 ]] || shot+=(--smaps "$OUT/smaps/$slug")
  # shellcheck disable=SC2086 # $envs is a list of VAR=value words
  env $envs $PY bench/probe.py --idle "$idle" --log "$OUT/logs/$slug.log" "${shot[@]}" \
    --meta "config=$label" --meta "connections=$count" --meta "env=$envs" --meta "app=$app" \
    --meta "warmup=$warmup" --meta "round=$round" -- "$bin" | tee -a "$results" |
    $PY -c '
import json, sys
r = json.loads(sys.stdin.read())
what = "warm-up" if r["warmup"] else "run %s" % r["round"]
if r.get("error"):
    print("  %-20s %5s %-12s %-8s FAILED: %s" % (r["config"], r["connections"], r["app"], what, r["error"]))
elif r["warmup"]:
    print("  %-20s %5s %-12s %-8s first paint %5.0f ms" % (r["config"], r["connections"], r["app"], what, r["paint_ms"]))
else:
    settled = "%5.0f ms" % r["settled_ms"] if r.get("settled_ms") else "   never"
    print("  %-20s %5s %-12s %-8s first paint %5.0f ms  settled %s  (window %5.0f ms)  idle PSS %6.1f MB" % (
        r["config"], r["connections"], r["app"], what, r["paint_ms"], settled, r["window_ms"], r["pss_kb"] * 1024 / 1e6))'
}

echo "== $RUNS launches of each app per setting and count, ${IDLE} s idle before reading memory"
for count in "${COUNTS[@]}"; do
  export LATCH_DATA_DIR=$scratch/latch-data-$count
  for config in "${CONFIGS[@]}"; do
    IFS='|' read -r label envs bare_envs <<<"$config"
    run "$label" "$envs" latch-app "$LATCH_APP" true 0
    run "$label" "$envs" "bare window" "$BARE_APP" true 0
    for round in $(seq "$RUNS"); do
      if ((round % 2)); then
        run "$label" "$envs" latch-app "$LATCH_APP" false "$round"
        run "$label" "$envs" "bare window" "$BARE_APP" false "$round"
      else
        run "$label" "$envs" "bare window" "$BARE_APP" false "$round"
        run "$label" "$envs" latch-app "$LATCH_APP" false "$round"
      fi
    done
  done
done

$PY bench/report.py "$results"
echo
echo "(results: $results; screenshots: $OUT/screens/; app logs: $OUT/logs/)"
