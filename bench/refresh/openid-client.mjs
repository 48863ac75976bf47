#!/usr/bin/env node
// The openid-client side of the refresh benchmark: N refresh-token grants,
// at most 16 at a time (as Latch's refresher), against token-server.mjs.
// Prints one line of JSON: {"refreshes", "cpu_ms", "wall_ms"}; CPU is this
// process's user + system time for the refreshes alone.
//
//   node openid-client.mjs BASE_URL [N]
import * as client from 'openid-client';

const [base, n = '1000'] = process.argv.slice(2);
const count = Number(n);
const config = new client.Configuration(
  { issuer: base, token_endpoint: `${base}/token` },
  'bench-client',
  undefined,
  client.None(),
);
client.allowInsecureRequests(config);

// Warm-up outside the measurement: module loading and JIT of the first call.
await client.refreshTokenGrant(config, 'warm-up');

const refreshTokens = Array.from({ length: count }, (_, i) => `rt-${i}`);
const cpu = process.cpuUsage();
const started = performance.now();
let next = 0;
let done = 0;
async function worker() {
  while (next < refreshTokens.length) {
    const token = refreshTokens[next++];
    const tokens = await client.refreshTokenGrant(config, token);
    if (!tokens.access_token) throw new Error('no access token');
    done += 1;
  }
}
await Promise.all(Array.from({ length: 16 }, worker));
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({
  refreshes: done,
  cpu_ms: (used.user + used.system) / 1000,
  wall_ms: performance.now() - started,
}) + '\n');
