#!/usr/bin/env node
// The token endpoint both sides of the refresh benchmark call: it answers
// every refresh_token grant at once with a new access and refresh token
// (an hour's lifetime), so the client's own work is what differs.
//
//   node token-server.mjs      -> prints {"base":"http://127.0.0.1:PORT"} once listening
import * as http from 'node:http';
import * as crypto from 'node:crypto';

let served = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__bench/served') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ served }));
    return;
  }
  if (req.method !== 'POST' || !req.url.startsWith('/token')) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (form.get('grant_type') !== 'refresh_token' || !form.get('refresh_token')) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request' }));
      return;
    }
    served += 1;
    const body = JSON.stringify({
      access_token: crypto.randomBytes(24).toString('base64url'),
      refresh_token: crypto.randomBytes(24).toString('base64url'),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'api',
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ base: `http://127.0.0.1:${server.address().port}` }) + '\n');
});
