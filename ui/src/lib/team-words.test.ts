import { describe, expect, it } from "vitest";
import { fileName, syncWords, unreachableWords } from "./team-words";

const at = (day: number, hours: number, minutes: number) => new Date(2026, 10, day, hours, minutes).toISOString();

describe("what the app says about a team", () => {
  it("dates an outage by the clock today, and by the day before that", () => {
    const now = Date.parse(at(30, 11, 5));
    expect(unreachableWords({ unreachable_since: at(30, 10, 42) }, now)).toBe("Team store unreachable since 10:42.");
    expect(unreachableWords({ unreachable_since: at(28, 9, 5) }, now)).toBe("Team store unreachable since 28 Nov at 09:05.");
    expect(unreachableWords({ unreachable_since: null }, now)).toBeNull();
  });

  it("says what a sync changed, or that nothing did", () => {
    expect(syncWords({ added: ["CRM", "Mail"], updated: [], removed: ["Old"], skipped: [] })).toBe(
      "Added “CRM”, “Mail”. Removed “Old”: no longer in the team.",
    );
    expect(syncWords({ added: [], updated: [], removed: [], skipped: [] })).toBe("Up to date: nothing new in the team.");
  });

  it("names a chosen file without its folders", () => {
    expect(fileName("/home/ana/certs/team-ca.pem")).toBe("team-ca.pem");
    expect(fileName("C:\\certs\\team-ca.pem")).toBe("team-ca.pem");
  });
});
