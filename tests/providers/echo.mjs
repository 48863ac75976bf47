// The protected test resource `/api/echo`, shared by oidc.mjs and quirks.mjs:
// it reports where a token arrived (header, query, both), the scheme word
// before it, and whether the provider that serves it issued it.

/**
 * Describes the request for the echo response.
 * @param {import('node:http').IncomingMessage} req
 * @param {URL} url
 * @param {string|Buffer} raw the request body as read
 * @param {(token: string) => boolean|Promise<boolean>} isActive whether a token is valid here
 * @returns {Promise<{status: number, body: object, headers: object}>}
 */
export async function echoResponse(req, url, raw, isActive) {
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;

  let scheme = null;
  let headerToken = null;
  const authz = req.headers.authorization;
  if (typeof authz === 'string') {
    const m = /^\s*(\S+)\s+(\S.*?)\s*$/.exec(authz);
    if (m) [, scheme, headerToken] = m;
  }
  const headerActive = headerToken !== null && (await isActive(headerToken));

  let queryParam = null;
  for (const [k, v] of url.searchParams) {
    if (await isActive(v)) {
      queryParam = k;
      break;
    }
  }

  const inHeader = headerToken !== null;
  const inQuery = queryParam !== null;
  const foundIn = inHeader && inQuery ? 'both' : inHeader ? 'header' : inQuery ? 'query' : null;
  const active = headerActive || inQuery;
  const body = {
    method: req.method,
    path: url.pathname,
    query,
    headers,
    body: String(raw),
    token: { found_in: foundIn, scheme, query_param: queryParam, active },
  };
  if (foundIn !== null && !active) {
    return { status: 401, body, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } };
  }
  return { status: 200, body, headers: {} };
}
