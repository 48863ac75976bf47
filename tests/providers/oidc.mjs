#!/usr/bin/env node
// Local OpenID Connect / OAuth 2.0 provider for Latch integration tests.
//
//   node oidc.mjs [--port N] [--access-ttl SECONDS] [--refresh-ttl SECONDS] [--device] [--device-ttl SECONDS]
//                 [--resource-server URI]... [--require-par] [--dpop-nonce]
//
// --resource-server registers an API for RFC 8707 resource indicators: a
// `resource=URI` on the authorization and token requests yields an opaque
// access token whose audience (introspection's `aud`) is URI, with the API's
// scopes (api:read api:write). Any other resource is refused (invalid_target).
//
// Pushed authorization requests (RFC 9126) are offered at /request; with
// --require-par the server requires them (its metadata says
// require_pushed_authorization_requests) and refuses any other sign-in.
// /__test/stats counts `pushed_requests`.
//
// DPoP (RFC 9449) is on: a token request with a `DPoP` proof gets a token
// bound to the proof's key (token_type DPoP; introspection's `cnf.jkt`), and a
// public client's refresh token is bound too. With --dpop-nonce the token
// endpoint (and PAR) require a server nonce: a proof without one is answered
// 400 use_dpop_nonce with a `DPoP-Nonce` header. /__test/stats counts
// `dpop_proofs` (token and PAR requests that carried one) and
// `dpop_nonce_challenges`.
//
// With --mtls DIR (ca.pem, server.pem, server-key.pem, made by the test with
// openssl) mutual-TLS client authentication (RFC 8705) is on: the same server
// also listens with TLS on a second port that asks for a client certificate
// (and admits any: oidc-provider judges it), and the metadata names that
// port's token, revocation, PAR and device endpoints as its
// `mtls_endpoint_aliases` (§5), with userinfo's. Client `mtls-ca` authenticates with
// tls_client_auth (a certificate from the test CA naming
// CN=latch-mtls-client); self_signed_tls_client_auth clients register
// themselves with their certificate in `jwks`. Access tokens are bound to the
// certificate (`x5t#S256`). /api/bound on the TLS port is an API that takes a
// token only with the certificate it is bound to; /__test/stats counts
// `mtls_token_requests` (token requests over TLS with a certificate),
// `bound_accepted`, `bound_refused` and `client_secrets_seen` (token requests
// that carried a client secret or assertion, by any route).
//
// Dynamic client registration is open (RFC 7591 at /reg, no initial access
// token) and managed (RFC 7592: /reg/CLIENT_ID with the registration access
// token); /__test/stats counts `registrations` and `registration_deletes`.
// POST /__test/forget-clients forgets every registered client (a reset).
// POST /__test/hold-token-responses?ms=N holds every token response N ms
// after the grant was made (0: none): a client killed meanwhile never
// receives tokens the server already rotated.
//
// Refresh tokens rotate, with oidc-provider's reuse detection: a rotated-out
// refresh token sent again is refused (invalid_grant) and its whole grant
// revoked. /__test/stats counts `refreshes_by_grant` (successful refresh
// grants per grant ID: one grant per sign-in; `refreshed_at_by_grant` has
// their times, epoch milliseconds), `invalid_grants` and `grants_revoked`.
//
// stdout carries exactly one line of JSON once the server listens:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT}
// Everything else (oidc-provider notices/warnings, debug output) goes to stderr.

// oidc-provider prints some notices with console.info; keep stdout clean.
console.log = console.info = console.debug = (...args) => console.error(...args);

import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { echoResponse } from './echo.mjs';

const { default: Provider, errors } = await import('oidc-provider');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'access-ttl': { type: 'string', default: '3600' },
    'refresh-ttl': { type: 'string', default: String(14 * 24 * 60 * 60) },
    device: { type: 'boolean', default: false },
    'device-ttl': { type: 'string', default: '600' },
    'resource-server': { type: 'string', multiple: true, default: [] },
    'require-par': { type: 'boolean', default: false },
    mtls: { type: 'string' },
    'dpop-nonce': { type: 'boolean', default: false },
  },
});
const RESOURCE_SERVERS = args['resource-server'];

const PORT = Number(args.port) || 0;
const ACCESS_TTL = Number(args['access-ttl']);
const REFRESH_TTL = Number(args['refresh-ttl']);
const DEVICE_TTL = Number(args['device-ttl']);
const DEVICE = args.device;

for (const [name, v] of [['--port', PORT], ['--access-ttl', ACCESS_TTL], ['--refresh-ttl', REFRESH_TTL]]) {
  if (!Number.isInteger(v) || v < 0) {
    console.error(`invalid ${name}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------
// In-memory adapter we can enumerate (so /__test/forget-grants can wipe state).
// ---------------------------------------------------------------------------
const stores = new Map(); // model name -> Map(id -> { payload, expiresAt })
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function storeFor(model) {
  let s = stores.get(model);
  if (!s) {
    s = new Map();
    stores.set(model, s);
  }
  return s;
}

class TestAdapter {
  constructor(model) {
    this.model = model;
    this.store = storeFor(model);
  }

  get(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload, expiresAt });
  }

  async find(id) {
    return this.get(id);
  }

  async findByUid(uid) {
    for (const [id, entry] of this.store) {
      if (entry.payload.uid === uid) return this.get(id);
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, entry] of this.store) {
      if (entry.payload.userCode === userCode) return this.get(id);
    }
    return undefined;
  }

  async consume(id) {
    const payload = this.get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const model of GRANTABLE) {
      const s = stores.get(model);
      if (!s) continue;
      for (const [id, entry] of s) {
        if (entry.payload.grantId === grantId) s.delete(id);
      }
    }
  }
}

function forgetGrants() {
  for (const model of ['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode',
    'ClientCredentials', 'DeviceCode', 'BackchannelAuthenticationRequest']) {
    stores.get(model)?.clear();
  }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------
const REDIRECT_URIS = ['http://127.0.0.1/callback'];
const ALL_SCOPES = 'openid offline_access profile email api:read api:write';

const clients = [
  {
    client_id: 'conf-basic',
    client_secret: 'conf-basic-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    scope: ALL_SCOPES,
  },
  {
    client_id: 'conf-post',
    client_secret: 'conf-post-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    scope: ALL_SCOPES,
  },
  {
    // RFC 7523 client_secret_jwt: an HS256 assertion signed with the secret.
    client_id: 'conf-jwt',
    client_secret: 'conf-jwt-secret-0123456789abcdefghijklmnop',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_jwt',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    scope: ALL_SCOPES,
  },
  {
    client_id: 'public-pkce',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    scope: ALL_SCOPES,
  },
];

const MTLS_DIR = args.mtls;
// The certificate the client presented on the TLS port (none on the plain one).
function peerCertificate(ctx) {
  const peer = ctx.req.socket.getPeerCertificate?.();
  return peer?.raw ? new crypto.X509Certificate(peer.raw) : undefined;
}
if (MTLS_DIR) {
  clients.push({
    client_id: 'mtls-ca',
    application_type: 'native',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=latch-mtls-client',
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials',
      ...(DEVICE ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    scope: ALL_SCOPES,
  });
}

if (DEVICE) {
  clients.push({
    client_id: 'device-public',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    scope: ALL_SCOPES,
  });
}

function displayName(id) {
  const s = String(id);
  return `${s.charAt(0).toUpperCase()}${s.slice(1)} Example`;
}

// A fixed RSA key for signing ID tokens, made once for these tests and used
// nowhere else. Generating one at every start cost time and could deadlock
// Node 20 (a garbage collection during the key's JWK export, seen in CI).
const signingKey = JSON.parse(readFileSync(new URL('./signing-key.json', import.meta.url), 'utf8'));

const ownToken = (ctx, client, token) => token.clientId === client.clientId;

const configuration = {
  adapter: TestAdapter,
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  scopes: ALL_SCOPES.split(' '),
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: displayName(id), email: `${id}@example.test` };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true, allowedPolicy: ownToken },
    // Any authenticated client may introspect any token: tests check tokens
    // issued to public clients (which cannot authenticate) with conf-basic.
    introspection: { enabled: true, allowedPolicy: () => true },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    deviceFlow: { enabled: DEVICE },
    // RFC 7591 open dynamic registration (no initial access token), and
    // RFC 7592 management of a registration with its registration access token.
    dPoP: {
      enabled: true,
      // Nonces need a secret to make them: only with --dpop-nonce, which requires them.
      nonceSecret: args['dpop-nonce'] ? crypto.randomBytes(32) : undefined,
      requireNonce: () => args['dpop-nonce'],
    },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: args['require-par'] },
    mTLS: {
      enabled: Boolean(MTLS_DIR),
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: peerCertificate,
      // tls_client_auth: issued by the test CA and current.
      certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
      certificateSubjectMatches(ctx, property, expected) {
        const cert = peerCertificate(ctx);
        return property === 'tls_client_auth_subject_dn' && cert?.subject.split('\n').join(',') === expected;
      },
    },
    registration: { enabled: true, initialAccessToken: false },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    resourceIndicators: {
      enabled: true,
      // A refresh without `resource` keeps the audience it was granted.
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (!RESOURCE_SERVERS.includes(resourceIndicator)) {
          throw new errors.InvalidTarget(`${resourceIndicator} is not a resource server here`);
        }
        return { scope: 'api:read api:write', audience: resourceIndicator, accessTokenTTL: ACCESS_TTL, accessTokenFormat: 'opaque' };
      },
    },
  },
  pkce: {
    required: (ctx, client) => client.clientAuthMethod === 'none',
  },
  // The defaults, and with --mtls the two certificate methods (RFC 8705 §2).
  clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt',
    ...(MTLS_DIR ? ['tls_client_auth', 'self_signed_tls_client_auth'] : [])],
  clientBasedCORS: () => true,
  // Always hand out a refresh token when the client may use the grant, with or
  // without offline_access, and never tie tokens to the browser session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: ACCESS_TTL,
    ClientCredentials: ACCESS_TTL,
    RefreshToken: REFRESH_TTL,
    AuthorizationCode: 600,
    DeviceCode: DEVICE_TTL,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 60 * 60,
    Grant: Math.max(REFRESH_TTL, 14 * 24 * 60 * 60),
  },
};

// ---------------------------------------------------------------------------
// Helpers for the node:http front
// ---------------------------------------------------------------------------
const stats = {
  token_requests: 0, by_grant: {}, revocations: 0, registrations: 0, registration_deletes: 0, pushed_requests: 0,
  dpop_proofs: 0, dpop_nonce_challenges: 0, refreshes_by_grant: {}, refreshed_at_by_grant: {}, invalid_grants: 0, grants_revoked: 0,
};

async function readRaw(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function grantTypeOf(req, raw) {
  const cty = String(req.headers['content-type'] || '').toLowerCase();
  const text = raw.toString('utf8');
  try {
    if (cty.includes('application/json')) return JSON.parse(text).grant_type || '(none)';
    return new URLSearchParams(text).get('grant_type') || '(none)';
  } catch {
    return '(unparseable)';
  }
}

async function isActiveToken(provider, value) {
  if (!value) return false;
  const at = await provider.AccessToken.find(value).catch(() => undefined);
  if (at && at.isValid) return true;
  const cc = await provider.ClientCredentials.find(value).catch(() => undefined);
  return Boolean(cc && cc.isValid);
}


// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------
let provider;
let providerCallback;
let holdTokenResponsesMs = 0;
let tokenPath;
let revocationPath;
let registrationPath;
let parPath;

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');

    if (url.pathname === '/__test/stats' && req.method === 'GET') {
      sendJson(res, 200, stats);
      return;
    }
    if (url.pathname === '/__test/forget-grants' && req.method === 'POST') {
      await readRaw(req);
      forgetGrants();
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/__test/hold-token-responses' && req.method === 'POST') {
      await readRaw(req);
      holdTokenResponsesMs = Math.max(0, Number(url.searchParams.get('ms')) || 0);
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/__test/forget-clients' && req.method === 'POST') {
      // A server reset: every client registered at /reg is gone (the
      // static clients above stay).
      await readRaw(req);
      stores.get('Client')?.clear();
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/api/echo') {
      const echo = await echoResponse(req, url, await readRaw(req), (token) => isActiveToken(provider, token));
      sendJson(res, echo.status, echo.body, echo.headers);
      return;
    }

    if (req.method === 'POST' && url.pathname === tokenPath) {
      // Count at arrival, before any validation. oidc-provider falls back to
      // req.body when the stream has already been consumed.
      const raw = await readRaw(req);
      req.body = raw.toString('utf8');
      stats.token_requests += 1;
      const gt = grantTypeOf(req, raw);
      stats.by_grant[gt] = (stats.by_grant[gt] || 0) + 1;
      if (holdTokenResponsesMs > 0) {
        const end = res.end.bind(res);
        const held = holdTokenResponsesMs;
        res.end = (...args) => {
          setTimeout(() => end(...args), held);
          return res;
        };
      }
    } else if (req.method === 'POST' && url.pathname === revocationPath) {
      stats.revocations += 1;
    } else if (req.method === 'POST' && url.pathname === parPath) {
      stats.pushed_requests += 1;
    } else if (req.method === 'POST' && url.pathname === registrationPath) {
      stats.registrations += 1;
    } else if (req.method === 'DELETE' && url.pathname.startsWith(`${registrationPath}/`)) {
      stats.registration_deletes += 1;
    }

    if (req.method === 'POST' && (url.pathname === tokenPath || url.pathname === parPath)) {
      if (req.headers.dpop) stats.dpop_proofs += 1;
      // Count the server's "use this nonce" answers (RFC 9449 §8).
      const writeHead = res.writeHead.bind(res);
      res.writeHead = (status, ...rest) => {
        if (status === 400 && res.getHeader('dpop-nonce')) stats.dpop_nonce_challenges += 1;
        return writeHead(status, ...rest);
      };
    }

    providerCallback(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err?.message || err) });
    else res.destroy();
  }
});

// ---------------------------------------------------------------------------
// The mutual-TLS front (--mtls): the same server behind TLS that asks for a
// client certificate, and an API that takes only certificate-bound tokens.
// ---------------------------------------------------------------------------
if (MTLS_DIR) {
  const https = await import('node:https');
  const file = (name) => readFileSync(`${MTLS_DIR}/${name}`);
  let hooked = false;
  const mtlsServer = https.createServer(
    { key: file('server-key.pem'), cert: file('server.pem'), ca: file('ca.pem'), requestCert: true, rejectUnauthorized: false },
    async (req, res) => {
      if (!hooked) {
        hooked = true;
        // Any client authentication besides the certificate, whatever the route.
        provider.on('grant.success', (ctx) => {
          const params = ctx.oidc.params || {};
          if (params.client_secret || params.client_assertion || /^basic /i.test(ctx.get('authorization'))) stats.client_secrets_seen += 1;
        });
      }
      const url = new URL(req.url, 'https://127.0.0.1');
      const peer = req.socket.getPeerCertificate();
      if (url.pathname === '/api/bound') {
        await boundApi(req, res, peer);
        return;
      }
      if (req.method === 'POST' && url.pathname === tokenPath && peer?.raw) stats.mtls_token_requests += 1;
      server.emit('request', req, res);
    },
  );
  await new Promise((resolve) => { mtlsServer.listen(0, '127.0.0.1', resolve); });
  const origin = `https://127.0.0.1:${mtlsServer.address().port}`;
  configuration.discovery = {
    mtls_endpoint_aliases: {
      token_endpoint: `${origin}/token`,
      revocation_endpoint: `${origin}/token/revocation`,
      pushed_authorization_request_endpoint: `${origin}/request`,
      device_authorization_endpoint: `${origin}/device/auth`,
      userinfo_endpoint: `${origin}/me`,
    },
  };
  Object.assign(stats, { mtls_token_requests: 0, bound_accepted: 0, bound_refused: 0, client_secrets_seen: 0 });
  process.on('exit', () => mtlsServer.close());
}

// RFC 8705 §3: a bound token is good only with the certificate it names.
async function boundApi(req, res, peer) {
  const token = /^bearer (.+)$/i.exec(String(req.headers.authorization || ''))?.[1];
  const found = token && ((await provider.AccessToken.find(token).catch(() => undefined))
    || (await provider.ClientCredentials.find(token).catch(() => undefined)));
  const presented = peer?.raw ? crypto.hash('sha256', peer.raw, 'base64url') : undefined;
  if (!found?.isValid) {
    stats.bound_refused += 1;
    sendJson(res, 401, { error: 'invalid_token', error_description: 'the token is not active' });
  } else if (!found['x5t#S256'] || found['x5t#S256'] !== presented) {
    stats.bound_refused += 1;
    sendJson(res, 401, { error: 'invalid_token', error_description: 'the token is bound to another client certificate' },
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  } else {
    stats.bound_accepted += 1;
    sendJson(res, 200, { ok: true, client_id: found.clientId, 'x5t#S256': presented });
  }
}

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  // For the team tests (one refresh per due token across machines): the
  // successful refresh grants per grant (one grant per sign-in), and the
  // refused ones. Reuse detection is oidc-provider's own: a rotated-out
  // refresh token sent again is answered invalid_grant and its grant revoked.
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type !== 'refresh_token') return;
    const grantId = ctx.oidc.entities.Grant?.jti ?? '(unknown)';
    stats.refreshes_by_grant[grantId] = (stats.refreshes_by_grant[grantId] || 0) + 1;
    (stats.refreshed_at_by_grant[grantId] ??= []).push(Date.now());
  });
  provider.on('grant.error', (ctx, err) => {
    if (err?.error === 'invalid_grant') stats.invalid_grants += 1;
  });
  provider.on('grant.revoked', () => { stats.grants_revoked += 1; });
  providerCallback = provider.callback();
  tokenPath = new URL(provider.urlFor('token')).pathname;
  revocationPath = new URL(provider.urlFor('revocation')).pathname;
  registrationPath = new URL(provider.urlFor('registration')).pathname;
  parPath = new URL(provider.urlFor('pushed_authorization_request')).pathname;
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
