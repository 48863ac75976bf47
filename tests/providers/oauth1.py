#!/usr/bin/env python3
# An OAuth 1.0a provider (RFC 5849) for Latch's tests: oauthlib's own
# oauthlib.oauth1 endpoints (Debian python3-oauthlib 3.2.2) behind
# http.server, with our RequestValidator. Standard library + oauthlib (RSA
# verification goes through python3-jwt and python3-cryptography).
#
#   python3 oauth1.py [--port N]
#
# stdout carries one line of JSON once it listens:
# {"base":"http://127.0.0.1:PORT","port":PORT}; nothing else is ever written there.
#
# Clients (consumer keys), all test-only credentials:
#   hmac-client   secret hmac-secret-5d2c81   HMAC-SHA1, HMAC-SHA256, HMAC-SHA512
#   rsa-client    public key oauth1-rsa-key.pub.pem; private key oauth1-rsa-key.pem (PKCS#8
#                 PEM, 2048 bits; both beside this file, made for these tests only, never
#                 use them elsewhere)      RSA-SHA1, RSA-SHA256, RSA-SHA512
#   plain-client  secret plain-secret-9e47a0  PLAINTEXT
# A client using another method gets 400 oauth_problem=signature_method_rejected.
# The one user is "ann" (id u-1); the user always approves.
#
# Signed requests may carry their oauth_* parameters in the Authorization
# header, the query or a form body (one of them only). oauthlib's rules hold
# (see README.md): nonce 20-30 letters/digits, timestamp 10 digits within 600 s
# of now, oauth_version 1.0 if present, a realm only in the header (any realm
# is accepted). Callbacks: `oob` or any http://127.0.0.1:PORT/... address.
#
# * POST /oauth/request_token  signed with the consumer only, oauth_callback required
#        → form: oauth_token, oauth_token_secret, oauth_callback_confirmed=true
# * GET  /oauth/authorize?oauth_token=…  → 302 callback?oauth_token&oauth_verifier;
#        for `oob` a 200 HTML page with the verifier in <code id="verifier">
# * POST /oauth/access_token   signed with the request token and oauth_verifier
#        → form: oauth_token, oauth_token_secret, oauth_authorized_realms, screen_name=ann,
#        user_id=u-1 (the request token is spent)
# * GET|POST /api/me           signed with the access token → {"id":"u-1","screen_name":"ann",
#        "method","signature_method","transport","body_hash_ok","body_hash_alg"} (null without
#        oauth_body_hash, else whether it matches the body and which hash did)
# * POST /api/echo             signed with the access token, any body; a body that is not a
#        form needs oauth_body_hash = base64(SHA-1(body)) (for the -SHA256 / -SHA512 methods
#        SHA-256 / SHA-512 are accepted too) → the /api/me fields + "body" (text) and "json"
#        (parsed or null); 400 parameter_absent without it, 401 body_hash_invalid if wrong
# * POST /oauth/invalidate     signed with the access token → {"invalidated":true}; the
#        access token is forgotten (later use: 401 token_rejected)
# * POST /__test/replay-next   → 204; the next signed request with a fresh nonce is refused
#        once with nonce_used (the nonce counts as used)
# * GET  /__test/stats         → {"request_tokens","authorizations","access_tokens",
#        "resource_requests","nonce_refusals","invalidations","refusals":{problem:n},
#        "last_signature_method","last_transport":"header"|"query"|"body","last_realm"}
#        (request_tokens … invalidations and last_* count requests that were accepted;
#        /api/echo counts as a resource request, /oauth/invalidate does not)
#
# Refusals are form-encoded, as real providers answer (OAuth Problem Reporting):
# 401 oauth_problem=nonce_used | signature_invalid | token_rejected | consumer_key_unknown |
# timestamp_refused (with oauth_acceptable_timestamps=LOW-HIGH) | permission_denied (wrong
# verifier) | body_hash_invalid;
# 400 oauth_problem=parameter_absent (oauth_parameters_absent) | parameter_rejected
# (oauth_parameters_rejected) | signature_method_rejected | version_rejected.
# oauth_problem_advice carries oauthlib's description when it gave one.
#
# Run by a python3 without oauthlib (pyenv, a venv), it re-runs itself with /usr/bin/python3.

import os
import sys

try:
    import oauthlib.oauth1  # noqa: F401
    import jwt  # noqa: F401  (oauthlib's RSA methods need it)
except ImportError:
    # A python3 of its own ahead on PATH (pyenv, a venv) lacks Debian's packages.
    if os.path.realpath(sys.executable) != os.path.realpath('/usr/bin/python3') and os.path.exists('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3', *sys.argv])
    sys.exit('oauth1.py needs python3-oauthlib, python3-jwt and python3-cryptography (scripts/install-deps.sh --test)')

import argparse
import base64
import hashlib
import hmac
import json
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

from oauthlib.oauth1 import (
    AccessTokenEndpoint, AuthorizationEndpoint, RequestTokenEndpoint, RequestValidator, ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import errors

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'oauth1-rsa-key.pub.pem')) as f:
    RSA_PUBLIC_KEY = f.read()

CLIENTS = {
    'hmac-client': {'secret': 'hmac-secret-5d2c81', 'methods': ('HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512')},
    'rsa-client': {'rsa_key': RSA_PUBLIC_KEY, 'methods': ('RSA-SHA1', 'RSA-SHA256', 'RSA-SHA512')},
    'plain-client': {'secret': 'plain-secret-9e47a0', 'methods': ('PLAINTEXT',)},
}
DUMMY_CLIENT = 'dummy-client'
DUMMY_TOKEN = 'dummyTokenDummyTokenDummy0'  # passes oauthlib's 20-30 character check
USER = {'id': 'u-1', 'screen_name': 'ann'}

lock = threading.Lock()
request_tokens = {}  # token -> {client, secret, callback, realms, verifier}
access_tokens = {}  # token -> {client, secret, realms}
nonces = set()  # (client, timestamp, nonce, token)
replay_next = [0]
stats = {
    'request_tokens': 0, 'authorizations': 0, 'access_tokens': 0, 'resource_requests': 0,
    'nonce_refusals': 0, 'invalidations': 0, 'refusals': {},
    'last_signature_method': None, 'last_transport': None, 'last_realm': None,
}

# What went wrong with the request this thread is handling (the first problem wins).
current = threading.local()


def note(problem, **extra):
    if getattr(current, 'problem', None) is None:
        current.problem = problem
        current.extra = extra


class Validator(RequestValidator):
    enforce_ssl = False  # plain http on loopback
    allowed_signature_methods = ('HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512',
                                 'RSA-SHA1', 'RSA-SHA256', 'RSA-SHA512', 'PLAINTEXT')
    dummy_client = DUMMY_CLIENT
    dummy_request_token = DUMMY_TOKEN
    dummy_access_token = DUMMY_TOKEN

    # Our consumer keys have dashes; oauthlib's default is 20-30 letters/digits.
    def check_client_key(self, client_key):
        return bool(re.fullmatch(r'[A-Za-z0-9._~-]{1,64}', client_key))

    # Any realm the client names (Trello, NetSuite… send one).
    def check_realms(self, realms):
        return True

    def get_default_realms(self, client_key, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def get_realms(self, token, request):
        with lock:
            return list(request_tokens.get(token, {}).get('realms') or [])

    def verify_realms(self, token, realms, request):
        return True

    # Clients and their keys.
    def validate_client_key(self, client_key, request):
        client = CLIENTS.get(client_key)
        if client is None:
            note('consumer_key_unknown')
            return False
        if request.signature_method not in client['methods']:
            note('signature_method_rejected',
                 oauth_problem_advice=f'{client_key} signs with ' + ', '.join(client['methods']))
            return False
        return True

    def get_client_secret(self, client_key, request):
        return CLIENTS.get(client_key, {}).get('secret', 'dummy-secret')

    def get_rsa_key(self, client_key, request):
        return CLIENTS.get(client_key, {}).get('rsa_key', RSA_PUBLIC_KEY)

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        if redirect_uri == 'oob':
            return True
        parts = urlsplit(redirect_uri)
        if parts.scheme == 'http' and parts.hostname == '127.0.0.1':
            return True
        note('parameter_rejected', oauth_parameters_rejected='oauth_callback',
             oauth_problem_advice='callback must be oob or http://127.0.0.1:PORT/...')
        return False

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token or access_token)
        with lock:
            if key in nonces:
                refused = True
            else:
                nonces.add(key)
                refused = replay_next[0] > 0
                if refused:
                    replay_next[0] -= 1
            if refused:
                stats['nonce_refusals'] += 1
        if refused:
            note('nonce_used')
        return not refused

    # Request tokens.
    def save_request_token(self, token, request):
        with lock:
            request_tokens[token['oauth_token']] = {
                'client': request.client_key, 'secret': token['oauth_token_secret'],
                'callback': request.redirect_uri, 'realms': request.realms or [], 'verifier': None,
            }

    def verify_request_token(self, token, request):
        with lock:
            return token in request_tokens

    def get_redirect_uri(self, token, request):
        with lock:
            return request_tokens[token]['callback']

    def save_verifier(self, token, verifier, request):
        with lock:
            request_tokens[token]['verifier'] = verifier['oauth_verifier']

    def validate_request_token(self, client_key, token, request):
        with lock:
            entry = request_tokens.get(token)
        if entry is None or entry['client'] != client_key:
            note('token_rejected')
            return False
        return True

    def get_request_token_secret(self, client_key, token, request):
        with lock:
            entry = request_tokens.get(token)
        return entry['secret'] if entry and entry['client'] == client_key else 'dummy-secret'

    def validate_verifier(self, client_key, token, verifier, request):
        with lock:
            entry = request_tokens.get(token)
        if entry is None or not entry['verifier'] or not hmac.compare_digest(entry['verifier'], verifier):
            note('permission_denied', oauth_problem_advice='wrong or missing oauth_verifier')
            return False
        return True

    def invalidate_request_token(self, client_key, request_token, request):
        with lock:
            request_tokens.pop(request_token, None)

    # Access tokens.
    def save_access_token(self, token, request):
        with lock:
            access_tokens[token['oauth_token']] = {
                'client': request.client_key, 'secret': token['oauth_token_secret'], 'realms': request.realms,
            }

    def validate_access_token(self, client_key, token, request):
        with lock:
            entry = access_tokens.get(token)
        if entry is None or entry['client'] != client_key:
            note('token_rejected')
            return False
        return True

    def get_access_token_secret(self, client_key, token, request):
        with lock:
            entry = access_tokens.get(token)
        return entry['secret'] if entry and entry['client'] == client_key else 'dummy-secret'


# oauthlib's description of a refused request → (OAuth problem, extra fields).
def classify(error):
    d = error.description or ''
    if isinstance(error, errors.InvalidSignatureMethodError):
        return 'signature_method_rejected', {}
    if 'Timestamp given is invalid' in d:
        now = int(time.time())
        life = Validator().timestamp_lifetime
        return 'timestamp_refused', {'oauth_acceptable_timestamps': f'{now - life}-{now + life}'}
    rejected = {'Invalid timestamp size': 'oauth_timestamp', 'Timestamp must be an integer': 'oauth_timestamp',
                'Invalid nonce format': 'oauth_nonce', 'Invalid verifier format': 'oauth_verifier'}
    for text, param in rejected.items():
        if text in d:
            return 'parameter_rejected', {'oauth_parameters_rejected': param}
    absent = {'Missing callback URI': 'oauth_callback', 'Missing resource owner': 'oauth_token',
              'Missing verifier': 'oauth_verifier', 'Missing mandatory parameter oauth_token': 'oauth_token',
              'Missing mandatory OAuth parameters': 'oauth_consumer_key,oauth_signature_method,'
                                                    'oauth_signature,oauth_timestamp,oauth_nonce'}
    for text, param in absent.items():
        if text in d:
            return 'parameter_absent', {'oauth_parameters_absent': param}
    if 'Invalid client key format' in d:
        return 'consumer_key_unknown', {}
    if 'Invalid resource owner key format' in d:
        return 'token_rejected', {}
    if 'Invalid OAuth version' in d:
        return 'version_rejected', {}
    return 'parameter_rejected', {}


class Noting:
    """Records why oauthlib refused a request, and where the parameters were."""

    def _get_signature_type_and_params(self, request):
        try:
            signature_type, params, oauth_params = super()._get_signature_type_and_params(request)
        except errors.OAuth1Error as e:
            if 'only 1 signature' in str(e.description):
                note('parameter_rejected', oauth_problem_advice='oauth_* parameters found in more than one place')
            else:
                problem, extra = classify(e)
                note(problem, oauth_problem_advice=e.description, **extra)
            raise
        current.transport = {'AUTH_HEADER': 'header', 'QUERY': 'query', 'BODY': 'body'}[signature_type]
        return signature_type, params, oauth_params

    def _check_mandatory_parameters(self, request):
        current.signature_method = request.signature_method
        current.realm = request.realm
        try:
            return super()._check_mandatory_parameters(request)
        except errors.OAuth1Error as e:
            problem, extra = classify(e)
            note(problem, oauth_problem_advice=e.description, **extra)
            raise

    def _check_signature(self, request, is_token_request=False):
        ok = super()._check_signature(request, is_token_request)
        if not ok:
            note('signature_invalid')
        return ok


class RequestTokens(Noting, RequestTokenEndpoint):
    def validate_request_token_request(self, request):
        try:
            return super().validate_request_token_request(request)
        except errors.OAuth1Error as e:
            problem, extra = classify(e)
            note(problem, oauth_problem_advice=e.description, **extra)
            raise


class AccessTokens(Noting, AccessTokenEndpoint):
    def validate_access_token_request(self, request):
        try:
            return super().validate_access_token_request(request)
        except errors.OAuth1Error as e:
            problem, extra = classify(e)
            note(problem, oauth_problem_advice=e.description, **extra)
            raise


class Resources(Noting, ResourceEndpoint):
    pass


validator = Validator()
request_endpoint = RequestTokens(validator)
authorize_endpoint = AuthorizationEndpoint(validator)
access_endpoint = AccessTokens(validator)
resource_endpoint = Resources(validator)

STATUS = {'parameter_absent': 400, 'parameter_rejected': 400, 'signature_method_rejected': 400,
          'version_rejected': 400}
BODY_HASH = {'SHA1': hashlib.sha1, 'SHA256': hashlib.sha256, 'SHA512': hashlib.sha512}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'oauth1-test'

    def log_message(self, *args):
        pass

    def send(self, status, body=b'', content_type='text/plain', headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if body or status not in (204, 302):
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def json(self, status, obj):
        self.send(status, json.dumps(obj), 'application/json')

    def refuse(self, fallback):
        problem = getattr(current, 'problem', None) or fallback
        fields = {'oauth_problem': problem, **{k: v for k, v in (current.extra or {}).items() if v}}
        with lock:
            stats['refusals'][problem] = stats['refusals'].get(problem, 0) + 1
        status = STATUS.get(problem, 401)
        headers = [('WWW-Authenticate', f'OAuth realm="{self.base()}/"')] if status == 401 else []
        self.send(status, urlencode(fields), 'application/x-www-form-urlencoded', headers)

    def base(self):
        return 'http://' + (self.headers.get('Host') or f'127.0.0.1:{self.server.server_port}')

    def read_body(self):
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            data = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def accepted(self, request):
        with lock:
            stats['last_signature_method'] = request.signature_method
            stats['last_transport'] = getattr(current, 'transport', None)
            stats['last_realm'] = request.realm

    def handle_any(self):
        current.problem = None
        current.extra = None
        current.transport = current.signature_method = current.realm = None
        raw = self.read_body()
        body = raw.decode('utf-8', 'replace')
        uri = self.base() + self.path
        path = urlsplit(self.path).path
        headers = dict(self.headers.items())
        method = self.command
        try:
            if method == 'POST' and path == '/oauth/request_token':
                h, b, s = request_endpoint.create_request_token_response(uri, method, body, headers)
                if s != 200:
                    return self.refuse('signature_invalid')
                with lock:
                    stats['request_tokens'] += 1
                self.accepted_token_request()
                return self.send(200, b, 'application/x-www-form-urlencoded')
            if method == 'GET' and path == '/oauth/authorize':
                try:
                    realms, credentials = authorize_endpoint.get_realms_and_credentials(uri, method, body, headers)
                    h, b, s = authorize_endpoint.create_authorization_response(uri, method, body, headers, realms)
                except errors.OAuth1Error as e:
                    return self.send(400, f'Unknown or missing request token ({e.description or e.error}).\n')
                with lock:
                    stats['authorizations'] += 1
                if s == 302:
                    return self.send(302, headers=[('Location', h['Location'])])
                verifier = dict(x.split('=', 1) for x in b.split('&'))['oauth_verifier']
                page = ('<!doctype html><title>Authorized</title><p>You have authorized the application. '
                        f'Enter this code in it: <code id="verifier">{verifier}</code></p>\n')
                return self.send(200, page, 'text/html; charset=utf-8')
            if method == 'POST' and path == '/oauth/access_token':
                h, b, s = access_endpoint.create_access_token_response(
                    uri, method, body, headers, credentials={'screen_name': USER['screen_name'], 'user_id': USER['id']})
                if s != 200:
                    return self.refuse('signature_invalid')
                with lock:
                    stats['access_tokens'] += 1
                self.accepted_token_request()
                return self.send(200, b, 'application/x-www-form-urlencoded')
            if (path == '/api/me' and method in ('GET', 'POST')) or \
                    (method == 'POST' and path in ('/api/echo', '/oauth/invalidate')):
                ok, request = resource_endpoint.validate_protected_resource_request(uri, method, body, headers)
                if not ok:
                    if request is not None and not request.resource_owner_key and not current.problem:
                        note('parameter_absent', oauth_parameters_absent='oauth_token')
                    return self.refuse('token_rejected')
                self.accepted(request)
                return self.resource(path, method, request, raw, body)
            if method == 'POST' and path == '/__test/replay-next':
                with lock:
                    replay_next[0] += 1
                return self.send(204)
            if method == 'GET' and path == '/__test/stats':
                with lock:
                    return self.json(200, stats)
            return self.send(404, 'not found\n')
        except ValueError as e:
            # oauthlib refuses a query or form body with characters that should have been
            # percent-encoded ("Error trying to decode a non urlencoded string…").
            note('parameter_rejected', oauth_problem_advice=str(e))
            return self.refuse('parameter_rejected')
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug here, not the client's: say so
            import traceback
            traceback.print_exc(file=sys.stderr)
            try:
                self.send(500, f'server error: {e!r}\n')
            except OSError:
                pass

    def accepted_token_request(self):
        # The token endpoints don't hand back their request; the Noting mixin saw it.
        with lock:
            stats['last_transport'] = current.transport
            stats['last_signature_method'] = current.signature_method
            stats['last_realm'] = current.realm

    def resource(self, path, method, request, raw, body):
        sig_method = request.signature_method
        given = request.oauth_params.get('oauth_body_hash')
        is_form = 'application/x-www-form-urlencoded' in (self.headers.get('Content-Type') or '')
        body_hash_ok = body_hash_alg = None
        if given is not None:
            # SHA-1 as the draft says (and oauthlib's own client does for every method), or
            # the signature method's own hash (SHA-256 / SHA-512), as some providers want.
            body_hash_ok = False
            for alg in dict.fromkeys(('SHA1', sig_method.rsplit('-', 1)[-1])):
                if alg in BODY_HASH and hmac.compare_digest(
                        base64.b64encode(BODY_HASH[alg](raw).digest()).decode(), given):
                    body_hash_ok, body_hash_alg = True, alg.replace('SHA', 'SHA-')
                    break
        if path == '/oauth/invalidate':
            with lock:
                access_tokens.pop(request.resource_owner_key, None)
                stats['invalidations'] += 1
            return self.json(200, {'invalidated': True})
        if path == '/api/echo' and not is_form:
            if given is None:
                note('parameter_absent', oauth_parameters_absent='oauth_body_hash')
                return self.refuse('parameter_absent')
            if not body_hash_ok:
                note('body_hash_invalid', oauth_problem_advice='oauth_body_hash is not base64(hash(body))')
                return self.refuse('body_hash_invalid')
        with lock:
            stats['resource_requests'] += 1
        out = {**USER, 'method': method, 'signature_method': sig_method,
               'transport': getattr(current, 'transport', None), 'body_hash_ok': body_hash_ok,
               'body_hash_alg': body_hash_alg}
        if path == '/api/echo':
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            out.update(body=body, json=parsed)
        return self.json(200, out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser(description='OAuth 1.0a test provider (oauthlib)')
    parser.add_argument('--port', type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = server.server_port
    sys.stdout.write(json.dumps({'base': f'http://127.0.0.1:{port}', 'port': port}, separators=(',', ':')) + '\n')
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
