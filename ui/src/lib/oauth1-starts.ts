import type { OAuth1Settings } from "$lib/ipc";

/**
 * Services that speak OAuth 1.0a, as the "Add connection" list offers them: where each one's three addresses are.
 * Kept here rather than in the engine's preset list because they only fill in the OAuth 1.0a form's addresses;
 * `verified` is false while no test runs a sign-in against the service itself.
 */
export type OAuth1Start = {
  id: string;
  name: string;
  /** What the service is, in a few words, for the picker. */
  about: string;
  verified: boolean;
  /** Where the user registers an app and finds the consumer key. */
  register_url: string | null;
  settings: Partial<OAuth1Settings>;
};

export const OAUTH1_STARTS: OAuth1Start[] = [
  {
    id: "trello",
    name: "Trello",
    about: "OAuth 1.0a · trello.com",
    verified: false,
    register_url: "https://trello.com/power-ups/admin",
    settings: {
      request_token_url: "https://trello.com/1/OAuthGetRequestToken",
      authorize_url: "https://trello.com/1/OAuthAuthorizeToken",
      access_token_url: "https://trello.com/1/OAuthGetAccessToken",
      info_url: "https://api.trello.com/1/members/me",
    },
  },
];

/** Signature methods in the user's words; the RFC name is the help text. */
export const SIGNATURE_METHODS: { value: OAuth1Settings["signature_method"]; label: string }[] = [
  { value: "hmac_sha1", label: "HMAC-SHA1 (the usual one)" },
  { value: "hmac_sha256", label: "HMAC-SHA256" },
  { value: "rsa_sha1", label: "RSA-SHA1 (with a private key)" },
  { value: "rsa_sha256", label: "RSA-SHA256 (with a private key)" },
  { value: "plaintext", label: "PLAINTEXT (no signature)" },
];

/** The signature method as the detail names it. */
export function signatureMethodWords(method: OAuth1Settings["signature_method"]): string {
  return SIGNATURE_METHODS.find((m) => m.value === method)?.label.replace(/ \(.*\)$/, "") ?? method;
}

export function usesPrivateKey(method: OAuth1Settings["signature_method"]): boolean {
  return method === "rsa_sha1" || method === "rsa_sha256";
}
