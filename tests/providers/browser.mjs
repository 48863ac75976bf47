#!/usr/bin/env node
// Scripted "system browser" for Latch tests. Use as BROWSER=/abs/path/browser.mjs
//
//   browser.mjs <authorization URL>
//
// Environment:
//   LATCH_TEST_BROWSER_LOG   append a step log here (never written to stdout/stderr)
//   LATCH_TEST_BROWSER_MODE  login (default) | login-slow | forge-state | drop-state | deny | ignore
//   LATCH_TEST_BROWSER_DELAY_MS  login-slow: how long to wait before the final hop (default 3000)
//   LATCH_TEST_LOGIN         login name typed into the devInteractions login form (default alice)
//   LATCH_TEST_BROWSER_FINAL_URL_FILE  also write the final hop's full address here (what a
//                            person would copy from the address bar for Latch's paste flow)
//
// Exit status: 0 on success, 1 on any failure (details in the log).

import { appendFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const LOG = process.env.LATCH_TEST_BROWSER_LOG;
const MODE = process.env.LATCH_TEST_BROWSER_MODE || 'login';
const LOGIN = process.env.LATCH_TEST_LOGIN || 'alice';
const DELAY_MS = Number(process.env.LATCH_TEST_BROWSER_DELAY_MS || 3000);
const MAX_HOPS = 40;
const TIMEOUT_MS = 30_000;

function log(...parts) {
  if (!LOG) return;
  try {
    appendFileSync(LOG, `${new Date().toISOString()} [${process.pid}] ${parts.join(' ')}\n`);
  } catch {
    // nowhere else to report
  }
}

// --- cookie jar: host:port -> Map(name -> value) ---------------------------
const jar = new Map();

function storeCookies(url, res) {
  const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
  if (!list.length) return;
  const key = url.host;
  let cookies = jar.get(key);
  if (!cookies) {
    cookies = new Map();
    jar.set(key, cookies);
  }
  for (const line of list) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k, v = ''] = a.split('=');
      const attr = k.trim().toLowerCase();
      if (attr === 'max-age') return Number(v.trim()) <= 0;
      if (attr === 'expires') {
        const t = Date.parse(v.trim());
        return !Number.isNaN(t) && t <= Date.now();
      }
      return false;
    });
    if (expired) cookies.delete(name);
    else cookies.set(name, value);
  }
}

function cookieHeader(url) {
  const cookies = jar.get(url.host);
  if (!cookies || cookies.size === 0) return undefined;
  return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function request(method, url, { body, contentType, origin } = {}) {
  const headers = {
    'User-Agent': 'latch-test-browser/1.0',
    Accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
  };
  const cookie = cookieHeader(url);
  if (cookie) headers.Cookie = cookie;
  if (contentType) headers['Content-Type'] = contentType;
  if (origin) headers.Origin = origin;
  log('->', method, url.href, body !== undefined ? `body=${body}` : '');
  const res = await fetch(url, {
    method,
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  storeCookies(url, res);
  const text = await res.text();
  const location = res.headers.get('location');
  log('<-', res.status, location ? `Location: ${location}` : '', `(${text.length} bytes)`);
  return { status: res.status, location, text };
}

function sameEndpoint(a, b) {
  return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}

function tamperState(url) {
  const fragment = url.hash ? new URLSearchParams(url.hash.slice(1)) : null;
  const target = fragment && (fragment.has('state') || !url.searchParams.has('state')) ? fragment : url.searchParams;
  if (MODE === 'forge-state') {
    target.set('state', randomBytes(16).toString('base64url'));
  } else if (MODE === 'drop-state') {
    target.delete('state');
  }
  if (fragment && target === fragment) url.hash = fragment.toString();
  log('mode', MODE, 'final hop rewritten to', url.href);
}

async function finalHop(url) {
  if (MODE === 'login-slow') {
    log('login-slow: waiting', DELAY_MS, 'ms before the final hop');
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  }
  if (MODE === 'forge-state' || MODE === 'drop-state') tamperState(url);
  if (process.env.LATCH_TEST_BROWSER_FINAL_URL_FILE) {
    writeFileSync(process.env.LATCH_TEST_BROWSER_FINAL_URL_FILE, url.href);
  }
  const fragment = url.hash ? url.hash.slice(1) : '';
  const getUrl = new URL(url.href);
  getUrl.hash = '';
  const res = await request('GET', getUrl);
  log('final hop GET status', res.status);
  if (fragment) {
    const postUrl = new URL(getUrl.pathname, getUrl.origin);
    // A browser's fetch() from the page sends the page's Origin with a POST.
    const post = await request('POST', postUrl, {
      body: fragment,
      contentType: 'application/x-www-form-urlencoded',
      origin: getUrl.origin,
    });
    log('final hop fragment POST status', post.status);
  }
}

function formAction(html, pageUrl) {
  const m = /<form[^>]*\baction="([^"]*)"/i.exec(html);
  const action = m ? m[1].replace(/&amp;/g, '&') : pageUrl.pathname;
  return new URL(action, pageUrl);
}

// --- RFC 8628 device pages (oidc-provider's /device) -------------------------
let userCode = process.env.LATCH_TEST_USER_CODE || null;

// The code-entry and confirmation forms post to .../device: send every hidden
// field, and type the user code into an empty user_code text box.
function deviceFormOf(html, pageUrl) {
  const form = /<form[^>]*\baction="([^"]*\/device)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const fields = new URLSearchParams();
  for (const m of form[2].matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) {
    fields.set(m[1], m[2]);
  }
  if (/<input[^>]*type="text"[^>]*name="user_code"/i.test(form[2])) {
    if (!userCode) throw new Error('device page asks for a user code, but none is known');
    log('device page: typing user code');
    fields.set('user_code', userCode);
  } else {
    log('device page: confirming');
  }
  return {
    method: 'POST',
    url: new URL(form[1].replace(/&amp;/g, '&'), pageUrl),
    body: fields.toString(),
    contentType: 'application/x-www-form-urlencoded',
  };
}

async function main() {
  const start = process.argv[2];
  log('start mode', MODE, 'url', start);
  if (MODE === 'ignore') {
    log('ignoring the URL as requested');
    return 0;
  }
  if (!start) throw new Error('usage: browser.mjs <URL>');

  const startUrl = new URL(start);
  // RFC 8628 verification_uri_complete carries the user code; like a person
  // reading it off the device, type it into the device page instead.
  if (!startUrl.searchParams.has('redirect_uri') && startUrl.searchParams.has('user_code')) {
    userCode = startUrl.searchParams.get('user_code');
    startUrl.searchParams.delete('user_code');
    log('device flow: will type user code into', startUrl.href);
  }
  const redirectParam = startUrl.searchParams.get('redirect_uri');
  const redirectUri = redirectParam ? new URL(redirectParam) : null;
  if (!redirectUri) log('warning: no redirect_uri in the URL; following until a non-redirect page');

  let next = { method: 'GET', url: startUrl };
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (redirectUri && sameEndpoint(next.url, redirectUri) && next.method === 'GET') {
      await finalHop(next.url);
      return 0;
    }

    const res = await request(next.method, next.url, next);
    if (res.status >= 300 && res.status < 400 && res.location) {
      next = { method: 'GET', url: new URL(res.location, next.url) };
      continue;
    }

    const interaction = /^\/interaction\/[^/]+\/?$/.test(next.url.pathname);
    if (res.status === 200 && interaction) {
      const isLogin = /name="prompt"\s+value="login"/.test(res.text);
      const isConsent = /name="prompt"\s+value="consent"/.test(res.text);
      if (isLogin) {
        log('login form: signing in as', LOGIN);
        next = {
          method: 'POST',
          url: formAction(res.text, next.url),
          body: new URLSearchParams({ prompt: 'login', login: LOGIN, password: 'x' }).toString(),
          contentType: 'application/x-www-form-urlencoded',
        };
        continue;
      }
      if (isConsent) {
        if (MODE === 'deny') {
          const abort = new URL(`${next.url.pathname.replace(/\/$/, '')}/abort`, next.url);
          log('consent form: aborting (deny mode)');
          next = { method: 'GET', url: abort };
          continue;
        }
        log('consent form: granting');
        next = {
          method: 'POST',
          url: formAction(res.text, next.url),
          body: 'prompt=consent',
          contentType: 'application/x-www-form-urlencoded',
        };
        continue;
      }
      throw new Error(`unrecognised interaction page at ${next.url.href}`);
    }

    const deviceForm = res.status === 200 ? deviceFormOf(res.text, next.url) : null;
    if (deviceForm) {
      next = deviceForm;
      continue;
    }

    if (!redirectUri && res.status >= 200 && res.status < 300) {
      log('no redirect_uri known; stopping at', next.url.href);
      return 0;
    }
    const snippet = res.text.replace(/\s+/g, ' ').slice(0, 500);
    throw new Error(`unexpected response ${res.status} at ${next.url.href}: ${snippet}`);
  }
  throw new Error(`too many hops (${MAX_HOPS})`);
}

try {
  const code = await main();
  log('done, exit', code);
  process.exit(code);
} catch (err) {
  log('FAILED:', err?.stack || String(err));
  process.exit(1);
}
