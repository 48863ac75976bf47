#!/usr/bin/env python3
"""An API that announces its authorization server with OAuth 2.0 protected
resource metadata (RFC 9728), for `latch add --from` in the end-to-end tests
(standard library only):

    python3 resource_server.py [--port N] [--metadata path|root|challenge] [--claim URL]

stdout carries one line of JSON once it listens:
  {"base":"http://127.0.0.1:PORT","port":PORT,"resource":"http://127.0.0.1:PORT/api/v1"}

The resource (the API) is RESOURCE = base + /api/v1. Before use, the test
tells it its authorization server (oidc.mjs started with --resource-server
RESOURCE): POST /__test/config {"issuer": "...", "client_id": "...", "client_secret": "..."}
(the confidential client it introspects tokens with).

* The metadata document: {"resource": RESOURCE (or --claim URL, a mismatch),
  "authorization_servers": [issuer], "scopes_supported": ["api:read"]}, served
  --metadata path: at /.well-known/oauth-protected-resource/api/v1 (default);
  root: at /.well-known/oauth-protected-resource only;
  challenge: at /meta/api-v1 only, named by the 401's WWW-Authenticate.
* /api/v1/...: needs `Authorization: Bearer T` where T is active at the
  issuer's /token/introspection and its `aud` is RESOURCE; 200
  {"ok": true, "sub": ..., "aud": ..., "path": ...}. Otherwise 401 with
  `WWW-Authenticate: Bearer resource_metadata="<metadata URL>"`.
* GET /__test/stats: {"metadata_requests": N, "api_ok": N, "api_refused": N}.
"""

import argparse
import base64
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--metadata", choices=["path", "root", "challenge"], default="path")
parser.add_argument("--claim", help="the resource the metadata claims (default: the real one)")
args = parser.parse_args()

WELL_KNOWN = "/.well-known/oauth-protected-resource"
API_PATH = "/api/v1"
config = {}
stats = {"metadata_requests": 0, "api_ok": 0, "api_refused": 0}
lock = threading.Lock()


def metadata_path():
    return {"path": WELL_KNOWN + API_PATH, "root": WELL_KNOWN, "challenge": "/meta/api-v1"}[args.metadata]


def introspect(token):
    form = urllib.parse.urlencode({"token": token}).encode()
    basic = base64.b64encode(f"{config['client_id']}:{config['client_secret']}".encode()).decode()
    request = urllib.request.Request(
        config["issuer"] + "/token/introspection",
        data=form,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except (urllib.error.HTTPError, OSError):
        return {"active": False}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/__test/stats":
            with lock:
                return self.send_json(200, stats)
        if path == "/__test/config" and self.command == "POST":
            config.update(json.loads(body))
            return self.send_json(200, {"ok": True})
        if path == metadata_path() and self.command == "GET":
            with lock:
                stats["metadata_requests"] += 1
            return self.send_json(200, {
                "resource": args.claim or RESOURCE,
                "authorization_servers": [config["issuer"]],
                "scopes_supported": ["api:read"],
                "bearer_methods_supported": ["header"],
            })
        if path == API_PATH or path.startswith(API_PATH + "/"):
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            seen = introspect(token) if token and config.get("issuer") else {"active": False}
            if seen.get("active") and seen.get("aud") == RESOURCE:
                with lock:
                    stats["api_ok"] += 1
                return self.send_json(200, {"ok": True, "sub": seen.get("sub"), "aud": seen.get("aud"), "path": path})
            with lock:
                stats["api_refused"] += 1
            challenge = f'Bearer resource_metadata="{BASE}{metadata_path()}"'
            if token:
                challenge += ', error="invalid_token"'
            return self.send_json(401, {"error": "invalid_token"}, [("WWW-Authenticate", challenge)])
        return self.send_json(404, {"error": "not_found"})

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
PORT = server.server_address[1]
BASE = f"http://127.0.0.1:{PORT}"
RESOURCE = BASE + API_PATH
print(json.dumps({"base": BASE, "port": PORT, "resource": RESOURCE}), flush=True)
server.serve_forever()
