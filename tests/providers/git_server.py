#!/usr/bin/env python3
"""A git smart-HTTP server that wants an OAuth access token, for Latch's
credential-helper test (standard library only; git's own http-backend
serves the repositories):

    python3 git_server.py --root DIR --check-url URL [--port N]

stdout carries one line of JSON once it listens: {"base":"http://127.0.0.1:PORT","port":PORT}

* Every request must carry HTTP Basic credentials whose password is an
  access token that URL accepts: the server calls GET URL with
  `Authorization: Bearer <password>` and wants a 2xx (the App Academy
  stand-in's /info, say). Otherwise 401 with `WWW-Authenticate: Basic`,
  which makes git ask its credential helper.
* Accepted requests go to `git http-backend` (clone, fetch and push of the
  bare repositories under DIR).
* GET /__test/stats: {"accepted": N, "refused": N, "users": [...]}
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--check-url", required=True)
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()

stats = {"accepted": 0, "refused": 0, "users": []}
lock = threading.Lock()


def token_ok(token):
    request = urllib.request.Request(args.check_url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return 200 <= response.status < 300
    except urllib.error.URLError:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def refuse(self):
        with lock:
            stats["refused"] += 1
        body = b"Authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="latch-test"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        path, _, query = self.path.partition("?")
        if path == "/__test/stats":
            body = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return self.refuse()
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except Exception:
            return self.refuse()
        if not password or not token_ok(password):
            return self.refuse()
        with lock:
            stats["accepted"] += 1
            if user not in stats["users"]:
                stats["users"].append(user)
        env = dict(
            os.environ,
            GIT_PROJECT_ROOT=args.root,
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER=user,
            REMOTE_ADDR="127.0.0.1",
            GIT_HTTP_MAX_REQUEST_BUFFER="100M",
        )
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = handle_any
    do_POST = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
port = server.server_address[1]
print(json.dumps({"base": f"http://127.0.0.1:{port}", "port": port}), flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
