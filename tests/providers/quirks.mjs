#!/usr/bin/env node
// A deliberately misbehaving OAuth 2.0 provider for Latch tests (node:http only).
//
//   node quirks.mjs [--port N]
//
// stdout carries exactly one line of JSON once the server listens:
//   {"base":"http://127.0.0.1:PORT","port":PORT}
// All state is in memory. See README.md for the endpoints and quirks.

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { echoResponse } from './echo.mjs';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const PORT = Number(args.port) || 0;

const QUIRKS = new Set([
  'ok', 'string-expires', 'no-token-type', 'comma-scope', 'form', 'no-refresh-on-refresh',
  'html-502', 'hang', 'invalid-grant', 'error-200', 'minutes', 'flaky-503', 'json-only',
  'slow-3s', 'echo-secret', 'nested-tokens', 'huge-expires', 'short',
]);

// --- state -------------------------------------------------------------------
const codes = new Map(); // code -> { client_id, redirect_uri, scope, code_challenge, code_challenge_method, used }
const refreshTokens = new Map(); // token -> { client_id, scope, used, revoked }
const accessTokens = new Map(); // token -> { client_id, scope, expiresAt, revoked }
const flakyCounts = new Map(); // quirk path -> refresh requests seen
const deviceCodes = new Map(); // device_code -> { client_id, scope, polls }
const stats = {
  refresh_times: [], // ms since the epoch of every refresh_token request, oldest first
  device_polls: [], // ms since the epoch of every device_code token request, oldest first
  token_requests: {},
  total: 0,
  by_grant: {},
  revocations: 0,
  last_token_request: null,
};
const hanging = new Set();

const rand = () => crypto.randomBytes(24).toString('base64url');

// --- helpers -----------------------------------------------------------------
async function readRaw(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : body;
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}

function oauthError(res, status, error, description, headers = {}) {
  sendJson(res, status, { error, error_description: description }, headers);
}

function isJson(req) {
  return /^application\/json\b/i.test(String(req.headers['content-type'] || '').trim());
}

function parseBody(req, raw) {
  if (isJson(req)) {
    try {
      const obj = JSON.parse(raw || '{}');
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, v == null ? v : String(v)]));
      }
    } catch {
      // fall through
    }
    return null;
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function basicAuth(req) {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^\s*Basic\s+(\S+)\s*$/i.exec(h);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return { id: decodeURIComponent(decoded), secret: undefined };
  // RFC 6749 §2.3.1: form-urlencoded before base64; tolerate raw values too.
  const dec = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };
  return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
}

function authScheme(req) {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^\s*(\S+)/.exec(h);
  return m ? m[1] : null;
}

function verifyPkce(record, verifier) {
  if (!record.code_challenge) return true;
  if (typeof verifier !== 'string' || !verifier) return false;
  const method = record.code_challenge_method || 'plain';
  if (method === 'S256') {
    return crypto.createHash('sha256').update(verifier).digest('base64url') === record.code_challenge;
  }
  if (method === 'plain') return verifier === record.code_challenge;
  return false;
}

function issueAccess(clientId, scope, ttlSeconds) {
  const token = rand();
  accessTokens.set(token, { client_id: clientId, scope, expiresAt: Date.now() + ttlSeconds * 1000, revoked: false });
  return token;
}

function issueRefresh(clientId, scope) {
  const token = rand();
  refreshTokens.set(token, { client_id: clientId, scope, used: false, revoked: false });
  return token;
}

function isActive(token) {
  const t = accessTokens.get(token);
  return Boolean(t && !t.revoked && t.expiresAt > Date.now());
}

// --- token endpoint ------------------------------------------------------------
async function handleToken(req, res, quirk) {
  const raw = await readRaw(req);
  const body = parseBody(req, raw) || {};
  const grantType = body.grant_type || '(none)';

  stats.total += 1;
  stats.token_requests[quirk] = (stats.token_requests[quirk] || 0) + 1;
  stats.by_grant[grantType] = (stats.by_grant[grantType] || 0) + 1;
  if (grantType === 'refresh_token') stats.refresh_times.push(Date.now());
  stats.last_token_request = {
    quirk,
    content_type: req.headers['content-type'] ?? null,
    body_keys: Object.keys(body),
    authorization: authScheme(req),
  };

  switch (quirk) {
    case 'hang':
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return; // never answer
    case 'html-502':
      send(res, 502, '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n'
        + '<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n',
      { 'Content-Type': 'text/html; charset=utf-8' });
      return;
    case 'invalid-grant':
      oauthError(res, 400, 'invalid_grant', 'The refresh token is invalid or expired.');
      return;
    case 'slow-3s':
      // Answers like 'ok', three seconds late: races with other verbs.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      break;
    case 'echo-secret':
      // A careless provider: echoes the refresh token it refuses, and sends
      // tokens nested where an error body should be.
      if (grantType === 'refresh_token') {
        oauthError(res, 400, 'invalid_grant', `refresh token ${body.refresh_token} is revoked`);
        return;
      }
      break;
    case 'nested-tokens':
      if (grantType === 'refresh_token') {
        sendJson(res, 200, { data: { accessToken: `at-nested-${rand()}`, refreshToken: `rt-nested-${rand()}` } });
        return;
      }
      break;
    case 'error-200':
      oauthError(res, 200, 'bad_verification_code', 'The code passed is incorrect or expired.');
      return;
    case 'flaky-503': {
      if (grantType !== 'refresh_token') break;
      const n = (flakyCounts.get(quirk) || 0) + 1;
      flakyCounts.set(quirk, n);
      if (n <= 2) {
        send(res, 503, 'Service Unavailable', { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
        return;
      }
      break;
    }
    case 'json-only':
      if (!isJson(req)) {
        oauthError(res, 400, 'invalid_request', 'JSON body required');
        return;
      }
      break;
    default:
      break;
  }

  if (parseBody(req, raw) === null) {
    oauthError(res, 400, 'invalid_request', 'Malformed request body');
    return;
  }

  // Client authentication (secrets are not validated, except the magic wrong one).
  const basic = basicAuth(req);
  const clientId = basic?.id || body.client_id;
  const clientSecret = basic?.secret ?? body.client_secret;
  if (clientSecret === 'wrong-secret') {
    oauthError(res, 401, 'invalid_client', 'Client authentication failed.',
      basic ? { 'WWW-Authenticate': 'Basic realm="quirks"' } : {});
    return;
  }
  if (!clientId) {
    oauthError(res, 401, 'invalid_client', 'Client authentication failed (no client_id).');
    return;
  }

  let scope = '';
  let withRefresh = true;

  if (grantType === 'authorization_code') {
    const record = codes.get(body.code);
    if (!record || record.used) {
      oauthError(res, 400, 'invalid_grant', 'The authorization code is invalid, expired or already used.');
      return;
    }
    if (record.client_id !== clientId) {
      oauthError(res, 400, 'invalid_grant', 'The authorization code was issued to another client.');
      return;
    }
    if (body.redirect_uri !== record.redirect_uri) {
      oauthError(res, 400, 'invalid_grant', 'The redirect_uri does not match the one used in the authorization request.');
      return;
    }
    if (!verifyPkce(record, body.code_verifier)) {
      oauthError(res, 400, 'invalid_grant', 'PKCE verification failed.');
      return;
    }
    record.used = true;
    scope = record.scope;
  } else if (grantType === 'refresh_token') {
    const record = refreshTokens.get(body.refresh_token);
    if (!record || record.used || record.revoked) {
      oauthError(res, 400, 'invalid_grant', 'The refresh token is invalid, expired, revoked or already used.');
      return;
    }
    scope = record.scope;
    if (quirk === 'no-refresh-on-refresh') {
      withRefresh = false; // old refresh token stays valid
    } else {
      record.used = true; // rotation
    }
  } else if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') {
    // The first poll is told to slow down (RFC 8628 §3.5); the next succeeds,
    // as if the user had entered the code in between.
    const record = deviceCodes.get(body.device_code);
    if (!record || record.client_id !== clientId) {
      oauthError(res, 400, 'invalid_grant', 'Unknown device code.');
      return;
    }
    stats.device_polls.push(Date.now());
    record.polls += 1;
    if (record.polls === 1) {
      oauthError(res, 400, 'slow_down', 'Polling too fast.');
      return;
    }
    deviceCodes.delete(body.device_code);
    scope = record.scope;
  } else if (grantType === 'client_credentials') {
    scope = body.scope || '';
    withRefresh = false;
  } else {
    oauthError(res, 400, 'unsupported_grant_type', `Unsupported grant_type ${grantType}.`);
    return;
  }

  const scopes = scope.split(/[\s,]+/).filter(Boolean);
  // flaky-503 hands out 6-second tokens so that a refresher meets the 503s at
  // once; short does so for tokens that run out during a test.
  const sixSeconds = quirk === 'flaky-503' || quirk === 'short';
  const expiresIn = quirk === 'minutes' ? 5 : sixSeconds ? 6 : 3600;
  const accessTtl = quirk === 'minutes' ? 5 * 60 : sixSeconds ? 6 : 3600;
  const accessToken = issueAccess(clientId, scopes.join(' '), accessTtl);
  const refreshToken = withRefresh ? issueRefresh(clientId, scopes.join(' ')) : undefined;

  if (quirk === 'form') {
    const p = new URLSearchParams();
    p.set('access_token', accessToken);
    p.set('token_type', 'bearer');
    p.set('scope', scopes.join(' '));
    p.set('expires_in', '3600');
    if (refreshToken) p.set('refresh_token', refreshToken);
    send(res, 200, p.toString(), { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
    return;
  }

  const out = { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn };
  if (refreshToken) out.refresh_token = refreshToken;
  if (scopes.length) out.scope = scopes.join(' ');

  switch (quirk) {
    case 'string-expires':
      out.expires_in = String(expiresIn);
      out.token_type = 'bearer';
      break;
    case 'no-token-type':
      delete out.token_type;
      break;
    case 'comma-scope':
      if (scopes.length) out.scope = scopes.join(',');
      break;
    case 'minutes':
      if (refreshToken) out.refresh_expires_in = 60;
      break;
    case 'huge-expires':
      // Lifetimes no clock can hold, and "inf".
      out.expires_in = 9000000000000;
      if (refreshToken) out.refresh_expires_in = 'inf';
      break;
    default:
      break;
  }
  sendJson(res, 200, out);
}

// --- other endpoints -------------------------------------------------------------
function handleAuthorize(req, res, url) {
  const q = url.searchParams;
  const redirectUri = q.get('redirect_uri');
  if (!redirectUri || !URL.canParse(redirectUri)) {
    send(res, 400, 'missing or invalid redirect_uri\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    return;
  }
  if (q.get('response_type') !== 'code') {
    send(res, 400, 'response_type must be code\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    return;
  }
  const code = rand();
  codes.set(code, {
    client_id: q.get('client_id'),
    redirect_uri: redirectUri,
    scope: q.get('scope') || '',
    code_challenge: q.get('code_challenge') || undefined,
    code_challenge_method: q.get('code_challenge_method') || undefined,
    used: false,
  });
  const target = new URL(redirectUri);
  target.searchParams.set('code', code);
  if (q.has('state')) target.searchParams.set('state', q.get('state'));
  res.writeHead(302, { Location: target.href, 'Content-Length': 0 });
  res.end();
}

function handleImplicit(req, res, url) {
  const q = url.searchParams;
  const redirectUri = q.get('redirect_uri');
  if (q.get('response_type') !== 'token') {
    send(res, 400, 'response_type must be token\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    return;
  }
  if (!redirectUri || !URL.canParse(redirectUri)) {
    send(res, 400, 'missing or invalid redirect_uri\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    return;
  }
  const scope = (q.get('scope') || '').split(/\s+/).filter(Boolean).join(' ');
  const token = issueAccess(q.get('client_id'), scope, 3600);
  let fragment = `access_token=${encodeURIComponent(token)}&token_type=bearer&expires_in=3600`
    + `&scope=${encodeURIComponent(scope)}`;
  if (q.has('state')) fragment += `&state=${encodeURIComponent(q.get('state'))}`;
  const target = new URL(redirectUri);
  target.hash = '';
  res.writeHead(302, { Location: `${target.href}#${fragment}`, 'Content-Length': 0 });
  res.end();
}

async function handleRevoke(req, res) {
  const raw = await readRaw(req);
  const body = parseBody(req, raw) || {};
  stats.revocations += 1;
  const { token } = body;
  if (!token) {
    oauthError(res, 400, 'invalid_request', 'token parameter required');
    return;
  }
  const at = accessTokens.get(token);
  if (at) at.revoked = true;
  const rt = refreshTokens.get(token);
  if (rt) rt.revoked = true;
  send(res, 200);
}


// --- /escape/*: hostile text ---------------------------------------------------------
// An OSC sequence that retitles the terminal window, a colour change and a
// right-to-left override, in every place a provider's words reach the user.
const HOSTILE = 'Bad \u001b]0;pwned\u0007request \u001b[31mred\u001b[0m \u202eevil';

async function handleEscape(req, res, path) {
  const raw = await readRaw(req);
  switch (`${req.method} ${path}`) {
    case 'POST /escape/token': // an RFC 6749 error whose description is hostile
      return oauthError(res, 400, 'invalid_request', HOSTILE);
    case 'POST /escape/token-text': // a non-JSON error body, raw escape bytes and all
      return send(res, 400, `${HOSTILE}\r\nsecond line \u001b[2J\n`, { 'Content-Type': 'text/plain; charset=utf-8' });
    case 'POST /escape/device': { // a device authorization with a hostile user code; poll /token/ok
      const body = parseBody(req, raw) || {};
      const deviceCode = rand();
      deviceCodes.set(deviceCode, { client_id: body.client_id, scope: body.scope || '', polls: 0 });
      return sendJson(res, 200, {
        device_code: deviceCode,
        user_code: `CODE-\u001b]0;pwned\u0007\u001b[31m-\u202eX`,
        verification_uri: `http://127.0.0.1:${server.address().port}/device`,
        expires_in: 60,
        interval: 1,
      });
    }
    case 'GET /escape/me': // an info (userinfo) answer with a hostile account name
      return sendJson(res, 200, { sub: 'eve', name: `Eve ${HOSTILE}` });
    default:
      return send(res, 404, 'not found\n', { 'Content-Type': 'text/plain; charset=utf-8' });
  }
}

// --- server --------------------------------------------------------------------------
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;

    if (req.method === 'GET' && path === '/authorize') return handleAuthorize(req, res, url);
    if (req.method === 'GET' && path === '/implicit/authorize') return handleImplicit(req, res, url);
    if (path.startsWith('/token/')) {
      const quirk = decodeURIComponent(path.slice('/token/'.length));
      if (!QUIRKS.has(quirk)) {
        await readRaw(req);
        return oauthError(res, 404, 'not_found', `unknown quirk ${quirk}`);
      }
      if (req.method !== 'POST') {
        await readRaw(req);
        return oauthError(res, 405, 'invalid_request', 'POST required', { Allow: 'POST' });
      }
      return await handleToken(req, res, quirk);
    }
    if (req.method === 'POST' && path === '/revoke') return await handleRevoke(req, res);
    // `/device/authorize/file-uri`: a hostile provider whose verification
    // page is a local file (`file:///etc/passwd`), which Latch must not open.
    if (req.method === 'POST' && (path === '/device/authorize' || path === '/device/authorize/file-uri')) {
      const body = parseBody(req, await readRaw(req)) || {};
      const deviceCode = rand();
      deviceCodes.set(deviceCode, { client_id: body.client_id, scope: body.scope || '', polls: 0 });
      const hostile = path.endsWith('/file-uri');
      return sendJson(res, 200, {
        device_code: deviceCode,
        user_code: 'QUIRK-CODE',
        verification_uri: hostile ? 'file:///etc/passwd' : `http://127.0.0.1:${server.address().port}/device`,
        ...(hostile ? { verification_uri_complete: 'file:///etc/passwd?user_code=QUIRK-CODE' } : {}),
        expires_in: 60,
        interval: 1,
      });
    }
    if (req.method === 'GET' && path === '/__test/stats') return sendJson(res, 200, stats);
    if (path === '/api/echo') {
      const echo = await echoResponse(req, url, await readRaw(req), isActive);
      return sendJson(res, echo.status, echo.body, echo.headers);
    }
    // --- /escape/*: terminal escapes and bidi overrides in everything a
    // provider says (tests/e2e/quoting.rs) ---------------------------------------
    if (path.startsWith('/escape/')) return await handleEscape(req, res, path);

    await readRaw(req);
    send(res, 404, 'not found\n', { 'Content-Type': 'text/plain; charset=utf-8' });
  } catch (err) {
    console.error(err);
    if (!res.headersSent) oauthError(res, 500, 'server_error', String(err?.message || err));
    else res.destroy();
  }
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ base: `http://127.0.0.1:${port}`, port })}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
