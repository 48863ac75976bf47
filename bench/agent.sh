#!/usr/bin/env bash
# Agent benchmark (issue: the agent). Figures, not pass/fail.
# `make bench` runs it; see bench/README.md.
#
#   `latch token NAME` for a connection with a valid token, `latch agent`
#   running, beside one `secret-tool lookup` of an item in the same keyring,
#   in the same run. Target: latch token (agent) <= 0.5x secret-tool lookup.
#
#   Inside a private D-Bus session with a throwaway, unlocked gnome-keyring
#   (XDG dirs in a scratch dir): a client credentials connection against a
#   local token endpoint (cc-token-server.py), so it is connected without a
#   browser; `latch agent` in the background; then BENCH_AGENT_RUNS (200)
#   runs of each, alternating (the order rotates every round):
#     agent     latch token NAME                   (answered by the agent)
#     keyring   LATCH_NO_AGENT=1 latch token NAME  (reads the store and keyring)
#     secret    secret-tool lookup ATTR VALUE      (an item stored with secret-tool)
#     start     latch --version                    (for reference: the process alone)
#   Wall time of each whole process from python3's perf_counter_ns around
#   subprocess.run (fork, exec, output read); median and p90.
#   BENCH_LATCH_BIN_DIR=DIR times the `latch` in DIR instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_AGENT_RUNS:-200}
OUT=$PWD/target/bench
mkdir -p "$OUT"

if [[ ${1:-} != --measure ]]; then
  for tool in dbus-run-session gnome-keyring-daemon secret-tool python3; do
    command -v "$tool" >/dev/null ||
      { echo "bench: '$tool' is missing; run 'bash scripts/install-deps.sh --bench'" >&2; exit 1; }
  done
  [[ -n ${BENCH_LATCH_BIN_DIR:-} ]] || cargo build --release --locked -p latch-cli
  exec dbus-run-session -- bash "$0" --measure
fi

# ---- inside a private D-Bus session ------------------------------------------
latch=${BENCH_LATCH_BIN_DIR:-$PWD/target/release}/latch
scratch=$(mktemp -d /tmp/latch-bench-agent.XXXXXX)
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
eval "$(printf 'latch-bench' | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
export GNOME_KEYRING_CONTROL
export LATCH_LOG=
unset LATCH_NO_AGENT LATCH_DATA_DIR

# The token endpoint, and a connection that gets its token from it.
python3 bench/cc-token-server.py >"$scratch/server.json" &
for _ in $(seq 50); do [[ -s $scratch/server.json ]] && break; sleep 0.1; done
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"])' "$scratch/server.json")
printf 'bench-secret' | "$latch" add --name Bench --flow client_credentials --client-id bench \
  --client-secret-stdin --token-url "$base/token" --scope api >/dev/null
"$latch" connect Bench >/dev/null
LATCH_NO_AGENT=1 "$latch" token Bench >/dev/null

# The peer: one item in the same keyring, stored by secret-tool.
printf 'bench-item-secret' | secret-tool store --label='Latch bench item' latch-bench item
[[ $(secret-tool lookup latch-bench item) == bench-item-secret ]]

"$latch" agent </dev/null >/dev/null 2>"$scratch/agent.log" &
agent=$!
for _ in $(seq 100); do [[ -S $XDG_RUNTIME_DIR/latch/agent.sock ]] && break; sleep 0.1; done
[[ -S $XDG_RUNTIME_DIR/latch/agent.sock ]] || { echo "bench: the agent did not start" >&2; cat "$scratch/agent.log" >&2; exit 1; }

echo "== latch token (agent), latch token (no agent), secret-tool lookup: $RUNS runs each, alternating"
python3 - "$RUNS" "$latch" "$OUT/agent.json" <<'PY'
import json, os, statistics, subprocess, sys, time
runs, latch, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
env = dict(os.environ)
no_agent = dict(env, LATCH_NO_AGENT="1")
cases = [
    ("latch token (agent)", [latch, "token", "Bench"], env),
    ("latch token (no agent: keyring)", [latch, "token", "Bench"], no_agent),
    ("secret-tool lookup", ["secret-tool", "lookup", "latch-bench", "item"], env),
    # For reference: what starting the binary costs without any work.
    ("latch --version (start only)", [latch, "--version"], env),
]

def run(argv, env):
    started = time.perf_counter_ns()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter_ns() - started
    if done.returncode != 0 or not done.stdout.strip():
        sys.exit(f"bench: {argv} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return elapsed, done.stdout.strip()

outputs = {}
for name, argv, e in cases:  # warm-up: page cache, the agent's first read
    for _ in range(5):
        outputs[name] = run(argv, e)[1]
assert outputs[cases[0][0]] == outputs[cases[1][0]], "the agent and the store hand out different tokens"
times = {name: [] for name, _, _ in cases}
for i in range(runs):
    for name, argv, e in cases[i % len(cases):] + cases[:i % len(cases)]:
        times[name].append(run(argv, e)[0] / 1e6)

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * 9 // 10) - 1)]

summary = {name: {"median_ms": statistics.median(t), "p90_ms": p90(t), "min_ms": min(t), "runs": len(t)}
           for name, t in times.items()}
agent, keyring, secret = (summary[name] for name, _, _ in cases[:3])
ratio = agent["median_ms"] / secret["median_ms"]
json.dump({"bench": "agent", "runs": runs, "load": os.getloadavg(), "commands": summary,
           "agent_over_secret_tool": ratio}, open(out, "w"), indent=1)
print(f"{'command':34} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
for name, s in summary.items():
    print(f"{name:34} {s['median_ms']:10.2f} {s['p90_ms']:8.2f} {s['min_ms']:8.2f}")
print(f"latch token (agent) / secret-tool lookup, medians: {ratio:.2f} (target <= 0.5: "
      f"{'met' if ratio <= 0.5 else 'not met'}); p90s: {agent['p90_ms'] / secret['p90_ms']:.2f}")
print(f"latch token (no agent) / secret-tool lookup, medians: {keyring['median_ms'] / secret['median_ms']:.2f}")
print("load average (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
PY

# Every agent-mode run above was answered by the agent: its uses are logged
# with via=agent (warm-up included).
"$latch" log Bench --json --limit 100000 >"$scratch/uses.json"
python3 - "$scratch/uses.json" "$RUNS" <<'PY'
import json, sys
uses = json.load(open(sys.argv[1]))
by_agent = sum(u.get("via") == "agent" for u in uses)
print(f"uses logged: {by_agent} by the agent, {len(uses)} in all (expected {int(sys.argv[2]) + 5} by the agent)")
PY
