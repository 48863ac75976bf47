// Test-only: what the Rust side would send.
import type {
  Draft,
  OAuth1ConnectionDto,
  OAuth1Settings,
  OAuth2ConnectionDto,
  OAuth2Settings,
  OAuth2Template,
  PresetDto,
  SpecConnectionDto,
  SpecDocument,
  SpecOpenedDto,
  TeamDto,
} from "$lib/ipc";
import { mockIPC } from "@tauri-apps/api/mocks";

/** The engine's defaults for a new OAuth 2.0 connection, as `connection_template` sends them. */
export function oauth2Defaults(): OAuth2Settings {
  return {
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
    resource: [],
    par_url: null,
    par: false,
    dpop: false,
    client_certificate: null,
    mtls_endpoint_aliases: null,
    api_base_url: null,
    allowed_hosts: [],
    forward_caller_auth: false,
  };
}

/** `connection_template("oauth2")`: the defaults, and each flow's required and unused fields (as the engine has them). */
export function template(): OAuth2Template {
  return {
    draft: { name: "", kind: "oauth2", ...oauth2Defaults() },
    flows: [
      { flow: "authorization_code", required: ["authorize_url", "token_url"], unused: ["device_url"] },
      { flow: "implicit", required: ["authorize_url"], unused: ["token_url", "device_url"] },
      {
        flow: "client_credentials",
        required: ["token_url"],
        unused: ["authorize_url", "device_url", "redirect_port", "redirect_path", "redirect_uri_override"],
      },
      {
        flow: "device_code",
        required: ["token_url", "device_url"],
        unused: ["authorize_url", "redirect_port", "redirect_path", "redirect_uri_override"],
      },
    ],
  };
}

export function connectionDto(overrides: Partial<OAuth2ConnectionDto> = {}): OAuth2ConnectionDto {
  const dto: OAuth2ConnectionDto = {
    ...oauth2Defaults(),
    name: "Google Drive",
    authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    scopes: ["openid", "email"],
    client_id: "client-123",
    id: "cn_01",
    kind: "oauth2",
    status: "new",
    access_expires_at: null,
    refresh_expires_at: null,
    access_issued_at: null,
    granted_scopes: null,
    account: null,
    has_client_secret: false,
    has_refresh_token: false,
    last_error: null,
    last_error_details: null,
    last_error_action: null,
    retry_at: null,
    refresh_due_at: null,
    created_at: "2025-01-01T00:00:00Z",
    updated_at: "2025-01-01T00:00:00Z",
    provider_host: "accounts.google.com",
    redirect_uri: "http://127.0.0.1/callback",
    missing_scopes: [],
    requested_scopes: [],
    can_renew: false,
    team: null,
    ...overrides,
  };
  if (overrides.requested_scopes === undefined) dto.requested_scopes = dto.scopes;
  // What the engine answers (`Connection::can_renew`), unless a test says otherwise.
  if (overrides.can_renew === undefined) {
    dto.can_renew = dto.has_refresh_token || dto.flow === "client_credentials";
  }
  return dto;
}

/** `connection_draft(id)`: a connection's name, kind and settings, as its edit form starts them. */
export function draftOf(connection: OAuth2ConnectionDto): Draft {
  const settings = Object.fromEntries(
    Object.keys(oauth2Defaults()).map((key) => [key, JSON.parse(JSON.stringify(connection[key as keyof OAuth2Settings]))]),
  ) as OAuth2Settings;
  return { name: connection.name, kind: "oauth2", ...settings };
}

export function presetDto(overrides: Partial<PresetDto> = {}, settings: Partial<OAuth2Settings> = {}): PresetDto {
  return {
    id: "github",
    name: "GitHub",
    register_url: "https://github.com/settings/applications/new",
    docs_url: null,
    client_secret_required: true,
    settings: {
      ...oauth2Defaults(),
      authorize_url: "https://github.com/login/oauth/authorize",
      token_url: "https://github.com/login/oauth/access_token",
      info_url: "https://api.github.com/user",
      client_auth: "basic",
      ...settings,
    },
    redirect_uri: "http://127.0.0.1/callback",
    scopes: [
      { name: "read:user", description: "Read your profile.", default: true, required: false },
      { name: "repo", description: "Read and write your repositories.", default: false, required: false },
    ],
    notes: ["GitHub returns errors with HTTP 200."],
    training: false,
    ...overrides,
  };
}

type Handler = (args: Record<string, unknown>) => unknown;

/**
 * Fakes the Rust side: each command answers with its handler; any other command fails the test loudly.
 * `connection_template` answers with the engine's template, and `connection_usage` with no uses, unless a test
 * gives its own.
 */
export function mockBackend(handlers: Record<string, Handler>) {
  const all: Record<string, Handler> = {
    connection_template: () => template(),
    connection_usage: () => [],
    proxy_state: () => ({ address: null, problem: null }),
    teams_list: () => [],
    ...handlers,
  };
  const calls: { command: string; args: Record<string, unknown> }[] = [];
  mockIPC(
    (command, args) => {
      const payload = (args ?? {}) as Record<string, unknown>;
      calls.push({ command, args: payload });
      const handler = all[command];
      if (!handler) throw { code: "internal", message: `No mock for ${command}`, fields: [], details: null };
      // A copy, as IPC delivers: every answer is a new object, never one a test (or an earlier answer) holds.
      return Promise.resolve(handler(payload)).then((answer) =>
        answer === undefined ? answer : (JSON.parse(JSON.stringify(answer)) as unknown),
      );
    },
    { shouldMockEvents: true },
  );
  return {
    calls,
    called: (command: string) => calls.filter((call) => call.command === command),
    lastArgs: (command: string) => calls.filter((call) => call.command === command).pop()?.args,
  };
}

/** A joined team as `teams_list` sends it: its store answering, unless a test says otherwise. */
export function teamDto(overrides: Partial<TeamDto> = {}): TeamDto {
  return {
    name: "sales",
    addr: "https://bao.example:8200",
    mount: "secret",
    path: "teams/sales",
    ca_file: null,
    joined_at: "2026-11-30T09:00:00Z",
    last_synced_at: "2026-11-30T10:40:00Z",
    unreachable_since: null,
    reason: null,
    sign_in_method: "token",
    sign_in_mount: null,
    sign_in_user: null,
    ...overrides,
  };
}

/** A spec as `spec_open_*` sends it: its parameters of every type, scopes and common keys (values taken out). */
export function specDocument(overrides: Partial<SpecDocument> = {}): SpecDocument {
  return {
    name: "Company CRM",
    communication: {
      authorize: { url: "https://crm.example.com/authorize" },
      token: { url: "https://crm.example.com/token" },
      refresh: { url: "https://crm.example.com/token" },
    },
    parameters: [
      { name: "tenant", type: "text", label: "Tenant", help: "Your company's name at the CRM.", required: true },
      { name: "apiKey", type: "password", label: "API key", required: true },
      { name: "email", type: "email", label: "E-mail" },
      { name: "site", type: "url", label: "Site address" },
      { name: "limit", type: "uinteger", label: "Page size", default: 50 },
      { name: "sandbox", type: "boolean", label: "Use the sandbox", default: false },
      {
        name: "region",
        type: "select",
        label: "Region",
        options: [
          { label: "Europe", value: "eu" },
          { label: "United States", value: "us" },
        ],
        default: "eu",
      },
      { name: "tags", type: "array", label: "Tags", advanced: true },
      { name: "extra", type: "collection", label: "Extra headers", advanced: true },
    ],
    defaultScope: ["read"],
    scopeList: { read: "Read your records", write: "Change your records" },
    common: { clientId: null, clientSecret: null },
    base: { baseUrl: "https://crm.example.com/api" },
    ...overrides,
  };
}

export function specOpened(overrides: Partial<SpecOpenedDto> = {}): SpecOpenedDto {
  return {
    source: { kind: "text", text: "{}" },
    document: specDocument(),
    problems: [],
    secret_hosts: [],
    common: [
      { key: "clientId", shipped: false, secret: false, hint: "client id from the CRM e-mail" },
      { key: "clientSecret", shipped: false, secret: true, hint: null },
    ],
    redirect_uri: "http://127.0.0.1/oauth/cb/app",
    ...overrides,
  };
}

/** A connection made from `specDocument()`. */
export function specConnectionDto(overrides: Partial<SpecConnectionDto> = {}): SpecConnectionDto {
  const base = connectionDto({ id: "cn_spec", name: "Company CRM" });
  const { flow: _f, pkce: _p, ...common } = base;
  void _f;
  void _p;
  const rest = Object.fromEntries(
    Object.entries(common).filter(([key]) => !(key in oauth2Defaults()) || key === "scopes" || key === "redirect_port" || key === "redirect_uri_override"),
  );
  return {
    ...(rest as Omit<SpecConnectionDto, "kind" | "spec" | "parameters">),
    kind: "spec",
    spec: specDocument(),
    parameters: { tenant: "acme", region: "eu", sandbox: true },
    scopes: [],
    requested_scopes: ["read"],
    redirect_uri_override: null,
    redirect_port: 0,
    api_base_url: null,
    allowed_hosts: [],
    forward_caller_auth: false,
    provider_host: "crm.example.com",
    redirect_uri: "http://127.0.0.1/oauth/cb/app",
    can_renew: true,
    ...overrides,
  } as SpecConnectionDto;
}

/** `OAuth1Settings::default()`: what `connection_template("oauth1")` starts a form from. */
export function oauth1Defaults(): OAuth1Settings {
  return {
    request_token_url: null,
    authorize_url: null,
    access_token_url: null,
    consumer_key: "",
    signature_method: "hmac_sha1",
    transport: "header",
    body_hash: false,
    callback: "loopback",
    redirect_port: 0,
    info_url: null,
    revoke_url: null,
    request_token_params: [],
    authorize_params: [],
    access_token_params: [],
    api_base_url: null,
    allowed_hosts: [],
    forward_caller_auth: false,
  };
}

/** An OAuth 1.0a connection as `connections_list` sends it. */
export function oauth1ConnectionDto(overrides: Partial<OAuth1ConnectionDto> = {}): OAuth1ConnectionDto {
  const base = connectionDto({ id: "cn_o1", name: "Photos" });
  const rest = Object.fromEntries(Object.entries(base).filter(([key]) => !(key in oauth2Defaults())));
  return {
    ...(rest as Omit<OAuth1ConnectionDto, "kind" | keyof OAuth1Settings>),
    ...oauth1Defaults(),
    kind: "oauth1",
    request_token_url: "https://photos.example.net/request_token",
    authorize_url: "https://photos.example.net/authorize",
    access_token_url: "https://photos.example.net/access_token",
    consumer_key: "dpf43f3p2l4k3l03",
    provider_host: "photos.example.net",
    redirect_uri: "http://127.0.0.1/callback",
    requested_scopes: [],
    has_client_secret: true,
    can_renew: false,
    ...overrides,
  } as OAuth1ConnectionDto;
}
