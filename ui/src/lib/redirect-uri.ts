/**
 * The loopback redirect URI to register with the provider (RFC 8252 §7.3).
 * Port 0 means "any free port", so no port appears in the address.
 */
export function redirectUri(port: number, path: string): string {
  return `http://127.0.0.1${port ? ":" + port : ""}${path}`;
}
