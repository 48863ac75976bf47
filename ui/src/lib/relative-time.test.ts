import { describe, expect, it } from "vitest";
import { atClock, countdown, durationInWords, relativeTime } from "./relative-time";

const now = Date.parse("2025-01-01T12:00:00Z");
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();

describe("relativeTime", () => {
  it("says minutes ahead as 'in 12 min'", () => {
    expect(relativeTime(at(12 * 60_000), now)).toBe("in 12 min");
  });
  it("says minutes past as '3 min ago'", () => {
    expect(relativeTime(at(-3 * 60_000), now)).toBe("3 min ago");
  });
  it("rounds a partial minute up so a countdown never shows 0 min", () => {
    expect(relativeTime(at(11 * 60_000 + 30_000), now)).toBe("in 12 min");
  });
  it("says 'just now' within a few seconds", () => {
    expect(relativeTime(at(2_000), now)).toBe("just now");
  });
  it("uses hours and minutes for a few hours", () => {
    expect(relativeTime(at(2 * 3_600_000 + 5 * 60_000), now)).toBe("in 2 h 5 min");
    expect(relativeTime(at(-3_600_000), now)).toBe("1 h ago");
  });
  it("uses days for long times", () => {
    expect(relativeTime(at(30 * 86_400_000), now)).toBe("in 30 days");
  });
  it("does not throw on an unreadable time", () => {
    expect(relativeTime("not a time", now)).toBe("at an unknown time");
  });
});

describe("durationInWords", () => {
  it("says 'less than a minute' under a minute", () => {
    expect(durationInWords(30_000)).toBe("less than a minute");
  });
});

describe("countdown", () => {
  it("shows minutes and zero-padded seconds", () => {
    expect(countdown(at(4 * 60_000 + 5_000), now)).toBe("4:05");
  });
  it("never goes below 0:00", () => {
    expect(countdown(at(-10_000), now)).toBe("0:00");
  });
});

describe("atClock", () => {
  const local = (day: number, hours: number, minutes: number) => new Date(2025, 4, day, hours, minutes).getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  it("says the time of day, 24-hour, for today", () => {
    expect(atClock(iso(local(3, 14, 5)), local(3, 9, 0))).toBe("at 14:05");
  });
  it("says tomorrow for tomorrow", () => {
    expect(atClock(iso(local(4, 9, 30)), local(3, 22, 0))).toBe("tomorrow at 09:30");
  });
  it("says the day and month further out", () => {
    expect(atClock(iso(local(12, 15, 30)), local(3, 9, 0))).toBe("on 12 May at 15:30");
  });
});
