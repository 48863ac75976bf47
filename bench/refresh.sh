#!/usr/bin/env bash
# Refresher benchmarks (issue: background refresh). Figures, not pass/fail.
# `make bench` runs it after desktop.sh; see bench/README.md.
#
#   1. 10,000 connections scheduled in the engine, none due for an hour:
#      resident memory, and context switches of the engine's threads while
#      BENCH_IDLE_WATCH (60) seconds pass with nothing due. Target: < 40 MB,
#      no wake-up without work.
#   2. 1,000 tokens due at once against a local token endpoint
#      (refresh/token-server.mjs): all refreshed before they expire; client
#      CPU per refresh beside panva's openid-client (npm) doing the same 1,000
#      refresh grants, 16 at a time, against the same endpoint in the same
#      run. Target: Latch <= 1/3 of openid-client's CPU per refresh.
set -euo pipefail
cd "$(dirname "$0")/.."

WATCH=${BENCH_IDLE_WATCH:-60}
ROUNDS=${BENCH_REFRESH_ROUNDS:-3}
OUT=$PWD/target/bench
mkdir -p "$OUT"

cargo build --release --locked -p latch-core --example refresher_bench
bench=target/release/examples/refresher_bench
if [[ ! -d bench/refresh/node_modules || bench/refresh/package-lock.json -nt bench/refresh/node_modules ]]; then
  npm ci --prefix bench/refresh --no-audit --no-fund
fi

echo "== 10,000 connections scheduled, ${WATCH} s with nothing due"
"$bench" schedule 10000 "$WATCH" | tee "$OUT/refresher-schedule.json"

echo "== 1,000 refreshes due at once: Latch and openid-client, ${ROUNDS} rounds each, alternating"
server_out=$(mktemp)
node bench/refresh/token-server.mjs >"$server_out" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$server_out"' EXIT
for _ in $(seq 50); do [[ -s $server_out ]] && break; sleep 0.1; done
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"])' "$server_out")
: >"$OUT/refresher-refresh.jsonl"
for round in $(seq "$ROUNDS"); do
  "$bench" refresh "$base" 1000 | sed 's/^/{"client":"latch",/; s/,{/,/' | tee -a "$OUT/refresher-refresh.jsonl"
  node bench/refresh/openid-client.mjs "$base" 1000 | sed 's/^{/{"client":"openid-client",/' | tee -a "$OUT/refresher-refresh.jsonl"
done

python3 - "$OUT/refresher-schedule.json" "$OUT/refresher-refresh.jsonl" <<'PY'
import json, statistics, sys
schedule = json.load(open(sys.argv[1]))
rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
latch = [r for r in rows if r["client"] == "latch"]
oidc = [r for r in rows if r["client"] == "openid-client"]
latch_ms = statistics.median(r["cpu_ms"] / r["refreshed"] for r in latch)
oidc_ms = statistics.median(r["cpu_ms"] / r["refreshes"] for r in oidc)
before = min(r["refreshed_before_expiry"] for r in latch)
print()
print("Refresher benchmark (medians)")
print(f"  10,000 scheduled: RSS {schedule['rss_mib']:.1f} MiB (target < 40 MB); "
      f"wake-ups in {schedule['watched_s']} s with nothing due: {schedule['context_switches_while_idle']} (target 0)")
print(f"  1,000 due at once: refreshed before expiry {before}/1000 in every round; "
      f"wall {statistics.median(r['wall_ms'] for r in latch):.0f} ms")
print(f"  CPU per refresh: Latch {latch_ms:.3f} ms, openid-client {oidc_ms:.3f} ms, "
      f"ratio {latch_ms / oidc_ms:.2f} (target <= 0.33)")
PY
