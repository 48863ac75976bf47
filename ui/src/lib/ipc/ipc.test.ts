import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it, vi } from "vitest";
import { IpcFailure, connectionCheck, connectionsList, onSignInStarted, requestCurl } from "$lib/ipc";

describe("the IPC wrapper", () => {
  it("turns the shell's {code, message} rejection into an IpcFailure with that code", async () => {
    mockIPC(() => {
      throw { code: "validation", message: "Check the highlighted fields.", fields: [{ field: "name", message: "Enter a name." }], details: null };
    });
    const failure = await connectionsList().catch((rejection) => rejection);
    expect(failure).toBeInstanceOf(IpcFailure);
    expect(failure).toBeInstanceOf(Error);
    expect(failure.code).toBe("validation");
    expect(failure.message).toBe("Check the highlighted fields.");
    expect(failure.fields).toEqual([{ field: "name", message: "Enter a name." }]);
  });

  it("turns a string rejection into code internal with that sentence", async () => {
    mockIPC(() => Promise.reject("The database is locked."));
    const failure = await connectionsList().catch((rejection) => rejection);
    expect(failure).toBeInstanceOf(IpcFailure);
    expect(failure.code).toBe("internal");
    expect(failure.message).toBe("The database is locked.");
  });

  it("turns anything else into code internal with a plain sentence", () => {
    const failure = IpcFailure.from(42);
    expect(failure.code).toBe("internal");
    expect(failure.message).toMatch(/went wrong/);
  });

  it("sends the argument names the Rust commands expect", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((command, args) => {
      calls.push([command, args]);
      return command === "request_curl" ? "curl …" : [];
    });
    await connectionCheck({ name: "x" } as never, null);
    await requestCurl("cn_1", { method: "GET", url: "https://x.test", headers: [], body: null }, true);
    expect(calls[0]).toEqual(["connection_check", { draft: { name: "x" }, id: null }]);
    expect(calls[1][0]).toBe("request_curl");
    expect(calls[1][1]).toMatchObject({ id: "cn_1", includeToken: true });
  });

  it("delivers sign-in-started payloads and stops after unlisten", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen = vi.fn();
    const unlisten = await onSignInStarted(seen);
    const payload = { id: "cn_1", authorize_url: "https://x.test/auth", redirect_uri: "http://127.0.0.1/callback", deadline: "2030-01-01T00:00:00Z", browser_error: null };
    await emit("sign-in-started", payload);
    expect(seen).toHaveBeenCalledWith(payload);
    unlisten();
    await emit("sign-in-started", payload);
    expect(seen).toHaveBeenCalledTimes(1);
  });
});
