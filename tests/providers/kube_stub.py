#!/usr/bin/env python3
"""An HTTPS stand-in for a Kubernetes API server that wants an OAuth access
token, for Latch's kubectl exec-credential test (the standard library and
python3-cryptography, which makes a throwaway certificate for 127.0.0.1):

    python3 kube_stub.py --check-url URL [--port N]

stdout carries one line of JSON once it listens:
{"base":"https://127.0.0.1:PORT","port":PORT,"ca":"<PEM of its certificate>"}

* GET / (what `kubectl get --raw /` asks): needs `Authorization: Bearer
  <token>` that URL accepts (GET URL with the same header answers 2xx);
  then {"paths": ["/api", "/apis", "/version"]}; else 401 as the API server
  answers (a Status object).
* GET /__test/stats: {"accepted": N, "refused": N} (over https)
"""

import argparse
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

parser = argparse.ArgumentParser()
parser.add_argument("--check-url", required=True)
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()

stats = {"accepted": 0, "refused": 0}
lock = threading.Lock()


def certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "latch-test-kube")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert_pem, key_pem


def token_ok(header):
    if not header.startswith("Bearer "):
        return False
    request = urllib.request.Request(args.check_url, headers={"Authorization": header})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return 200 <= response.status < 300
    except urllib.error.URLError:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__test/stats":
            return self.send_json(200, stats)
        if not token_ok(self.headers.get("Authorization", "")):
            with lock:
                stats["refused"] += 1
            return self.send_json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        with lock:
            stats["accepted"] += 1
        if self.path.split("?")[0] == "/":
            return self.send_json(200, {"paths": ["/api", "/apis", "/version"]})
        return self.send_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})


cert_pem, key_pem = certificate()
files = tempfile.TemporaryDirectory()
with open(f"{files.name}/cert.pem", "wb") as f:
    f.write(cert_pem)
with open(f"{files.name}/key.pem", "wb") as f:
    f.write(key_pem)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(f"{files.name}/cert.pem", f"{files.name}/key.pem")
server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
port = server.server_address[1]
print(json.dumps({"base": f"https://127.0.0.1:{port}", "port": port, "ca": cert_pem.decode()}), flush=True)
server.serve_forever()
