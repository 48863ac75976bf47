import type { Action, ConnectionDto } from "$lib/ipc";
import { atClock, relativeTime } from "./relative-time";
import { canRenew, retryPending, statusBadge, type Badge } from "./status-badge";

/** The detail's one main button: the most useful next step for the connection as it stands. */
export type PrimaryAction = "sign_in" | "sign_in_again" | "refresh" | "test_request";

/**
 * Where a connection stands, said once: the badge, a sentence or two in plain words, the main button, and
 * whether the last error recorded still explains the present state (an old "check your network" beside
 * "Needs sign-in" does not).
 */
export type ConnectionState = {
  badge: Badge;
  /**
   * The state in a sentence: "Renews automatically · last renewed 3 min ago". Where the last error still
   * applies and says it better (a sign-in needed, a connection broken), the detail shows that instead.
   */
  summary: string;
  /** The last error is the best summary: it says what is wrong now, in the engine's words. */
  errorIsSummary: boolean;
  /** What follows from it, when something does: when the sign-in runs out, what the service did not grant. */
  notes: string[];
  /** The access token's expiry, for a connection that has one. */
  expiry: string | null;
  primary: PrimaryAction;
  /** Latch tries again by itself at this time: "Refresh now" is the retry. */
  retryAt: string | null;
  lastErrorApplies: boolean;
};

/** The scope that asks the provider for a refresh token (OpenID Connect); people know it as staying signed in. */
const OFFLINE_ACCESS = "offline_access";

/** Actions about a passing failure: once only a sign-in helps, they no longer apply. */
const PASSING: Action["action"][] = ["check_network", "retry_later"];

/** Whether the connection ever held tokens (a disconnected one is back to never). */
export function hadTokens(connection: ConnectionDto): boolean {
  return connection.access_issued_at !== null || connection.has_refresh_token;
}

/**
 * The scopes to show as granted and as refused. A refresh token is what `offline_access` asks for: when the
 * service gave one, the scope was granted in effect, even if the service left it out of its list.
 */
export function shownScopes(connection: ConnectionDto): { granted: string[] | null; missing: string[] } {
  if (connection.granted_scopes === null) return { granted: null, missing: [] };
  const inEffect = (scope: string) => scope === OFFLINE_ACCESS && connection.has_refresh_token;
  return {
    granted: [...connection.granted_scopes, ...connection.missing_scopes.filter(inEffect)],
    missing: connection.missing_scopes.filter((scope) => !inEffect(scope)),
  };
}

/** Whether offline access was asked for and the service said it did not grant it. */
function offlineAccessRefused(connection: ConnectionDto): boolean {
  return shownScopes(connection).missing.includes(OFFLINE_ACCESS);
}

function expiryLine(connection: ConnectionDto, now: number): string | null {
  if (!connection.access_expires_at) return null;
  const left = Date.parse(connection.access_expires_at) - now;
  const when = relativeTime(connection.access_expires_at, now);
  if (when === "just now") return left > 0 ? "Access token expires now." : "Access token expired just now.";
  return left > 0 ? `Access token expires ${when}.` : `Access token expired ${when}.`;
}

/** "3 min ago", or "just now" within the first minute ("less than a minute ago" says no more, in more words). */
function agoInWords(iso: string, now: number): string {
  return now - Date.parse(iso) < 60_000 ? "just now" : relativeTime(iso, now);
}

/** Why there is no renewing, in plain words, and when the user has to step in. */
function noRenewalSummary(connection: ConnectionDto, now: number): string {
  const expires = connection.access_expires_at;
  return expires
    ? `This service gave no refresh token: Latch cannot renew the sign-in; you will need to sign in again when it expires ${atClock(expires, now)}.`
    : "This service gave no refresh token and did not say when the sign-in expires: Latch cannot renew it; sign in again when it stops working.";
}

/** What Latch asked for and did not get, when that is why it cannot renew. */
function offlineAccessNotes(connection: ConnectionDto): string[] {
  return offlineAccessRefused(connection)
    ? ["Latch asked the service to let it stay signed in (offline access), but the service did not allow it."]
    : [];
}

/** A note that the current token still works, when it does for a while yet. */
function stillWorks(connection: ConnectionDto, now: number, until?: string): string[] {
  const expires = connection.access_expires_at;
  if (!expires || Date.parse(expires) - now < 60_000) return [];
  if (until && Date.parse(until) < Date.parse(expires)) return ["The current access token still works until then."];
  return [`The current access token still works until it expires ${atClock(expires, now)}.`];
}

export function connectionState(connection: ConnectionDto, now: number): ConnectionState {
  const badge = statusBadge(connection, now);
  const expiry = hadTokens(connection) ? expiryLine(connection, now) : null;
  const expired = !!connection.access_expires_at && Date.parse(connection.access_expires_at) <= now;
  const state = { badge, expiry, notes: [] as string[], retryAt: null, lastErrorApplies: false, errorIsSummary: false };
  const pendingRetry = retryPending(connection);
  const retryAt = pendingRetry && Date.parse(pendingRetry) > now ? pendingRetry : null;

  if (retryAt) {
    return {
      ...state,
      summary: `Renewing the sign-in did not work. Latch tries again ${atClock(retryAt, now)} — or refresh now.`,
      notes: stillWorks(connection, now, retryAt),
      primary: "refresh",
      retryAt,
      lastErrorApplies: connection.last_error !== null,
    };
  }

  switch (connection.status) {
    case "new":
      return {
        ...state,
        summary: "Not connected. Sign in to let Latch keep this connection working.",
        primary: "sign_in",
        lastErrorApplies: connection.last_error !== null,
        errorIsSummary: connection.last_error !== null,
      };
    case "needs_reauth": {
      const action = connection.last_error_action?.action;
      const applies = connection.last_error !== null && !(action && PASSING.includes(action));
      return {
        ...state,
        summary: "Latch can no longer renew this sign-in. Sign in again to keep using it.",
        notes: stillWorks(connection, now),
        primary: "sign_in_again",
        lastErrorApplies: applies,
        errorIsSummary: applies,
      };
    }
    case "error":
      return {
        ...state,
        summary: hadTokens(connection)
          ? "This connection is not working. The message below says why."
          : "Signing in did not work. The message below says why.",
        primary: hadTokens(connection) && canRenew(connection) ? "refresh" : hadTokens(connection) ? "sign_in_again" : "sign_in",
        lastErrorApplies: connection.last_error !== null,
        errorIsSummary: connection.last_error !== null,
      };
    case "refreshing":
      return { ...state, summary: "Latch is renewing the sign-in…", primary: "test_request" };
    case "connected":
    default: {
      // OAuth 1.0a (RFC 5849): the token has no expiry and nothing renews it; it works until revoked.
      if (connection.kind === "oauth1") return { ...state, summary: "The token lasts until you disconnect.", primary: "test_request" };
      if (canRenew(connection)) {
        const renewed = connection.access_issued_at ? ` · last renewed ${agoInWords(connection.access_issued_at, now)}` : "";
        const notes = connection.refresh_expires_at
          ? [
              Date.parse(connection.refresh_expires_at) > now
                ? `The service ends the sign-in itself ${atClock(connection.refresh_expires_at, now)}; sign in again before then.`
                : "The service ended the sign-in; sign in again.",
            ]
          : [];
        return { ...state, summary: `Renews automatically${renewed}`, notes, primary: "test_request" };
      }
      if (expired) {
        return {
          ...state,
          summary: "The sign-in expired, and this service gave no refresh token to renew it. Sign in again to keep using it.",
          notes: offlineAccessNotes(connection),
          primary: "sign_in_again",
        };
      }
      // The summary says when it expires: the expiry line would only say it again.
      return {
        ...state,
        expiry: null,
        summary: noRenewalSummary(connection, now),
        notes: offlineAccessNotes(connection),
        primary: badge.tone === "warning" ? "sign_in_again" : "test_request",
      };
    }
  }
}
