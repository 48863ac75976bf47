import { describe, expect, it } from "vitest";
import { changesWithTime, statusBadge } from "./status-badge";

const now = Date.parse("2025-01-01T12:00:00Z");
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();

describe("statusBadge", () => {
  it("says Connected when the token has more than 15 minutes left", () => {
    expect(statusBadge({ status: "connected", access_expires_at: at(60 * 60_000) }, now)).toEqual({
      text: "Connected",
      tone: "good",
    });
  });
  it("says Connected when the provider gave no expiry", () => {
    expect(statusBadge({ status: "connected", access_expires_at: null }, now).text).toBe("Connected");
  });
  it("counts down when the token expires within 15 minutes", () => {
    expect(statusBadge({ status: "connected", access_expires_at: at(12 * 60_000) }, now)).toEqual({
      text: "Expires in 12 min",
      tone: "warning",
    });
  });
  it("says Expired once the expiry has passed", () => {
    expect(statusBadge({ status: "connected", access_expires_at: at(-1_000) }, now).text).toBe("Expired");
  });
  it("names the other statuses in plain words", () => {
    const text = (status: "new" | "refreshing" | "needs_reauth" | "error") =>
      statusBadge({ status, access_expires_at: null }, now).text;
    expect(text("refreshing")).toBe("Refreshing");
    expect(text("needs_reauth")).toBe("Needs sign-in");
    expect(text("error")).toBe("Error");
    expect(text("new")).toBe("Not connected");
  });
  it("says when a failed refresh is tried again", () => {
    expect(
      statusBadge({ status: "error", access_expires_at: at(-1_000), retry_at: at(2 * 60_000) }, now),
    ).toEqual({ text: "Retrying in 2 min", tone: "warning" });
    expect(statusBadge({ status: "connected", access_expires_at: at(60 * 60_000), retry_at: at(30_000) }, now).text).toBe(
      "Retrying in less than a minute",
    );
  });
  it("forgets the retry once its time has passed or only a sign-in helps", () => {
    expect(statusBadge({ status: "error", access_expires_at: null, retry_at: at(-1_000) }, now).text).toBe("Error");
    expect(statusBadge({ status: "needs_reauth", access_expires_at: null, retry_at: at(60_000) }, now).text).toBe(
      "Needs sign-in",
    );
  });
});

describe("statusBadge colours", () => {
  it("keeps a connection that renews itself green whatever its token's expiry says", () => {
    const renewing = { status: "connected" as const, can_renew: true };
    expect(statusBadge({ ...renewing, access_expires_at: at(3 * 60_000) }, now)).toEqual({ text: "Connected", tone: "good" });
    expect(statusBadge({ ...renewing, access_expires_at: at(-60_000) }, now)).toEqual({ text: "Connected", tone: "good" });
    expect(statusBadge({ status: "connected", can_renew: true, access_expires_at: at(60_000) }, now).tone).toBe("good");
  });
  it("is amber only for what needs the user soon, red only for what is broken", () => {
    expect(statusBadge({ status: "connected", access_expires_at: at(12 * 60_000) }, now).tone).toBe("warning");
    expect(statusBadge({ status: "connected", access_expires_at: at(-1_000) }, now).tone).toBe("danger");
    expect(statusBadge({ status: "needs_reauth", access_expires_at: null }, now).tone).toBe("danger");
    expect(statusBadge({ status: "error", access_expires_at: null }, now).tone).toBe("danger");
    expect(statusBadge({ status: "new", access_expires_at: null }, now).tone).toBe("neutral");
  });
  it("shows a retry while the token still works as Latch being busy, not as a warning", () => {
    expect(statusBadge({ status: "connected", access_expires_at: at(30 * 60_000), retry_at: at(60_000) }, now).tone).toBe("busy");
  });
  it("shortens a retry to Retrying… where space is short", () => {
    expect(
      statusBadge({ status: "connected", access_expires_at: at(60 * 60_000), retry_at: at(30_000) }, now, { compact: true }).text,
    ).toBe("Retrying…");
  });
});

describe("changesWithTime", () => {
  it("is true for a token that counts down and for a pending retry", () => {
    expect(changesWithTime({ status: "connected", access_expires_at: at(60 * 60_000) })).toBe(true);
    expect(changesWithTime({ status: "error", access_expires_at: null, retry_at: at(60_000) })).toBe(true);
  });
  it("is false for badges only a new state can change", () => {
    expect(changesWithTime({ status: "connected", access_expires_at: null })).toBe(false);
    expect(changesWithTime({ status: "connected", access_expires_at: at(60 * 60_000), can_renew: true })).toBe(false);
    expect(changesWithTime({ status: "new", access_expires_at: null })).toBe(false);
    expect(changesWithTime({ status: "needs_reauth", access_expires_at: null, retry_at: at(60_000) })).toBe(false);
  });
});
