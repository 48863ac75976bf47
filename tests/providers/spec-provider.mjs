#!/usr/bin/env node
// A provider only a Make-style spec can talk to (node:http only), for
// Latch's spec tests:
//
//   node spec-provider.mjs [--port N] [--access-seconds N]
//
// stdout carries one line of JSON once it listens: {"base":"http://127.0.0.1:PORT"}
//
// * POST /pre        (header x-api-key: the tenant key) → {"verifier","challenge"}:
//                    PKCE material handed out by the server (a `preauthorize` step)
// * GET  /authorize  ?client_id&redirect_uri&state&code_challenge&code_challenge_method=S256
//                    → 302 redirect_uri?code&state (the user always agrees)
// * POST /token      urlencoded, HTTP Basic client auth (spec-client / spec-secret):
//                    grant_type=authorization_code&code&code_verifier&redirect_uri, or
//                    grant_type=refresh_token&refresh_token (rotates; every other refresh
//                    answers without a new one, so the old one must be kept).
//                    Answers as text/plain: {"result":{"token","renew","validUntil"}}
//                    (validUntil in unix seconds); a wrong client gets 401 "bad client",
//                    a bad grant 400 {"error":"invalid_grant"}.
// * GET  /me         bearer → {"email":"ann@example.com","id":"u-1"}
// * POST /logout     bearer → 204, the token is gone
// * GET  /api/...    bearer → {"path","email"}
// * GET  /__test/stats

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, 'access-seconds': { type: 'string', default: '600' } },
});
const ACCESS_SECONDS = Number(args['access-seconds']);
const API_KEY = 'tenant-key-3c1e9a';
const BASIC = 'Basic ' + Buffer.from('spec-client:spec-secret').toString('base64');
const rand = () => crypto.randomBytes(18).toString('base64url');
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

const codes = new Map(); // code -> { challenge, redirect_uri }
const access = new Map(); // token -> expires ms
const refresh = new Set();
const stats = { pre: 0, token_requests: 0, refresh_requests: 0, rotated: 0, invalidations: 0, last_verifier_ok: null };
let refreshCount = 0;

function send(res, status, body = '', headers = {}) {
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}
const json = (res, status, obj, type = 'application/json') => send(res, status, JSON.stringify(obj), { 'Content-Type': type });

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function issue(rotate) {
  const token = 'spec-at-' + rand();
  access.set(token, Date.now() + ACCESS_SECONDS * 1000);
  const result = { token, validUntil: Math.floor(Date.now() / 1000) + ACCESS_SECONDS };
  if (rotate) {
    result.renew = 'spec-rt-' + rand();
    refresh.add(result.renew);
  }
  return { result };
}

function bearer(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  return m && access.has(m[1]) ? m[1] : null;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  try {
    if (req.method === 'POST' && path === '/pre') {
      await readBody(req);
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 403, { message: 'wrong tenant key' });
      stats.pre += 1;
      const verifier = rand() + rand();
      const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
      return json(res, 200, { verifier, challenge });
    }
    if (req.method === 'GET' && path === '/authorize') {
      const q = url.searchParams;
      const back = new URL(q.get('redirect_uri'));
      if (q.get('client_id') !== 'spec-client' || !q.get('state') || q.get('code_challenge_method') !== 'S256') {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = 'spec-code-' + rand();
        codes.set(code, { challenge: q.get('code_challenge'), redirect_uri: q.get('redirect_uri') });
        back.searchParams.set('code', code);
      }
      back.searchParams.set('state', q.get('state') || '');
      return send(res, 302, '', { Location: back.href });
    }
    if (req.method === 'POST' && path === '/token') {
      const form = new URLSearchParams(await readBody(req));
      if (req.headers.authorization !== BASIC) return send(res, 401, 'bad client', { 'Content-Type': 'text/plain' });
      if (form.get('grant_type') === 'authorization_code') {
        stats.token_requests += 1;
        const grant = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        const ok =
          grant &&
          grant.redirect_uri === form.get('redirect_uri') &&
          b64url(crypto.createHash('sha256').update(form.get('code_verifier') || '').digest()) === grant.challenge;
        stats.last_verifier_ok = Boolean(ok);
        if (!ok) return json(res, 400, { error: 'invalid_grant' });
        return json(res, 200, issue(true), 'text/plain');
      }
      if (form.get('grant_type') === 'refresh_token') {
        stats.refresh_requests += 1;
        const old = form.get('refresh_token');
        if (!refresh.has(old)) return json(res, 400, { error: 'invalid_grant' });
        refreshCount += 1;
        const rotate = refreshCount % 2 === 1;
        if (rotate) {
          refresh.delete(old);
          stats.rotated += 1;
        }
        return json(res, 200, issue(rotate), 'text/plain');
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'GET' && path === '/__test/stats') return json(res, 200, stats);
    await readBody(req);
    const token = bearer(req);
    if (req.method === 'GET' && path === '/me') {
      if (!token) return json(res, 401, { message: 'no token' });
      return json(res, 200, { email: 'ann@example.com', id: 'u-1' });
    }
    if (req.method === 'POST' && path === '/logout') {
      if (!token) return json(res, 401, { message: 'no token' });
      access.delete(token);
      stats.invalidations += 1;
      return send(res, 204);
    }
    if (path.startsWith('/api/')) {
      if (!token) return json(res, 401, { message: 'no token' });
      return json(res, 200, { path, email: 'ann@example.com' });
    }
    return json(res, 404, { message: 'Not Found.' });
  } catch (err) {
    return json(res, 500, { message: String(err) });
  }
});

server.listen(Number(args.port) || 0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(JSON.stringify({ base: `http://127.0.0.1:${port}`, port }));
});
