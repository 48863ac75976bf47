import type { ConnectionDraft, ConnectionDto, ConnectionSpec, KeyValue } from "$lib/ipc";

/** What a new connection starts with: the safe, standard choices (PKCE S256, space separator, header). */
export function newConnectionSpec(): ConnectionSpec {
  return {
    name: "",
    flow: "authorization_code",
    pkce: "s256",
    authorize_url: null,
    token_url: null,
    refresh_url: null,
    revoke_url: null,
    info_url: null,
    issuer: null,
    scopes: [],
    scope_separator: "space",
    client_id: "",
    client_auth: "none",
    authorize_params: [],
    token_params: [],
    refresh_params: [],
    custom_headers: [],
    token_placement: "header",
    token_name: "Bearer",
    query_param: "access_token",
    redirect_port: 0,
    redirect_path: "/callback",
    token_request_format: "form",
    expires_in_unit: "seconds",
    revoke_style: "rfc7009",
    require_iss: false,
    redirect_uri_override: null,
    device_url: null,
  };
}

/** The editable part of an existing connection, copied so the form never edits the list's object. */
export function specOfConnection(connection: ConnectionDto): ConnectionSpec {
  const copyPairs = (pairs: KeyValue[]) => pairs.map((pair) => ({ ...pair }));
  return {
    name: connection.name,
    flow: connection.flow,
    pkce: connection.pkce,
    authorize_url: connection.authorize_url,
    token_url: connection.token_url,
    refresh_url: connection.refresh_url,
    revoke_url: connection.revoke_url,
    info_url: connection.info_url,
    issuer: connection.issuer,
    scopes: [...connection.scopes],
    scope_separator: connection.scope_separator,
    client_id: connection.client_id,
    client_auth: connection.client_auth,
    authorize_params: copyPairs(connection.authorize_params),
    token_params: copyPairs(connection.token_params),
    refresh_params: copyPairs(connection.refresh_params),
    custom_headers: copyPairs(connection.custom_headers),
    token_placement: connection.token_placement,
    token_name: connection.token_name,
    query_param: connection.query_param,
    redirect_port: connection.redirect_port,
    redirect_path: connection.redirect_path,
    token_request_format: connection.token_request_format,
    expires_in_unit: connection.expires_in_unit,
    revoke_style: connection.revoke_style,
    require_iss: connection.require_iss,
    redirect_uri_override: connection.redirect_uri_override,
    device_url: connection.device_url,
  };
}

const URL_FIELDS = ["authorize_url", "token_url", "refresh_url", "revoke_url", "info_url", "issuer"] as const;

/**
 * The draft as the engine should see it: empty addresses become null, and key–value rows the
 * user added but left completely blank are dropped rather than reported as errors.
 */
export function draftForSending(spec: ConnectionSpec, clientSecret: ConnectionDraft["client_secret"]): ConnectionDraft {
  const keepFilled = (pairs: KeyValue[]) =>
    pairs.filter((pair) => pair.key.trim() !== "" || pair.value.trim() !== "").map((pair) => ({ ...pair }));
  const draft: ConnectionDraft = {
    ...spec,
    scopes: [...spec.scopes],
    authorize_params: keepFilled(spec.authorize_params),
    token_params: keepFilled(spec.token_params),
    refresh_params: keepFilled(spec.refresh_params),
    custom_headers: keepFilled(spec.custom_headers),
    client_secret: clientSecret,
  };
  for (const field of URL_FIELDS) {
    const value = draft[field];
    draft[field] = value === null || value.trim() === "" ? null : value.trim();
  }
  return draft;
}
