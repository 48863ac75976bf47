#!/usr/bin/env bash
# Import benchmark (issue: hardening, item 21). Figures, not pass/fail.
# `make bench` runs it after refresh.sh; see bench/README.md.
#
#   An export file of 10,000 connections (written by `latch export` itself),
#   then, BENCH_IMPORT_RUNS (5) times, with the release build:
#     1. `latch import FILE` into an empty data directory.  Target: < 1 s.
#     2. `latch list --json` over those 10,000 connections, 5 times.
#        Target: < 100 ms.
#   Wall time from bash's `time` (ms), peak RSS from /usr/bin/time (which
#   bash times too: one fork more); medians. BENCH_PROFILE=debug
#   measures the debug build instead (the engine's own figure: 10,000
#   connections import in under 2 s in a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${BENCH_IMPORT_COUNT:-10000}
RUNS=${BENCH_IMPORT_RUNS:-5}
PROFILE=${BENCH_PROFILE:-release}
OUT=$PWD/target/bench
mkdir -p "$OUT"

if [[ $PROFILE == release ]]; then
  cargo build --release --locked -p latch-cli
else
  cargo build --locked -p latch-cli
fi
latch=$PWD/target/$PROFILE/latch

work=$(mktemp -d /tmp/latch-bench-import.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The import and the list touch no secret; the keyring is never asked.
export LATCH_LOG=

# The file: COUNT connections in the export format, on 50 providers, every
# one on a single site with Latch's defaults (no --accept-hosts needed):
# authorization code flow with PKCE, some with an issuer that requires iss,
# every fifth a client credentials service.
python3 - "$COUNT" >"$work/seed.json" <<'PY'
import json, sys
count = int(sys.argv[1])
connections = []
for i in range(count):
    host = f"id{i % 50}.example.com"
    if i % 5 == 4:
        c = {"name": f"Service {i:05d}", "kind": "oauth2", "flow": "client_credentials", "pkce": "off",
             "token_url": f"https://{host}/oauth/token", "client_id": f"svc-{i}", "client_auth": "body",
             "scopes": ["read", "write"]}
    else:
        c = {"name": f"Connection {i:05d}", "kind": "oauth2", "flow": "authorization_code", "pkce": "s256",
             "authorize_url": f"https://{host}/oauth/authorize", "token_url": f"https://{host}/oauth/token",
             "info_url": f"https://api.{host}/me", "client_id": f"client-{i}", "client_auth": "none",
             "scopes": ["openid", "email"]}
        if i % 3 == 0:
            c.update(issuer=f"https://{host}", require_iss=True)
    connections.append(c)
json.dump({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": connections}, sys.stdout)
PY
LATCH_DATA_DIR=$work/seed "$latch" import "$work/seed.json" >/dev/null
LATCH_DATA_DIR=$work/seed "$latch" export --output "$work/export.json" 2>/dev/null
bytes=$(stat -c %s "$work/export.json")
echo "== $COUNT connections, export file $((bytes / 1024)) KiB; $RUNS runs each ($PROFILE build)"

# One timed command: "seconds max-RSS-KiB" on stdout.
timed() {
  local TIMEFORMAT=%3R seconds
  seconds=$( { time /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null; } 2>&1 )
  echo "$seconds $(cat "$work/rss")"
}

: >"$OUT/import.jsonl"
for run in $(seq "$RUNS"); do
  dir=$work/run-$run
  read -r import_s import_kib < <(LATCH_DATA_DIR=$dir timed "$latch" import "$work/export.json")
  lists=()
  for _ in 1 2 3 4 5; do
    read -r list_s list_kib < <(LATCH_DATA_DIR=$dir timed "$latch" list --json)
    lists+=("$list_s")
  done
  list_s=$(printf '%s\n' "${lists[@]}" | sort -n | sed -n 3p)
  listed=$(LATCH_DATA_DIR=$dir "$latch" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [[ $listed == "$COUNT" ]] || { echo "run $run: listed $listed of $COUNT" >&2; exit 1; }
  printf '{"run":%d,"import_s":%s,"import_rss_kib":%s,"list_json_s":%s,"list_json_runs_s":[%s],"list_json_rss_kib":%s}\n' \
    "$run" "$import_s" "$import_kib" "$list_s" "$(IFS=,; echo "${lists[*]}")" "$list_kib" | tee -a "$OUT/import.jsonl"
  rm -rf "$dir"
done

python3 - "$OUT/import.jsonl" "$COUNT" "$bytes" "$PROFILE" <<'PY' | tee "$OUT/import.json"
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
count, size, profile = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def figure(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
import_s = figure([r["import_s"] for r in rows])
list_s = figure([t for r in rows for t in r["list_json_runs_s"]])
summary = {
    "bench": "import", "profile": profile, "connections": count, "file_bytes": size, "runs": len(rows),
    "import_s": import_s, "import_target_s": 1.0, "import_met": import_s["median"] < 1.0,
    "list_json_s": list_s, "list_json_target_s": 0.1, "list_json_met": list_s["median"] < 0.1,
    "import_rss_mib": round(statistics.median(r["import_rss_kib"] for r in rows) / 1024, 1),
    "list_json_rss_mib": round(statistics.median(r["list_json_rss_kib"] for r in rows) / 1024, 1),
}
print(json.dumps(summary))
print(f"\nImport benchmark ({profile}, medians of {import_s['n']} imports and {list_s['n']} lists): {count} connections, "
      f"{size / 2**20:.1f} MiB file", file=sys.stderr)
print(f"  latch import     {import_s['median'] * 1000:6.0f} ms ({import_s['min'] * 1000:.0f}–{import_s['max'] * 1000:.0f})   target < 1000 ms", file=sys.stderr)
print(f"  latch list --json {list_s['median'] * 1000:5.0f} ms ({list_s['min'] * 1000:.0f}–{list_s['max'] * 1000:.0f})   target < 100 ms", file=sys.stderr)
PY
