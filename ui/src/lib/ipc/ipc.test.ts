import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it, vi } from "vitest";
import {
  IpcFailure,
  connectionCheck,
  connectionDraft,
  connectionTemplate,
  connectionsList,
  issuerDiscover,
  onSignIn,
  presetDraft,
  requestCurlCopy,
  signInCancel,
  signInStart,
  signInSubmitAddress,
  type SignInEventDto,
} from "$lib/ipc";

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
      return command === "request_curl_copy" ? { clears_in_seconds: 45 } : [];
    });
    await connectionCheck({ name: "x" } as never, null);
    await requestCurlCopy("cn_1", { method: "GET", url: "https://x.test", headers: [], body: null }, true);
    expect(calls[0]).toEqual(["connection_check", { draft: { name: "x" }, id: null }]);
    expect(calls[1][0]).toBe("request_curl_copy");
    expect(calls[1][1]).toMatchObject({ id: "cn_1", includeToken: true });
  });

  it("keeps the engine's next step and the provider's own error from the shell's rejection", async () => {
    const action = { action: "sign_in_again", connection: "GitHub", paste: false } as const;
    const provider = { error: "invalid_grant", error_description: "The refresh token was revoked.", error_uri: null };
    mockIPC(() => {
      throw { code: "needs_authorization", message: "Sign in to GitHub again.", fields: [], action, provider, details: null };
    });
    const failure: IpcFailure = await connectionsList().catch((rejection) => rejection);
    expect(failure.code).toBe("needs_authorization");
    expect(failure.action).toEqual(action);
    expect(failure.provider).toEqual(provider);
  });

  it("has no action and no provider error when the rejection names none", () => {
    const failure = IpcFailure.from({ code: "storage", message: "The disk is full." });
    expect(failure.action).toBeNull();
    expect(failure.provider).toBeNull();
    expect(IpcFailure.from("boom").action).toBeNull();
  });

  it("sends the sign-in session, template and draft commands with the argument names Rust expects", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((command, args) => {
      calls.push([command, args]);
      return command === "sign_in_start" ? { session: "si_1" } : command === "sign_in_cancel" ? true : null;
    });
    expect(await signInStart("cn_1")).toEqual({ session: "si_1" });
    expect(await signInCancel("si_1")).toBe(true);
    await signInSubmitAddress("si_1", "https://x.test/cb?code=c");
    await connectionTemplate("oauth2");
    await connectionDraft("cn_1");
    await presetDraft("github");
    await issuerDiscover("https://id.x.test", { name: "x" } as never);
    expect(calls).toEqual([
      ["sign_in_start", { id: "cn_1" }],
      ["sign_in_cancel", { session: "si_1" }],
      ["sign_in_submit_address", { session: "si_1", address: "https://x.test/cb?code=c" }],
      ["connection_template", { kind: "oauth2" }],
      ["connection_draft", { id: "cn_1" }],
      ["preset_draft", { id: "github" }],
      ["issuer_discover", { issuer: "https://id.x.test", draft: { name: "x" } }],
    ]);
  });

  it("delivers sign-in events and stops after unlisten", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen = vi.fn();
    const unlisten = await onSignIn(seen);
    const payload: SignInEventDto = {
      session: "si_1",
      id: "cn_1",
      event: {
        stage: "started",
        authorize_url: "https://x.test/auth",
        redirect_uri: "http://127.0.0.1/callback",
        deadline: "2030-01-01T00:00:00Z",
        browser_error: null,
        paste: false,
      },
    };
    await emit("sign-in", payload);
    expect(seen).toHaveBeenCalledWith(payload);
    unlisten();
    await emit("sign-in", payload);
    expect(seen).toHaveBeenCalledTimes(1);
  });
});
