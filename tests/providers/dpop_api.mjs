#!/usr/bin/env node
// An API that takes only DPoP-bound access tokens (RFC 9449 §7), for Latch's
// end-to-end tests: the token is checked at its authorization server's
// introspection (oidc.mjs), the proof with `jose`.
//
//   node dpop_api.mjs [--port N] [--require-nonce]
//
// stdout carries one line of JSON once it listens:
//   {"base":"http://127.0.0.1:PORT","port":PORT,"resource":"http://127.0.0.1:PORT/api/v1"}
//
// Before use, the test names the authorization server and the confidential
// client it introspects with: POST /__test/config
//   {"issuer": "...", "client_id": "...", "client_secret": "..."}
//
// /api/v1/... answers 200 {"ok": true, "sub", "aud", "jkt", "method", "path"}
// only for `Authorization: DPoP T` with a `DPoP` proof where
// - T is active at the issuer's /token/introspection, its audience (when it
//   has one) is the resource, and it is bound: `cnf.jkt` is set;
// - the proof is a JWT with `typ: dpop+jwt`, signed (ES256/EdDSA) by the key
//   in its header's `jwk`, whose RFC 7638 thumbprint is `cnf.jkt`;
// - `htm` is the request's method, `htu` its URL without query and fragment,
//   `iat` within 60 s of now, `jti` present and not seen before, and `ath` the
//   base64url SHA-256 of T;
// - with --require-nonce, `nonce` is the one this server gave: a proof
//   without it (or with an old one) gets 401 with
//   `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` header.
// Anything else gets 401 `WWW-Authenticate: DPoP error="invalid_token"` (or
// `invalid_dpop_proof`) and the reason in the body; a bound token sent as
// `Bearer` is refused the same way.
//
// It announces itself with RFC 9728 metadata at
// /.well-known/oauth-protected-resource/api/v1: {"resource": RESOURCE,
// "authorization_servers": [issuer], "scopes_supported": ["api:read"],
// "dpop_bound_access_tokens_required": true}, so `latch add --from` finds
// its authorization server and that it takes only bound tokens.
//
// GET /__test/stats: {"api_ok": N, "api_refused": N, "nonce_challenges": N,
// "refusals": {reason: N}}.

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'require-nonce': { type: 'boolean', default: false },
  },
});

const API_PATH = '/api/v1';
const IAT_WINDOW = 60;
const config = {};
const stats = { api_ok: 0, api_refused: 0, nonce_challenges: 0, refusals: {} };
const seenJti = new Set();
let nonce = crypto.randomBytes(16).toString('base64url');
let BASE;
let RESOURCE;

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readRaw(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function introspect(token) {
  const basic = Buffer.from(`${config.client_id}:${config.client_secret}`).toString('base64');
  const answer = await fetch(`${config.issuer}/token/introspection`, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return answer.ok ? answer.json() : { active: false };
}

class Refusal extends Error {
  constructor(error, reason) {
    super(reason);
    this.error = error;
  }
}

/** Checks the request; returns what the API tells about the caller. */
async function check(req, url) {
  const authz = req.headers.authorization || '';
  const match = /^(\S+)\s+(\S+)$/.exec(authz);
  if (!match) throw new Refusal('invalid_token', 'no token');
  const [, scheme, token] = match;
  const seen = await introspect(token);
  if (!seen.active) throw new Refusal('invalid_token', 'token not active');
  if (seen.aud && seen.aud !== RESOURCE && !(Array.isArray(seen.aud) && seen.aud.includes(RESOURCE))) {
    throw new Refusal('invalid_token', 'token for another audience');
  }
  const jkt = seen.cnf?.jkt;
  if (!jkt) throw new Refusal('invalid_token', 'token not bound (no cnf.jkt)');
  if (scheme.toLowerCase() !== 'dpop') throw new Refusal('invalid_token', `bound token sent as ${scheme}`);

  const proof = req.headers.dpop;
  if (typeof proof !== 'string' || !proof) throw new Refusal('invalid_dpop_proof', 'no proof');
  let verified;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519'] });
  } catch (err) {
    throw new Refusal('invalid_dpop_proof', `signature: ${err.code || err.message}`);
  }
  const { payload, protectedHeader } = verified;
  if ((await calculateJwkThumbprint(protectedHeader.jwk, 'sha256')) !== jkt) {
    throw new Refusal('invalid_dpop_proof', 'key is not the one the token is bound to');
  }
  if ('d' in protectedHeader.jwk) throw new Refusal('invalid_dpop_proof', 'private key in the header');
  if (payload.htm !== req.method) throw new Refusal('invalid_dpop_proof', 'htm mismatch');
  const htu = new URL(`${BASE}${url.pathname}`).href;
  if (payload.htu !== htu) throw new Refusal('invalid_dpop_proof', `htu mismatch (${payload.htu} vs ${htu})`);
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > IAT_WINDOW) {
    throw new Refusal('invalid_dpop_proof', 'iat out of window');
  }
  if (typeof payload.jti !== 'string' || !payload.jti) throw new Refusal('invalid_dpop_proof', 'no jti');
  if (seenJti.has(payload.jti)) throw new Refusal('invalid_dpop_proof', 'replayed jti');
  seenJti.add(payload.jti);
  if (payload.ath !== crypto.createHash('sha256').update(token).digest('base64url')) {
    throw new Refusal('invalid_dpop_proof', 'ath mismatch');
  }
  if (args['require-nonce'] && payload.nonce !== nonce) throw new Refusal('use_dpop_nonce', 'nonce required');
  return { sub: seen.sub, aud: seen.aud, jkt };
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = await readRaw(req);
    if (url.pathname === '/__test/stats') return sendJson(res, 200, stats);
    if (url.pathname === '/__test/config' && req.method === 'POST') {
      Object.assign(config, JSON.parse(body.toString('utf8')));
      return sendJson(res, 200, { ok: true });
    }
    if (url.pathname === '/__test/new-nonce' && req.method === 'POST') {
      nonce = crypto.randomBytes(16).toString('base64url');
      return sendJson(res, 200, { ok: true });
    }
    if (url.pathname === `/.well-known/oauth-protected-resource${API_PATH}` && req.method === 'GET') {
      return sendJson(res, 200, {
        resource: RESOURCE,
        authorization_servers: [config.issuer],
        scopes_supported: ['api:read'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
        dpop_bound_access_tokens_required: true,
      });
    }
    if (url.pathname !== API_PATH && !url.pathname.startsWith(`${API_PATH}/`)) {
      return sendJson(res, 404, { error: 'not_found' });
    }
    try {
      const caller = await check(req, url);
      stats.api_ok += 1;
      const headers = args['require-nonce'] ? { 'DPoP-Nonce': nonce } : {};
      return sendJson(res, 200, { ok: true, ...caller, method: req.method, path: url.pathname, body: body.toString('utf8') }, headers);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      stats.api_refused += 1;
      stats.refusals[err.message] = (stats.refusals[err.message] || 0) + 1;
      const headers = { 'WWW-Authenticate': `DPoP error="${err.error}", algs="ES256 EdDSA"` };
      if (err.error === 'use_dpop_nonce') {
        stats.nonce_challenges += 1;
        headers['DPoP-Nonce'] = nonce;
      }
      return sendJson(res, 401, { error: err.error, reason: err.message }, headers);
    }
  } catch (err) {
    console.error(err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.destroy();
  }
});

server.listen(Number(args.port) || 0, '127.0.0.1', () => {
  const { port } = server.address();
  BASE = `http://127.0.0.1:${port}`;
  RESOURCE = `${BASE}${API_PATH}`;
  process.stdout.write(`${JSON.stringify({ base: BASE, port, resource: RESOURCE })}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
