import type { ConnectionDto } from "$lib/ipc";
import { durationInWords } from "./relative-time";

/** How the badge is coloured; the text always says the same thing in words. */
export type BadgeTone = "good" | "warning" | "danger" | "busy" | "neutral";

export type Badge = { text: string; tone: BadgeTone };

/** Within this window the badge counts down instead of saying "Connected". */
export const EXPIRY_WARNING_MS = 15 * 60_000;

type BadgeInput = Pick<ConnectionDto, "status" | "access_expires_at"> & { retry_at?: string | null };

/**
 * Whether the badge's words can change with the time alone: a retry is pending, or a token with an expiry
 * counts down. Only such badges follow the clock, so a list of badges that cannot change wakes nothing up.
 */
export function changesWithTime(connection: BadgeInput): boolean {
  return retryPending(connection) !== null || (connection.status === "connected" && !!connection.access_expires_at);
}

/**
 * When a refresh that failed for a passing reason is tried again by itself, or null: the badge says when,
 * rather than "Error", unless only the user can fix it.
 */
function retryPending(connection: BadgeInput): string | null {
  const userMustAct = connection.status === "needs_reauth" || connection.status === "new";
  return connection.retry_at && !userMustAct ? connection.retry_at : null;
}

export function statusBadge(connection: BadgeInput, now: number): Badge {
  const retryAt = retryPending(connection);
  if (retryAt) {
    const wait = Date.parse(retryAt) - now;
    if (wait > 0) return { text: `Retrying in ${durationInWords(wait)}`, tone: "warning" };
  }
  switch (connection.status) {
    case "connected": {
      if (connection.access_expires_at) {
        const left = Date.parse(connection.access_expires_at) - now;
        if (left <= 0) return { text: "Expired", tone: "danger" };
        if (left <= EXPIRY_WARNING_MS) return { text: `Expires in ${durationInWords(left)}`, tone: "warning" };
      }
      return { text: "Connected", tone: "good" };
    }
    case "refreshing":
      return { text: "Refreshing", tone: "busy" };
    case "needs_reauth":
      return { text: "Needs sign-in", tone: "warning" };
    case "error":
      return { text: "Error", tone: "danger" };
    case "new":
      return { text: "Not connected", tone: "neutral" };
    default:
      return { text: "Unknown", tone: "neutral" };
  }
}
