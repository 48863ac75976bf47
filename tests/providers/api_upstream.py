#!/usr/bin/env python3
"""An API that wants an OAuth access token, behind Latch's proxy in its
end-to-end tests (standard library only):

    python3 api_upstream.py --check-url URL [--port N]

stdout carries one line of JSON once it listens: {"base":"http://127.0.0.1:PORT","port":PORT}

* Every request but /__test/* must carry `Authorization: Bearer T` that URL
  accepts (GET URL with that header answers 2xx: the quirk server's
  /api/echo); otherwise 401 with `WWW-Authenticate: Bearer`. The token is
  checked when the request arrives (a long download outlives it).
* /echo/...: 200 JSON {method, path, query, body_bytes, body_sha256,
  headers (lower-case names, Authorization left out), had_cookie,
  caller_authorization} — the body read whole, chunked or not.
* GET /big?mib=N&seconds=S: N MiB streamed in 64 KiB chunks over about S seconds.
* GET /ws with `Upgrade: websocket`: 101, then every byte sent comes back.
* GET /__test/stats: {"requests": N, "refused": N, "paths": [...],
  "tokens": [first 12 hex digits of each distinct token's SHA-256, in the order seen]}
  — never a token itself.
"""

import argparse
import hashlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

parser = argparse.ArgumentParser()
parser.add_argument("--check-url", required=True)
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()

stats = {"requests": 0, "refused": 0, "paths": [], "tokens": []}
lock = threading.Lock()


def token_ok(token):
    request = urllib.request.Request(args.check_url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return 200 <= answer.status < 300
    except urllib.error.HTTPError:
        return False
    except OSError:
        return False


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

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        parts = urlsplit(self.path)
        if parts.path == "/__test/stats":
            with lock:
                return self.send_json(200, stats)
        body = self.read_body()
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is None or not token_ok(token):
            with lock:
                stats["refused"] += 1
            return self.send_json(401, {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        digest = hashlib.sha256(token.encode()).hexdigest()[:12]
        with lock:
            stats["requests"] += 1
            stats["paths"].append(parts.path)
            if digest not in stats["tokens"]:
                stats["tokens"].append(digest)
        if parts.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                self.connection.sendall(chunk)
            self.close_connection = True
            return
        if parts.path == "/big":
            query = parse_qs(parts.query)
            mib = int(query.get("mib", ["1"])[0])
            seconds = float(query.get("seconds", ["0"])[0])
            chunks = mib * 16
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(mib * 1024 * 1024))
            self.end_headers()
            block = b"x" * 65536
            for index in range(chunks):
                self.wfile.write(block)
                if seconds:
                    time.sleep(seconds / chunks)
            return
        if parts.path.startswith("/echo"):
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
            return self.send_json(200, {
                "method": self.command,
                "path": parts.path,
                "query": parts.query,
                "body_bytes": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "headers": headers,
                "had_cookie": "cookie" in headers,
                "caller_authorization": auth if not auth.startswith("Bearer ") else None,
            })
        return self.send_json(404, {"error": "not_found", "path": parts.path})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
port = server.server_address[1]
print(json.dumps({"base": f"http://127.0.0.1:{port}", "port": port}), flush=True)
sys.stdout.close()
server.serve_forever()
