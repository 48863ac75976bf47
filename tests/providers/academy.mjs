#!/usr/bin/env node
// A local stand-in for Make's App Academy API v2 (a deliberately non-standard
// OAuth 2.0 API), for Latch tests (node:http only). Behaviour follows the
// published documentation (shared/seeds/004):
//
//   node academy.mjs [--port N] [--access-minutes N] [--refresh-minutes N]
//
// stdout carries exactly one line of JSON once the server listens:
//   {"base":"http://127.0.0.1:PORT","port":PORT}
//
// * GET  /authorize?scope&client_id&redirect_uri&response_type=code&state[&account=jane|john]
//        The user "picks an account" (Jane Doe unless account=john) and is sent
//        straight back: 302 redirect_uri?code&state. `connect` scope required.
// * POST /token    JSON body only: code, client_id, client_secret, grant_type, redirect_uri
// * POST /refresh  JSON body only: client_id, client_secret, grant_type, refresh_token
//        Both answer {access_token, expires_in, refresh_token, refresh_expires_in},
//        expiries in MINUTES, no token_type. Refresh tokens rotate.
// * GET  /info        bearer → {"id": "...", "user": "Jane Doe"} (no scope needed)
// * GET  /invalidate  bearer → 204; the connection is gone
// * any  /api/...     bearer; GET needs `read`, POST/PUT/PATCH `write`, DELETE `delete`
//        (403 {"message":"Missing scope."}); 200 {"method","path","user"}
// * GET  /oauth/cb/app  the "hosted" redirect page (like https://www.make.com/oauth/cb/app)
// * GET  /__test/stats
//
// One client: academy-client / academy-secret. Redirect URIs allowed: this
// server's /oauth/cb/app, and http://127.0.0.1:ANY/callback or /oauth/cb/app.
// Each user has one active connection: a new one removes the old one.

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'access-minutes': { type: 'string', default: '5' },
    'refresh-minutes': { type: 'string', default: '60' },
  },
});
const PORT = Number(args.port) || 0;
const ACCESS_MINUTES = Number(args['access-minutes']);
const REFRESH_MINUTES = Number(args['refresh-minutes']);
const CLIENT_ID = 'academy-client';
const CLIENT_SECRET = 'academy-secret';
const USERS = {
  jane: { id: 'd1b03e513fbc5881651d6c149fd259506f975ae1', user: 'Jane Doe' },
  john: { id: '5a1f0e2c1b7d4a2e9c3f8b6d0e4a7c9b1d3f5e7a', user: 'John Doe' },
};

let base = '';
const codes = new Map(); // code -> { user, scope, redirect_uri, used }
const connections = new Map(); // user -> { access, accessExpires, refresh, refreshExpires, scope }
const stats = { token_requests: 0, refresh_requests: 0, invalidations: 0, last_content_type: null, rejected_non_json: 0 };

const rand = () => crypto.randomBytes(24).toString('base64url');
const minutes = (n) => n * 60 * 1000;

function send(res, status, body = '', headers = {}) {
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res, status, obj) {
  send(res, status, JSON.stringify(obj), { 'Content-Type': 'application/json; charset=utf-8' });
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function allowedRedirect(uri) {
  if (uri === `${base}/oauth/cb/app`) return true;
  try {
    const u = new URL(uri);
    // Latch's loopback redirect: its OAuth 2.0 form's path, or a spec's (Make's).
    return u.protocol === 'http:' && u.hostname === '127.0.0.1' && ['/callback', '/oauth/cb/app'].includes(u.pathname) && !u.search;
  } catch {
    return false;
  }
}

function connectionOf(req) {
  const auth = String(req.headers.authorization || '');
  const m = /^Bearer (.+)$/.exec(auth);
  if (!m) return null;
  for (const [user, c] of connections) {
    if (c.access === m[1] && c.accessExpires > Date.now()) return { user, ...c };
  }
  return null;
}

function issue(user, scope) {
  const c = {
    access: rand(),
    accessExpires: Date.now() + minutes(ACCESS_MINUTES),
    refresh: rand(),
    refreshExpires: Date.now() + minutes(REFRESH_MINUTES),
    scope,
  };
  // One active connection per user: the new one replaces the old one.
  connections.set(user, c);
  return { access_token: c.access, expires_in: ACCESS_MINUTES, refresh_token: c.refresh, refresh_expires_in: REFRESH_MINUTES };
}

async function jsonBody(req, res) {
  stats.last_content_type = String(req.headers['content-type'] || '');
  const text = await readBody(req);
  if (!/^application\/json\b/i.test(stats.last_content_type)) {
    stats.rejected_non_json += 1;
    sendJson(res, 400, { message: 'Bad Request: the body must be JSON.' });
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    sendJson(res, 400, { message: 'Bad Request: the body is not valid JSON.' });
    return null;
  }
}

function clientOk(body, res) {
  if (body.client_id !== CLIENT_ID || body.client_secret !== CLIENT_SECRET) {
    sendJson(res, 401, { error: 'invalid_client', message: 'Invalid client credentials.' });
    return false;
  }
  return true;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const path = url.pathname;
  try {
    if (req.method === 'GET' && path === '/authorize') {
      const q = url.searchParams;
      const redirect = q.get('redirect_uri') || '';
      if (q.get('client_id') !== CLIENT_ID || !allowedRedirect(redirect)) {
        return send(res, 400, 'Unknown client or redirect URI.', { 'Content-Type': 'text/plain' });
      }
      const back = new URL(redirect);
      if (q.get('state')) back.searchParams.set('state', q.get('state'));
      const scopes = (q.get('scope') || '').split(/[ ,]+/).filter(Boolean);
      if (q.get('response_type') !== 'code') {
        back.searchParams.set('error', 'unsupported_response_type');
      } else if (!scopes.includes('connect')) {
        back.searchParams.set('error', 'invalid_scope');
        back.searchParams.set('error.message', 'The connect scope is required.');
      } else {
        const code = rand();
        const user = q.get('account') === 'john' ? 'john' : 'jane';
        codes.set(code, { user, scope: scopes, redirect_uri: redirect, used: false });
        back.searchParams.set('code', code);
      }
      return send(res, 302, '', { Location: back.href });
    }
    if (req.method === 'POST' && path === '/token') {
      stats.token_requests += 1;
      const body = await jsonBody(req, res);
      if (!body || !clientOk(body, res)) return;
      const grant = codes.get(body.code);
      if (body.grant_type !== 'authorization_code' || !grant || grant.used || grant.redirect_uri !== body.redirect_uri) {
        return sendJson(res, 400, { error: 'invalid_grant', message: 'Invalid code or redirect URI.' });
      }
      grant.used = true;
      return sendJson(res, 200, issue(grant.user, grant.scope));
    }
    if (req.method === 'POST' && path === '/refresh') {
      stats.refresh_requests += 1;
      const body = await jsonBody(req, res);
      if (!body || !clientOk(body, res)) return;
      const found = [...connections].find(([, c]) => c.refresh === body.refresh_token);
      if (body.grant_type !== 'refresh_token' || !found || found[1].refreshExpires <= Date.now()) {
        return sendJson(res, 400, { error: 'invalid_grant', message: 'The refresh token is invalid or expired.' });
      }
      return sendJson(res, 200, issue(found[0], found[1].scope));
    }
    if (req.method === 'GET' && path === '/oauth/cb/app') {
      return send(res, 200, '<!doctype html><title>Connected</title><p>Copy this page\'s address into Latch.</p>', {
        'Content-Type': 'text/html; charset=utf-8',
      });
    }
    if (req.method === 'GET' && path === '/__test/stats') {
      return sendJson(res, 200, { ...stats, active_connections: connections.size });
    }
    await readBody(req);
    const c = connectionOf(req);
    if (req.method === 'GET' && path === '/info') {
      if (!c) return sendJson(res, 401, { message: 'Not Authorized.' });
      return sendJson(res, 200, USERS[c.user]);
    }
    if (req.method === 'GET' && path === '/invalidate') {
      if (!c) return sendJson(res, 401, { message: 'Not Authorized.' });
      connections.delete(c.user);
      stats.invalidations += 1;
      return send(res, 204);
    }
    if (path.startsWith('/api/')) {
      if (!c) return sendJson(res, 401, { message: 'Not Authorized.' });
      const needed = { GET: 'read', POST: 'write', PUT: 'write', PATCH: 'write', DELETE: 'delete' }[req.method];
      if (!needed || !c.scope.includes(needed)) return sendJson(res, 403, { message: 'Missing scope.' });
      return sendJson(res, 200, { method: req.method, path, user: USERS[c.user].user });
    }
    return sendJson(res, 404, { message: 'Not Found.' });
  } catch (err) {
    return sendJson(res, 500, { message: String(err) });
  }
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ base, port })}\n`);
});

const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
