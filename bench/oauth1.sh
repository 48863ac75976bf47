#!/usr/bin/env bash
# OAuth 1.0a signing benchmark (issue: OAuth 1.0a). Figures, not pass/fail.
# `make bench` runs it; see bench/README.md.
#
#   The same request signed BENCH_OAUTH1_COUNT (10,000) times, five runs,
#   median per signature: HMAC-SHA1, ten query parameters, a 1 KiB JSON body
#   with oauth_body_hash, the Authorization header.
#     latch:    crates/latch-core/examples/oauth1_bench.rs (release build)
#     oauthlib: oauthlib.oauth1.Client.sign (Debian's python3-oauthlib),
#               the signer the test provider verifies with.
#   Target: Latch at most 1/10 of oauthlib's time.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_OAUTH1_COUNT=${BENCH_OAUTH1_COUNT:-10000}

latch=$(cargo run --release --locked -q -p latch-core --example oauth1_bench)
# Debian's Python has oauthlib; a python3 earlier on PATH may not.
python=/usr/bin/python3
[[ -x $python ]] || python=python3
oauthlib=$("$python" - <<'PY'
import hashlib, base64, json, os, time
from oauthlib.oauth1 import Client
count = int(os.environ["BENCH_OAUTH1_COUNT"])
query = "&".join(f"param{i}=value%20{i}" for i in range(10))
url = f"https://api.example.com/1/statuses/update.json?{query}"
body = '{"text":"' + "x" * (1024 - 11) + '"}'
client = Client("dpf43f3p2l4k3l03", client_secret="kd94hf93k423kf44",
                resource_owner_key="nnch734d00sl2jdk", resource_owner_secret="pfkkdhi9sl3r4s00")
runs = []
for _ in range(5):
    started = time.process_time()
    for _ in range(count):
        client.sign(url, http_method="POST", body=body, headers={"Content-Type": "application/json"})
    runs.append((time.process_time() - started) / count)
runs.sort()
print(json.dumps({"bench": "oauth1", "signer": "oauthlib", "signatures": count, "us_per_signature": runs[2] * 1e6}))
PY
)
echo "$latch"
echo "$oauthlib"
python3 - "$latch" "$oauthlib" <<'PY'
import json, sys
latch, oauthlib = (json.loads(a) for a in sys.argv[1:3])
ratio = latch["us_per_signature"] / oauthlib["us_per_signature"]
print(f"OAuth 1.0a signing, per request: Latch {latch['us_per_signature']:.1f} µs, "
      f"oauthlib {oauthlib['us_per_signature']:.1f} µs; Latch/oauthlib = {ratio:.3f} (target ≤ 0.1)")
PY
