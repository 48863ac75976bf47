// Test-only: connections as the Rust side would send them.
import type { ConnectionDto } from "$lib/ipc";
import { mockIPC } from "@tauri-apps/api/mocks";
import { newConnectionSpec } from "$lib/connection-draft";

export function connectionDto(overrides: Partial<ConnectionDto> = {}): ConnectionDto {
  return {
    ...newConnectionSpec(),
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
    retry_at: null,
    created_at: "2025-01-01T00:00:00Z",
    updated_at: "2025-01-01T00:00:00Z",
    provider_host: "accounts.google.com",
    redirect_uri: "http://127.0.0.1/callback",
    missing_scopes: [],
    ...overrides,
  };
}


type Handler = (args: Record<string, unknown>) => unknown;

/** Fakes the Rust side: each command answers with its handler; any other command fails the test loudly. */
export function mockBackend(handlers: Record<string, Handler>) {
  const calls: { command: string; args: Record<string, unknown> }[] = [];
  mockIPC(
    (command, args) => {
      const payload = (args ?? {}) as Record<string, unknown>;
      calls.push({ command, args: payload });
      const handler = handlers[command];
      if (!handler) throw { code: "internal", message: `No mock for ${command}`, fields: [], details: null };
      return handler(payload);
    },
    { shouldMockEvents: true },
  );
  return {
    calls,
    called: (command: string) => calls.filter((call) => call.command === command),
    lastArgs: (command: string) => calls.filter((call) => call.command === command).pop()?.args,
  };
}
