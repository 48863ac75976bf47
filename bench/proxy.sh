#!/usr/bin/env bash
# Proxy benchmark (issue: the local proxy). Figures, not pass/fail.
# `make bench` runs it; see bench/README.md.
#
#   Upstream: nginx (worker_processes 1) on loopback: /small answers "ok\n",
#   /big is a 1 GiB sparse file, /whoami echoes the Authorization header.
#   Reference: a second nginx (worker_processes 2, as many as the cores) as a
#   reverse proxy to it that adds "Authorization: Bearer fixed-token"
#   (proxy_http_version 1.1, Connection "", upstream keepalive 32).
#   Latch: `latch proxy` in front of the same upstream, for a client
#   credentials connection (token from cc-token-server.py, no browser) whose
#   API base URL is the upstream, in a private D-Bus session with a
#   throwaway unlocked gnome-keyring.
#
#   1. Small GET, keep-alive: `wrk -t2 -c32 -d10s --latency` direct, then
#      the nginx proxy and the Latch proxy alternately, BENCH_PROXY_ROUNDS
#      (2) times each, then direct again; p50 latency and requests/s.
#      Targets: added p50 latency (proxy p50 - direct p50) <= 1.2x nginx's,
#      requests/s >= 0.8x nginx's. The same at one connection
#      (`-t1 -c1 -d5s`), where the p50 is one request's round trip.
#   2. 1,000 idle keep-alive clients: each sends one request through the
#      proxy and reads the answer, then all are held open 5 s; VmRSS of the
#      proxy before and while held. Target: <= 30 MB more than idle.
#   3. 1 GiB download: curl direct and through the Latch proxy, alternately,
#      3 times each after one direct download not counted; the proxy's
#      VmRSS sampled every 100 ms. Targets: RSS flat (max - before),
#      throughput >= 0.8x direct.
#
# BENCH_LATCH_BIN_DIR=DIR measures the `latch` in DIR instead of building
# one. With a `latch` that has no `proxy` command, only the nginx side runs.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_PROXY_ROUNDS:-2}
DURATION=${BENCH_PROXY_DURATION:-10s}
OUT=$PWD/target/bench
mkdir -p "$OUT"

if [[ ${1:-} != --measure ]]; then
  for tool in dbus-run-session gnome-keyring-daemon nginx wrk curl python3; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
      { echo "bench: '$tool' is missing; run 'bash scripts/install-deps.sh --bench'" >&2; exit 1; }
  done
  [[ -n ${BENCH_LATCH_BIN_DIR:-} ]] || cargo build --release --locked -p latch-cli
  exec dbus-run-session -- bash "$0" --measure
fi

# ---- inside a private D-Bus session ------------------------------------------
latch=${BENCH_LATCH_BIN_DIR:-$PWD/target/release}/latch
nginx=$(command -v nginx || echo /usr/sbin/nginx)
scratch=$(mktemp -d /tmp/latch-bench-proxy.XXXXXX)
cleanup() {
  local pids
  pids=$(jobs -p)
  [[ -z $pids ]] || kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# 1,000 clients, their upstream connections and wrk's: more descriptors.
ulimit -n "$(ulimit -Hn)"

export XDG_DATA_HOME=$scratch/xdg/data XDG_CACHE_HOME=$scratch/xdg/cache \
  XDG_CONFIG_HOME=$scratch/xdg/config XDG_RUNTIME_DIR=$scratch/xdg/run
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'latch-bench' | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
export GNOME_KEYRING_CONTROL
export LATCH_LOG=
unset LATCH_NO_AGENT LATCH_DATA_DIR LATCH_PROXY_URL LATCH_PROXY_KEY

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
up_port=$(free_port)
ref_port=$(free_port)
proxy_port=$(free_port)
while [[ $ref_port == "$up_port" ]]; do ref_port=$(free_port); done
while [[ $proxy_port == "$up_port" || $proxy_port == "$ref_port" ]]; do proxy_port=$(free_port); done

# ---- nginx: the upstream and the reference proxy, each its own instance ------
# Started as root, nginx's workers would be 'nobody', who cannot read the
# scratch dir: they stay root then (otherwise they are the invoking user).
user_line=""
[[ $(id -u) -ne 0 ]] || user_line="user root root;"
nginx_conf() { # DIR WORKERS SERVER-BLOCK...
  local dir=$1 workers=$2
  shift 2
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  default_type text/plain;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
$*
}
EOF
}
wait_port() { # PORT
  for _ in $(seq 100); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on port $1" >&2
  return 1
}

mkdir -p "$scratch/upstream/www"
truncate -s 1G "$scratch/upstream/www/big"
nginx_conf "$scratch/upstream" 1 "
  server {
    listen 127.0.0.1:$up_port;
    root $scratch/upstream/www;
    location = /small { return 200 \"ok\\n\"; }
    location = /whoami { return 200 \"\$http_authorization\\n\"; }
  }"
nginx_conf "$scratch/reference" 2 "
  upstream upstream_app {
    server 127.0.0.1:$up_port;
    keepalive 32;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:$ref_port;
    location / {
      proxy_pass http://upstream_app;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Authorization \"Bearer fixed-token\";
    }
  }"
"$nginx" -p "$scratch/upstream" -c "$scratch/upstream/nginx.conf" -e "$scratch/upstream/error.log" -g 'daemon off;' &
up_pid=$!
"$nginx" -p "$scratch/reference" -c "$scratch/reference/nginx.conf" -e "$scratch/reference/error.log" -g 'daemon off;' &
ref_pid=$!
wait_port "$up_port"
wait_port "$ref_port"
[[ $(curl -sf "http://127.0.0.1:$up_port/small") == ok ]]
[[ $(curl -sf "http://127.0.0.1:$ref_port/whoami") == "Bearer fixed-token" ]]
direct=http://127.0.0.1:$up_port
reference=http://127.0.0.1:$ref_port

# ---- Latch: the connection and the proxy -------------------------------------
have_proxy=0
if "$latch" proxy --help >/dev/null 2>&1; then
  have_proxy=1
  python3 bench/cc-token-server.py >"$scratch/server.json" &
  for _ in $(seq 50); do [[ -s $scratch/server.json ]] && break; sleep 0.1; done
  base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"])' "$scratch/server.json")
  printf 'bench-secret' | "$latch" add --name Bench --flow client_credentials --client-id bench \
    --client-secret-stdin --token-url "$base/token" --scope api --api-base-url "$direct" >/dev/null
  "$latch" connect Bench >/dev/null
  token=$("$latch" token Bench)

  "$latch" proxy --port "$proxy_port" </dev/null >"$scratch/proxy.log" 2>&1 &
  proxy_pid=$!
  for _ in $(seq 100); do
    env=$("$latch" proxy --print-env 2>/dev/null) && break
    kill -0 "$proxy_pid" 2>/dev/null || { echo "bench: latch proxy stopped" >&2; cat "$scratch/proxy.log" >&2; exit 1; }
    sleep 0.1
  done
  eval "$env"
  [[ -n ${LATCH_PROXY_KEY:-} && -n ${LATCH_PROXY_URL:-} ]] ||
    { echo "bench: 'latch proxy --print-env' said nothing usable" >&2; cat "$scratch/proxy.log" >&2; exit 1; }
  latchp=$LATCH_PROXY_URL/Bench
  auth="Proxy-Authorization: Bearer $LATCH_PROXY_KEY"
  [[ $(curl -sf -H "$auth" "$latchp/small") == ok ]]
  [[ $(curl -sf -H "$auth" "$latchp/whoami") == "Bearer $token" ]] ||
    { echo "bench: the upstream did not get the connection's token through the proxy" >&2; exit 1; }
  echo "latch proxy (pid $proxy_pid, $(ls /proc/$proxy_pid/task | wc -l) threads) at $LATCH_PROXY_URL; upstream $direct; nginx proxy $reference"
else
  echo "bench: this latch has no 'proxy' command: the nginx side only" >&2
  echo "upstream $direct; nginx proxy $reference"
fi
: >"$OUT/proxy.jsonl"
record() { echo "$1" | tee -a "$OUT/proxy.jsonl" >/dev/null; }

# ---- 2. 1,000 idle keep-alive clients (first: the proxy fresh from one request)
idle_clients() { # NAME PID URL [HEADER] -> a JSON line
  python3 - "$@" <<'PY'
import json, resource, socket, sys, time
from urllib.parse import urlsplit
name, pid, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
header = sys.argv[4] if len(sys.argv) > 4 else ""
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
parts = urlsplit(url)
request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
           + (header + "\r\n" if header else "") + "\r\n").encode()

def tree_rss_kib(pid):
    pids = [pid]
    try:
        pids += [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total

def one_request(s):
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit(f"bench: {name} closed a connection")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status = head.split(b" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += s.recv(65536)
    if status != b"200":
        raise SystemExit(f"bench: {name} answered {status.decode()}")

# Idle: after one request on a connection of its own, closed.
warm = socket.create_connection((parts.hostname, parts.port))
one_request(warm)
warm.close()
time.sleep(1)
before = tree_rss_kib(pid)
clients = []
for _ in range(1000):
    s = socket.create_connection((parts.hostname, parts.port))
    one_request(s)
    clients.append(s)
samples = []
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    samples.append(tree_rss_kib(pid))
    time.sleep(0.1)
for s in clients:
    s.close()
print(json.dumps({"bench": "idle_clients", "server": name, "clients": len(clients),
                  "rss_before_kib": before, "rss_held_max_kib": max(samples),
                  "added_mib": (max(samples) - before) / 1024}))
PY
}
echo "== 1,000 idle keep-alive clients, held 5 s"
if ((have_proxy)); then
  record "$(idle_clients latch "$proxy_pid" "$latchp/small" "$auth")"
fi
record "$(idle_clients nginx "$ref_pid" "$reference/small")"
sleep 1

# ---- 3. 1 GiB download ----------------------------------------------------------
download() { # NAME URL PID-TO-WATCH [HEADER] -> a JSON line
  python3 - "$@" <<'PY'
import json, subprocess, sys, time
name, url, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
header = sys.argv[4:5]

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

argv = ["curl", "-sf", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}"]
for h in header:
    argv += ["-H", h]
before = rss_kib()
curl = subprocess.Popen(argv + [url], stdout=subprocess.PIPE)
samples = [before]
while curl.poll() is None:
    time.sleep(0.1)
    samples.append(rss_kib())
speed, size = curl.stdout.read().split()
if curl.returncode != 0 or int(size) != 1 << 30:
    raise SystemExit(f"bench: {name} download failed ({curl.returncode}, {size} bytes)")
print(json.dumps({"bench": "download", "via": name, "mib_per_s": float(speed) / (1 << 20),
                  "rss_before_kib": before, "rss_max_kib": max(samples), "samples": len(samples)}))
PY
}
if ((have_proxy)); then
  echo "== 1 GiB download, direct and through the Latch proxy, 3 times each (after one direct, not counted)"
  # The first read of the sparse file fills the page cache: not counted.
  download warm-up "$direct/big" "$proxy_pid" >/dev/null
  for _ in 1 2 3; do
    record "$(download direct "$direct/big" "$proxy_pid")"
    record "$(download latch "$latchp/big" "$proxy_pid" "$auth")"
  done
fi

# ---- 1. small GET under load ----------------------------------------------------
run_wrk() { # NAME CONNECTIONS URL [HEADER] -> a JSON line
  local name=$1 conns=$2 url=$3 threads=2 duration=$DURATION
  shift 3
  ((conns > 1)) || { threads=1; duration=${BENCH_PROXY_DURATION_1:-5s}; }
  local args=(-t"$threads" -c"$conns" -d"$duration" --latency)
  [[ $# -eq 0 ]] || args+=(-H "$1")
  wrk "${args[@]}" "$url" >"$scratch/wrk.out"
  python3 - "$name" "$conns" "$scratch/wrk.out" <<'PY'
import json, re, sys
name, conns, text = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
unit = {"us": 1e-3, "ms": 1, "s": 1e3}
p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
if not p50 or not rps or bad:
    raise SystemExit(f"bench: wrk against {name}: {text}")
print(json.dumps({"bench": "wrk", "server": name, "connections": conns,
                  "p50_ms": float(p50.group(1)) * unit[p50.group(2)], "rps": float(rps.group(1)),
                  "socket_errors": errors.group(1) if errors else None}))
PY
}
for conns in 32 1; do
  echo "== small GET, keep-alive, $conns connection(s): direct, nginx and Latch alternately ($ROUNDS rounds), direct"
  record "$(run_wrk direct "$conns" "$direct/small")"
  for _ in $(seq "$ROUNDS"); do
    record "$(run_wrk nginx "$conns" "$reference/small")"
    if ((have_proxy)); then record "$(run_wrk latch "$conns" "$latchp/small" "$auth")"; fi
  done
  record "$(run_wrk direct "$conns" "$direct/small")"
done

# ---- the summary ----------------------------------------------------------------
python3 - "$OUT/proxy.jsonl" "$OUT/proxy.json" <<'PY'
import json, os, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
summary = {"load": os.getloadavg()}

def met(ok):
    return "met" if ok else "not met"

print()
print("Proxy benchmark")
for conns in (32, 1):
    wrk = [r for r in rows if r["bench"] == "wrk" and r["connections"] == conns]
    by = {name: [r for r in wrk if r["server"] == name] for name in ("direct", "nginx", "latch")}
    med = {name: (statistics.median(r["p50_ms"] for r in rs), statistics.median(r["rps"] for r in rs))
           for name, rs in by.items() if rs}
    print(f"  small GET, keep-alive, {conns} connection(s), wrk medians of {len(by['nginx'])} runs "
          f"(direct: {len(by['direct'])}, before and after):")
    for name, (p50, rps) in med.items():
        print(f"    {name:7} p50 {p50 * 1000:8.0f} us   {rps:9.0f} requests/s")
    summary[f"wrk_c{conns}"] = med
    if "latch" in med:
        added_l, added_n = med["latch"][0] - med["direct"][0], med["nginx"][0] - med["direct"][0]
        rps_ratio = med["latch"][1] / med["nginx"][1]
        p50_ratio = med["latch"][0] / med["nginx"][0]
        line = (f"    added p50 (proxy - direct): Latch {added_l * 1000:.0f} us, nginx {added_n * 1000:.0f} us")
        if added_n > 0:
            line += f", ratio {added_l / added_n:.2f} (target <= 1.2: {met(added_l <= 1.2 * added_n)})"
        print(line)
        print(f"    p50 Latch/nginx {p50_ratio:.2f}; requests/s Latch/nginx {rps_ratio:.2f}"
              + (f" (target >= 0.8: {met(rps_ratio >= 0.8)})" if conns == 32 else ""))
        summary[f"wrk_c{conns}_ratios"] = {"added_p50": added_l / added_n if added_n > 0 else None,
                                           "p50": p50_ratio, "rps": rps_ratio}
for r in (r for r in rows if r["bench"] == "idle_clients"):
    print(f"  1,000 idle keep-alive clients, {r['server']}: RSS {r['rss_before_kib'] / 1024:.1f} -> "
          f"{r['rss_held_max_kib'] / 1024:.1f} MiB, +{r['added_mib']:.1f} MiB ({r['added_mib'] * 1.048576:.1f} MB)"
          + (f" (target <= 30 MB: {met(r['added_mib'] * 1.048576 <= 30)})" if r["server"] == "latch" else
             " (master and workers)"))
    summary[f"idle_clients_{r['server']}"] = r
downloads = [r for r in rows if r["bench"] == "download"]
if downloads:
    d = statistics.median(r["mib_per_s"] for r in downloads if r["via"] == "direct")
    l = statistics.median(r["mib_per_s"] for r in downloads if r["via"] == "latch")
    grow = max((r["rss_max_kib"] - r["rss_before_kib"]) / 1024 for r in downloads if r["via"] == "latch")
    print(f"  1 GiB download: direct {d:.0f} MiB/s, through Latch {l:.0f} MiB/s, ratio {l / d:.2f} "
          f"(target >= 0.8: {met(l / d >= 0.8)}); proxy RSS growth during a download at most "
          f"{grow:.1f} MiB (sampled every 100 ms)")
    summary["download"] = {"direct_mib_s": d, "latch_mib_s": l, "ratio": l / d, "rss_growth_max_mib": grow}
print("  load average (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
json.dump(summary, open(sys.argv[2], "w"), indent=1)
PY
