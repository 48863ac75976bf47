import type { ConnectionDto } from "$lib/ipc";
import { durationInWords } from "./relative-time";

/**
 * How the badge is coloured; the text always says the same thing in words. Green: working, nothing to do.
 * Amber: needs the user soon. Red: broken until the user acts. Blue: Latch is busy with it. Grey: not connected.
 */
export type BadgeTone = "good" | "warning" | "danger" | "busy" | "neutral";

export type Badge = { text: string; tone: BadgeTone };

/** Within this window a connection that cannot renew counts down instead of saying "Connected". */
export const EXPIRY_WARNING_MS = 15 * 60_000;

export type BadgeInput = Pick<ConnectionDto, "status" | "access_expires_at"> &
  Partial<Pick<ConnectionDto, "retry_at" | "can_renew">>;

/** Whether Latch can get a new access token without the user: the engine says so (`can_renew`). */
export function canRenew(connection: Partial<Pick<ConnectionDto, "can_renew">>): boolean {
  return connection.can_renew === true;
}

/**
 * Whether the badge's words can change with the time alone: a retry is pending, or a token that cannot renew
 * counts down. Only such badges follow the clock, so a list of badges that cannot change wakes nothing up.
 */
export function changesWithTime(connection: BadgeInput): boolean {
  return (
    retryPending(connection) !== null ||
    (connection.status === "connected" && !!connection.access_expires_at && !canRenew(connection))
  );
}

/**
 * When a refresh that failed for a passing reason is tried again by itself, or null: the badge says when,
 * rather than "Error", unless only the user can fix it.
 */
export function retryPending(connection: BadgeInput): string | null {
  const userMustAct = connection.status === "needs_reauth" || connection.status === "new";
  return connection.retry_at && !userMustAct ? connection.retry_at : null;
}

/**
 * The badge for `connection` at `now`. `compact`: for a narrow place such as the list, where a long badge would
 * squeeze the name: "Retrying…" instead of "Retrying in less than a minute" (the detail says when).
 */
export function statusBadge(connection: BadgeInput, now: number, { compact = false } = {}): Badge {
  const retryAt = retryPending(connection);
  if (retryAt) {
    const wait = Date.parse(retryAt) - now;
    if (wait > 0) {
      // Latch is on it. Amber only once the token ran out meanwhile: then it does not work until a retry does.
      const expired = !connection.access_expires_at || Date.parse(connection.access_expires_at) <= now;
      const text = compact ? "Retrying…" : `Retrying in ${durationInWords(wait)}`;
      return { text, tone: expired ? "warning" : "busy" };
    }
  }
  switch (connection.status) {
    case "connected": {
      // A connection that renews itself is fine whatever its token's expiry says.
      if (connection.access_expires_at && !canRenew(connection)) {
        const left = Date.parse(connection.access_expires_at) - now;
        if (left <= 0) return { text: "Expired", tone: "danger" };
        if (left <= EXPIRY_WARNING_MS) return { text: `Expires in ${durationInWords(left)}`, tone: "warning" };
      }
      return { text: "Connected", tone: "good" };
    }
    case "refreshing":
      return { text: "Refreshing", tone: "busy" };
    case "needs_reauth":
      return { text: "Needs sign-in", tone: "danger" };
    case "error":
      return { text: "Error", tone: "danger" };
    case "new":
      return { text: "Not connected", tone: "neutral" };
    default:
      return { text: "Unknown", tone: "neutral" };
  }
}

/**
 * The state a screen reader is told about when it changes ("Connected", "Needs sign-in"): the badge's words for
 * the status alone, without times that change by the minute. Null while Latch is refreshing — a moment that
 * ends where it began, not news.
 */
export function statusWords(connection: Pick<ConnectionDto, "status">): string | null {
  if (connection.status === "refreshing") return null;
  return statusBadge({ status: connection.status, access_expires_at: null }, 0).text;
}
