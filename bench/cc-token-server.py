#!/usr/bin/env python3
"""A client credentials token endpoint for the agent and proxy benchmarks.

Answers every POST /token with grant_type=client_credentials at once with a
new opaque access token that lives a day (no refresh token), so a connection
added with --flow client_credentials is connected without a browser and its
token stays valid for the whole benchmark. GET /__bench/served says how many
tokens it handed out. Python 3 standard library only; loopback only.

    python3 cc-token-server.py   -> prints {"base":"http://127.0.0.1:PORT"} once listening
"""
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

served = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/__bench/served":
            self.reply(200, {"served": served})
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        global served
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if not self.path.startswith("/token") or form.get("grant_type") != ["client_credentials"]:
            self.reply(400, {"error": "unsupported_grant_type"})
            return
        served += 1
        self.reply(200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 86400,
            "scope": "api",
        })


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
sys.stdout.write(json.dumps({"base": f"http://127.0.0.1:{server.server_address[1]}"}) + "\n")
sys.stdout.flush()
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
