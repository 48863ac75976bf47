#!/usr/bin/env python3
# Self-test of oauth1.py with oauthlib's own client (oauthlib.oauth1.Client) and
# urllib: the whole OAuth 1.0a dance for HMAC-SHA1, RSA-SHA1 and PLAINTEXT over
# the header, query and body transports, the other methods oauthlib verifies,
# `oob`, body hashes, and the refusals (replayed nonce, /__test/replay-next,
# bad signature, unknown consumer, old timestamp, spent and invalidated tokens).
#
#   python3 tests/providers/oauth1_selftest.py     # exits 0 when all pass
#
# Not part of `make test` (the Rust e2e tests drive the server); run it after
# changing oauth1.py.

import os
import sys

try:
    import oauthlib.oauth1  # noqa: F401
    import jwt  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath('/usr/bin/python3') and os.path.exists('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3', *sys.argv])
    sys.exit('needs python3-oauthlib, python3-jwt and python3-cryptography')

import base64
import hashlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1 import Client, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_BODY, SIGNATURE_TYPE_QUERY

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'oauth1-rsa-key.pem')) as f:
    RSA_PRIVATE_KEY = f.read()
FORM = 'application/x-www-form-urlencoded'
TRANSPORTS = {'header': SIGNATURE_TYPE_AUTH_HEADER, 'query': SIGNATURE_TYPE_QUERY, 'body': SIGNATURE_TYPE_BODY}
CONSUMERS = {
    'HMAC-SHA1': ('hmac-client', 'hmac-secret-5d2c81'), 'HMAC-SHA256': ('hmac-client', 'hmac-secret-5d2c81'),
    'HMAC-SHA512': ('hmac-client', 'hmac-secret-5d2c81'),
    'RSA-SHA1': ('rsa-client', None), 'RSA-SHA256': ('rsa-client', None), 'RSA-SHA512': ('rsa-client', None),
    'PLAINTEXT': ('plain-client', 'plain-secret-9e47a0'),
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def client(method, transport, **kw):
    key, secret = CONSUMERS[method]
    return Client(key, client_secret=secret, signature_method=method, signature_type=TRANSPORTS[transport],
                  rsa_key=RSA_PRIVATE_KEY if method.startswith('RSA') else None, **kw)


def signed(c, method, url, body=None, headers=None):
    """Sign with client c and send; returns (status, headers, body, the signed request)."""
    headers = dict(headers or {})
    if c.signature_type == SIGNATURE_TYPE_BODY or (method == 'POST' and body is None):
        headers.setdefault('Content-Type', FORM)
        body = body if body is not None else ''
    url2, headers2, body2 = c.sign(url, method, body, headers)
    return (*http(method, url2, body2, headers2), (url2, headers2, body2))


class Failure(Exception):
    pass


def expect(cond, what, detail=''):
    if not cond:
        raise Failure(f'{what}: {detail}')


def stats():
    return json.loads(http('GET', BASE + '/__test/stats')[2])


def dance(method, transport, callback='http://127.0.0.1:9/callback'):
    """request token → authorize → access token; returns (token, secret, response fields)."""
    c = client(method, transport, callback_uri=callback)
    status, _, body, _ = signed(c, 'POST', BASE + '/oauth/request_token')
    expect(status == 200, f'{method}/{transport} request token', f'{status} {body}')
    rt = dict(parse_qsl(body))
    expect(rt.get('oauth_callback_confirmed') == 'true', 'callback confirmed', body)
    status, headers, page = http('GET', BASE + '/oauth/authorize?oauth_token=' + rt['oauth_token'])
    if callback == 'oob':
        expect(status == 200, 'oob authorize page', f'{status} {page}')
        verifier = re.search(r'id="verifier">([^<]+)<', page).group(1)
    else:
        expect(status == 302, 'authorize redirects', f'{status} {page}')
        loc = headers['Location']
        expect(loc.startswith(callback + '?'), 'redirect to the callback', loc)
        q = dict(parse_qsl(urlsplit(loc).query))
        expect(q['oauth_token'] == rt['oauth_token'], 'callback carries the request token', loc)
        verifier = q['oauth_verifier']
    c = client(method, transport, resource_owner_key=rt['oauth_token'],
               resource_owner_secret=rt['oauth_token_secret'], verifier=verifier)
    status, _, body, _ = signed(c, 'POST', BASE + '/oauth/access_token')
    expect(status == 200, f'{method}/{transport} access token', f'{status} {body}')
    at = dict(parse_qsl(body, keep_blank_values=True))
    expect(at.get('screen_name') == 'ann' and at.get('user_id') == 'u-1', 'user in the token response', body)
    # The request token is spent.
    status, _, body, _ = signed(c, 'POST', BASE + '/oauth/access_token')
    expect(status == 401 and 'oauth_problem=token_rejected' in body, 'spent request token refused', f'{status} {body}')
    return at['oauth_token'], at['oauth_token_secret'], at


def me(method, transport, token, secret, http_method='GET'):
    c = client(method, transport, resource_owner_key=token, resource_owner_secret=secret)
    status, _, body, req = signed(c, http_method, BASE + '/api/me?x=1')
    return status, body, req


def main():
    results = []

    def check(name, fn):
        try:
            fn()
            results.append((name, None))
            print(f'ok   {name}')
        except Exception as e:  # noqa: BLE001
            results.append((name, e))
            print(f'FAIL {name}: {e}')

    for method in ('HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT'):
        for transport in ('header', 'query', 'body'):
            def run(method=method, transport=transport):
                token, secret, _ = dance(method, transport)
                s = stats()
                expect(s['last_signature_method'] == method and s['last_transport'] == transport,
                       'stats saw the method and transport', s)
                status, body, _ = me(method, transport, token, secret, 'POST' if transport == 'body' else 'GET')
                expect(status == 200, '/api/me', f'{status} {body}')
                got = json.loads(body)
                expect(got['id'] == 'u-1' and got['signature_method'] == method and got['transport'] == transport,
                       '/api/me answer', body)
            check(f'dance {method} over {transport}', run)

    for method in ('HMAC-SHA256', 'HMAC-SHA512', 'RSA-SHA256', 'RSA-SHA512'):
        def run(method=method):
            token, secret, _ = dance(method, 'header')
            status, body, _ = me(method, 'header', token, secret)
            expect(status == 200 and json.loads(body)['signature_method'] == method, '/api/me', f'{status} {body}')
        check(f'dance {method} over header', run)

    token, secret, at = dance('HMAC-SHA1', 'header')

    def oob():
        t, s, _ = dance('HMAC-SHA1', 'header', callback='oob')
        expect(me('HMAC-SHA1', 'header', t, s)[0] == 200, 'oob token works')
    check('oob callback: verifier on the page', oob)

    def replay():
        status, body, (url, headers, sent) = me('HMAC-SHA1', 'header', token, secret)
        expect(status == 200, 'first use', body)
        status, _, body = http('GET', url, sent, headers)
        expect(status == 401 and dict(parse_qsl(body)).get('oauth_problem') == 'nonce_used', 'replay refused',
               f'{status} {body}')
    check('replayed nonce refused with nonce_used', replay)

    def replay_next():
        before = stats()['nonce_refusals']
        expect(http('POST', BASE + '/__test/replay-next')[0] == 204, 'arm replay-next')
        status, body, _ = me('HMAC-SHA1', 'query', token, secret)
        expect(status == 401 and 'oauth_problem=nonce_used' in body, 'fresh nonce refused once', f'{status} {body}')
        status, body, _ = me('HMAC-SHA1', 'query', token, secret)
        expect(status == 200, 'retry with a fresh nonce accepted', f'{status} {body}')
        expect(stats()['nonce_refusals'] == before + 1, 'counted')
    check('/__test/replay-next refuses the next fresh nonce once', replay_next)

    def bad_signature():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret + 'x')
        status, _, body, _ = signed(c, 'GET', BASE + '/api/me')
        expect(status == 401 and 'oauth_problem=signature_invalid' in body, 'wrong secret', f'{status} {body}')
    check('wrong token secret: signature_invalid', bad_signature)

    def other_rsa_key():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        c = Client('rsa-client', signature_method='RSA-SHA1', rsa_key=other, callback_uri='oob')
        status, _, body, _ = signed(c, 'POST', BASE + '/oauth/request_token')
        expect(status == 401 and 'oauth_problem=signature_invalid' in body, 'other key', f'{status} {body}')
    check('RSA-SHA1 signed with another key: signature_invalid', other_rsa_key)

    def tampered_query():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret)
        url, headers, _ = c.sign(BASE + '/api/me?amount=10', 'GET')
        status, _, body = http('GET', url.replace('amount=10', 'amount=99'), None, headers)
        expect(status == 401 and 'oauth_problem=signature_invalid' in body, 'tampered', f'{status} {body}')
    check('query changed after signing: signature_invalid', tampered_query)

    def encoded_query():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret)
        url, headers, _ = c.sign(BASE + '/api/me?q=hello%20world&u=%E2%9C%93&empty=&a=1&a=2', 'GET')
        status, _, body = http('GET', url, None, headers)
        expect(status == 200, 'percent-encoded, repeated and empty query parameters', f'{status} {body}')
    check('percent-encoded, repeated and empty query parameters', encoded_query)

    def unknown_consumer():
        c = Client('nobody', client_secret='x', callback_uri='oob')
        status, _, body, _ = signed(c, 'POST', BASE + '/oauth/request_token')
        expect(status == 401 and 'oauth_problem=consumer_key_unknown' in body, 'unknown key', f'{status} {body}')
    check('unknown consumer: consumer_key_unknown', unknown_consumer)

    def wrong_method():
        c = Client('plain-client', client_secret='plain-secret-9e47a0', callback_uri='oob')  # HMAC-SHA1
        status, _, body, _ = signed(c, 'POST', BASE + '/oauth/request_token')
        expect(status == 400 and 'oauth_problem=signature_method_rejected' in body, 'method', f'{status} {body}')
    check('method not allowed for the client: signature_method_rejected', wrong_method)

    def old_timestamp():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret,
                   timestamp=str(int(time.time()) - 3600))
        status, _, body, _ = signed(c, 'GET', BASE + '/api/me')
        f = dict(parse_qsl(body))
        expect(status == 401 and f.get('oauth_problem') == 'timestamp_refused' and 'oauth_acceptable_timestamps' in f,
               'old timestamp', f'{status} {body}')
    check('timestamp an hour old: timestamp_refused', old_timestamp)

    def short_nonce():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret, nonce='abc123')
        status, _, body, _ = signed(c, 'GET', BASE + '/api/me')
        expect(status == 400 and 'oauth_parameters_rejected=oauth_nonce' in body, 'short nonce', f'{status} {body}')
    check('nonce shorter than 20 characters: parameter_rejected', short_nonce)

    def realm():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret, realm='acct-42')
        status, _, body, _ = signed(c, 'GET', BASE + '/api/me')
        expect(status == 200 and stats()['last_realm'] == 'acct-42', 'realm accepted', f'{status} {body}')
    check('realm in the header accepted', realm)

    def body_hash():
        # oauthlib's client adds oauth_body_hash = base64(SHA-1(body)) itself to any body
        # that is not a form, whatever the signature method.
        payload = json.dumps({'name': 'ann', 'n': [1, 2, 3]})
        headers = {'Content-Type': 'application/json'}
        for case, signed_body in (('good', payload), ('wrong', payload + ' '), ('missing', None)):
            c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret)
            url, headers2, _ = c.sign(BASE + '/api/echo', 'POST', signed_body, headers)
            expect(('oauth_body_hash' in headers2['Authorization']) == (signed_body is not None), 'client hash')
            status, _, body = http('POST', url, payload, headers2)
            if case == 'good':
                got = json.loads(body) if status == 200 else {}
                expect(status == 200 and got.get('body_hash_ok') is True and got.get('body_hash_alg') == 'SHA-1'
                       and got.get('json', {}).get('name') == 'ann', 'good body hash', f'{status} {body}')
            elif case == 'missing':
                expect(status == 400 and 'oauth_parameters_absent=oauth_body_hash' in body, 'no hash', f'{status} {body}')
            else:
                expect(status == 401 and 'oauth_problem=body_hash_invalid' in body, 'bad hash', f'{status} {body}')
        # RSA-SHA256 with a SHA-256 body hash (added by hand: oauthlib's client only does SHA-1).
        t, sec, _ = dance('RSA-SHA256', 'query')
        c = client('RSA-SHA256', 'header', resource_owner_key=t, resource_owner_secret=sec)
        h256 = base64.b64encode(hashlib.sha256(payload.encode()).digest()).decode()
        orig = c.get_oauth_params
        c.get_oauth_params = lambda r: orig(r) + [('oauth_body_hash', h256)]
        url, headers2, _ = c.sign(BASE + '/api/echo', 'POST', None, headers)
        status, _, body = http('POST', url, payload, headers2)
        got = json.loads(body) if status == 200 else {}
        expect(status == 200 and got.get('body_hash_alg') == 'SHA-256', 'SHA-256 body hash', f'{status} {body}')
    check('JSON body with oauth_body_hash (good, wrong, missing)', body_hash)

    def mixed():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret)
        url, headers, _ = c.sign(BASE + '/api/me?oauth_extra=1', 'GET')
        status, _, body = http('GET', url, None, headers)
        expect(status == 400 and 'oauth_problem=parameter_rejected' in body, 'mixed transports', f'{status} {body}')
    check('oauth_ parameters in two places refused', mixed)

    def invalidate():
        c = client('HMAC-SHA1', 'header', resource_owner_key=token, resource_owner_secret=secret)
        status, _, body, _ = signed(c, 'POST', BASE + '/oauth/invalidate')
        expect(status == 200 and json.loads(body) == {'invalidated': True}, 'invalidate', f'{status} {body}')
        status, body, _ = me('HMAC-SHA1', 'header', token, secret)
        expect(status == 401 and 'oauth_problem=token_rejected' in body, 'forgotten token', f'{status} {body}')
    check('invalidate: the access token is forgotten', invalidate)

    def bad_callback():
        c = client('HMAC-SHA1', 'header', callback_uri='https://evil.example/cb')
        status, _, body, _ = signed(c, 'POST', BASE + '/oauth/request_token')
        expect(status == 400 and 'oauth_parameters_rejected=oauth_callback' in body, 'callback', f'{status} {body}')
    check('callback off loopback refused', bad_callback)

    s = stats()
    print('stats:', json.dumps(s, sort_keys=True))
    failed = [n for n, e in results if e]
    print(f'{len(results) - len(failed)}/{len(results)} passed')
    return 1 if failed else 0


if __name__ == '__main__':
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'oauth1.py')], stdout=subprocess.PIPE)
    try:
        ready = json.loads(proc.stdout.readline())
        BASE = ready['base']
        code = main()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    sys.exit(code)
