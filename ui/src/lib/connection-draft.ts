import type { OAuth2ConnectionDraft, OAuth2Draft, SecretInput } from "$lib/ipc";

/**
 * The form's draft as the engine takes it: the name and settings as typed, with what to do about the client
 * secret. The engine tidies the rest itself (blank addresses, blank key–value rows, blank resource lines).
 */
export function draftForSending(draft: OAuth2Draft, clientSecret: SecretInput): OAuth2ConnectionDraft {
  return { ...draft, client_secret: clientSecret };
}
