import { describe, expect, it } from "vitest";
import { CHANNEL_LABELS, programDetails, usageChannel, usageWords } from "./usage-words";

describe("the record of use in words", () => {
  it("words every way a credential goes out without the engine's codes", () => {
    const cases: [string, string, string][] = [
      ["app", "copy", "Copied in Latch"],
      ["app", "reveal", "Revealed in Latch"],
      ["app", "request", "Test request in Latch"],
      ["app", "copy-curl", "Copied as curl in Latch"],
      ["cli", "token", "Given to a program from the terminal"],
      ["agent", "token", "Given to a program from the terminal"],
      ["cli", "request", "Request sent from the terminal"],
      ["helper", "git-credential", "Given to git"],
      ["helper", "kube-credential", "Given to kubectl"],
      ["proxy", "request", "Through the local proxy"],
      ["exec", "token", "Given to a program Latch started"],
      ["exec", "proxy-url", "A program Latch started was sent through the local proxy"],
      ["something-new", "token", "Handed out"],
    ];
    for (const [via, what, words] of cases) expect(usageWords({ via, what }), `${via} ${what}`).toBe(words);
  });

  it("groups the ways for the filter: in Latch, the terminal (a program Latch started too), helpers, proxy", () => {
    const ways = ["app", "cli", "agent", "exec", "helper", "proxy", "unknown"];
    const groups = ways.map((via) => CHANNEL_LABELS[usageChannel({ via })]);
    expect(groups).toEqual([
      "In Latch",
      "From the terminal",
      "From the terminal",
      "From the terminal",
      "git and kubectl",
      "Through the local proxy",
      "Other",
    ]);
  });

  it("gives the program's path and processes for its tooltip, leaving out what is unknown", () => {
    expect(programDetails({ exe: "/usr/bin/curl", pid: 42, parent_pid: 7 })).toBe(
      "/usr/bin/curl, process 42, started by process 7",
    );
    expect(programDetails({ exe: null, pid: 42, parent_pid: null })).toBe("process 42");
    expect(programDetails({ exe: null, pid: null, parent_pid: null })).toBe("");
  });
});
