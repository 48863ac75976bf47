import { emit } from "@tauri-apps/api/event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionDto, SignInEvent } from "$lib/ipc";
import { askEarly } from "$lib/early-list";
import { IpcFailure } from "$lib/ipc";
import { ConnectionsState } from "./connections.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";

const STARTED: SignInEvent = {
  stage: "started",
  authorize_url: "https://id.example.com/auth?state=s",
  redirect_uri: "http://127.0.0.1:49152/callback",
  deadline: "2030-01-01T00:00:00Z",
  browser_error: null,
  paste: false,
};

const signIn = (session: string, event: SignInEvent, id = "cn_01") => emit("sign-in", { session, id, event });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A ConnectionsState listening to a fake engine, with one connection, "cn_01". */
async function following(handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connectionDto()], sign_in_cancel: () => true, ...handlers });
  const state = new ConnectionsState();
  state.start();
  await vi.waitFor(() => expect(state.loaded).toBe(true));
  await settle();
  return { state, backend };
}

/** A sign_in_start that answers only when the test says so. */
function slowStart() {
  let answer: (session: string) => void = () => {};
  const handler = () => new Promise((resolve) => (answer = (session) => resolve({ session })));
  return { handler, answer: (session: string) => answer(session) };
}

describe("following sign-ins by their session's events", () => {
  it("records the session, its stages, and forgets it when it finishes", async () => {
    const { state, backend } = await following({ sign_in_start: () => ({ session: "si_1" }) });
    await state.connect("cn_01");
    expect(backend.lastArgs("sign_in_start")).toEqual({ id: "cn_01" });
    expect(state.signIns.cn_01).toEqual({ session: "si_1", started: null, device: null, pasted: false });
    await signIn("si_1", STARTED);
    expect(state.signIns.cn_01.started?.authorize_url).toBe("https://id.example.com/auth?state=s");
    await signIn("si_1", { stage: "address_received" });
    expect(state.signIns.cn_01.pasted).toBe(true);
    await signIn("si_1", { stage: "finished", outcome: { result: "connected", account: "ann@example.com" } });
    expect(state.signIns.cn_01).toBeUndefined();
    expect(state.connectFailures.cn_01).toBeUndefined();
  });

  it("keeps events that arrive before sign_in_start answers", async () => {
    const start = slowStart();
    const { state } = await following({ sign_in_start: start.handler });
    const connecting = state.connect("cn_01");
    await settle();
    expect(state.signIns.cn_01).toEqual({ session: null, started: null, device: null, pasted: false });
    await signIn("si_1", STARTED);
    expect(state.signIns.cn_01.session).toBe("si_1");
    start.answer("si_1");
    await connecting;
    expect(state.signIns.cn_01.session).toBe("si_1");
    expect(state.signIns.cn_01.started).not.toBeNull();
  });

  it("forgets a session that finished before sign_in_start answered, and keeps its failure", async () => {
    const start = slowStart();
    const { state } = await following({ sign_in_start: start.handler });
    const connecting = state.connect("cn_01");
    await settle();
    await signIn("si_1", {
      stage: "finished",
      outcome: {
        result: "failed",
        code: "provider",
        message: "The service refused the client.",
        action: { action: "edit_fields", connection: "Google Drive", fields: ["client_id"] },
        provider: { error: "invalid_client", error_description: null, error_uri: null },
        details: '{"error":"invalid_client"}',
      },
    });
    start.answer("si_1");
    await connecting;
    expect(state.signIns.cn_01).toBeUndefined();
    const failure = state.connectFailures.cn_01;
    expect(failure).toBeInstanceOf(IpcFailure);
    expect(failure).toMatchObject({
      code: "provider",
      message: "The service refused the client.",
      fields: [],
      details: '{"error":"invalid_client"}',
      action: { action: "edit_fields", connection: "Google Drive", fields: ["client_id"] },
      provider: { error: "invalid_client", error_description: null, error_uri: null },
    });
  });

  it("does not let a late sign_in_start answer replace a newer session", async () => {
    const start = slowStart();
    const { state } = await following({ sign_in_start: start.handler });
    const connecting = state.connect("cn_01");
    await settle();
    // Another sign-in of the same connection (a notification's Reconnect) started meanwhile.
    await signIn("si_2", STARTED);
    start.answer("si_1");
    await connecting;
    expect(state.signIns.cn_01.session).toBe("si_2");
    await signIn("si_1", { stage: "finished", outcome: { result: "cancelled" } });
    expect(state.signIns.cn_01.session).toBe("si_2");
    expect(state.signIns.cn_01.started).not.toBeNull();
  });

  it("ignores the late events of a session a newer one replaced", async () => {
    const { state } = await following();
    await signIn("si_1", STARTED);
    await signIn("si_2", { stage: "requesting" });
    expect(state.signIns.cn_01).toEqual({ session: "si_2", started: null, device: null, pasted: false });
    await signIn("si_1", { stage: "address_received" });
    await signIn("si_1", { stage: "finished", outcome: { result: "cancelled" } });
    expect(state.signIns.cn_01).toEqual({ session: "si_2", started: null, device: null, pasted: false });
  });

  it("a second Connect leaves the first session's last words unheard", async () => {
    let number = 0;
    const { state } = await following({ sign_in_start: () => ({ session: `si_${++number}` }) });
    await state.connect("cn_01");
    await signIn("si_1", STARTED);
    await state.connect("cn_01");
    await signIn("si_1", {
      stage: "finished",
      outcome: { result: "failed", code: "cancelled", message: "Replaced.", action: null, provider: null, details: null },
    });
    expect(state.signIns.cn_01.session).toBe("si_2");
    expect(state.connectFailures.cn_01).toBeUndefined();
  });

  it("follows a session started elsewhere and reports its failure", async () => {
    const { state } = await following();
    await signIn("si_tray", { stage: "requesting" });
    expect(state.signIns.cn_01.session).toBe("si_tray");
    await signIn("si_tray", {
      stage: "finished",
      outcome: { result: "failed", code: "network", message: "No network.", action: { action: "check_network" }, provider: null, details: null },
    });
    expect(state.signIns.cn_01).toBeUndefined();
    expect(state.connectFailures.cn_01.message).toBe("No network.");
  });

  it("says nothing about a cancelled sign-in", async () => {
    const { state } = await following({ sign_in_start: () => ({ session: "si_1" }) });
    await state.connect("cn_01");
    await signIn("si_1", { stage: "finished", outcome: { result: "cancelled" } });
    expect(state.signIns.cn_01).toBeUndefined();
    expect(state.connectFailures.cn_01).toBeUndefined();
  });

  it("cancels a sign-in that is still starting once its session is known", async () => {
    const start = slowStart();
    const { state, backend } = await following({ sign_in_start: start.handler });
    const connecting = state.connect("cn_01");
    await settle();
    const cancelling = state.cancelConnect("cn_01");
    start.answer("si_1");
    await Promise.all([connecting, cancelling]);
    expect(backend.called("sign_in_cancel")).toEqual([{ command: "sign_in_cancel", args: { session: "si_1" } }]);
  });

  it("stops waiting when the engine says the session was no longer running", async () => {
    const { state } = await following({ sign_in_start: () => ({ session: "si_1" }), sign_in_cancel: () => false });
    await state.connect("cn_01");
    await state.cancelConnect("cn_01");
    expect(state.signIns.cn_01).toBeUndefined();
  });

  it("hands the pasted address to the current session and marks it pasted", async () => {
    const { state, backend } = await following({ sign_in_start: () => ({ session: "si_1" }), sign_in_submit_address: () => null });
    await state.connect("cn_01");
    await signIn("si_1", { ...STARTED, paste: true } as SignInEvent);
    await state.submitPaste("cn_01", "  https://www.make.com/oauth/cb/app?code=c  ");
    expect(backend.lastArgs("sign_in_submit_address")).toEqual({ session: "si_1", address: "https://www.make.com/oauth/cb/app?code=c" });
    expect(state.signIns.cn_01.pasted).toBe(true);
  });

  it("refuses to hand over an address when no session waits for one", async () => {
    const { state, backend } = await following();
    const failure = await state.submitPaste("cn_01", "https://x.test/cb?code=c").catch((rejection) => rejection);
    expect(failure).toBeInstanceOf(IpcFailure);
    expect(failure.code).toBe("validation");
    expect(backend.called("sign_in_submit_address")).toHaveLength(0);
  });

  it("keeps the reason a sign-in could not start, with its next step", async () => {
    const { state } = await following({
      sign_in_start: () => {
        throw { code: "keyring_unavailable", message: "Unlock your keyring.", fields: [], action: { action: "unlock_keyring" }, provider: null, details: null };
      },
    });
    await state.connect("cn_01");
    expect(state.signIns.cn_01).toBeUndefined();
    expect(state.connectFailures.cn_01.action).toEqual({ action: "unlock_keyring" });
  });
});

describe("the first load", () => {
  it("takes the list asked for before the app was mounted, and reads it no more when nothing changed", async () => {
    const backend = mockBackend({ connections_list: () => [connectionDto({ name: "Asked at start" })] });
    const early = askEarly();
    const state = new ConnectionsState();
    const stop = state.start(early);
    await vi.waitFor(() => expect(state.loaded).toBe(true));
    await settle();
    await settle();
    expect(state.connections.map((connection) => connection.name)).toEqual(["Asked at start"]);
    expect(backend.called("connections_list")).toHaveLength(1);
    stop();
  });

  it("reads the list again when it changed between that early read and the app's own listener", async () => {
    const lists = [[connectionDto({ name: "Before the change" })], [connectionDto({ name: "After the change" })]];
    const backend = mockBackend({ connections_list: () => lists.shift() ?? [] });
    const early = askEarly();
    await early.answer;
    // The refresher renewed a token while the page was still mounting the app.
    await emit("connections-changed", null);
    const state = new ConnectionsState();
    const stop = state.start(early);
    await vi.waitFor(() => expect(state.connections.map((connection) => connection.name)).toEqual(["After the change"]));
    expect(backend.called("connections_list")).toHaveLength(2);
    stop();
  });

  it("shows the failure of the request made at start", async () => {
    mockBackend({ connections_list: () => [connectionDto()] });
    const state = new ConnectionsState();
    const failed = Promise.reject(new IpcFailure("internal", "The list could not be read."));
    const stop = state.start({ answer: failed, changedSince: async () => false });
    await vi.waitFor(() => expect(state.loaded).toBe(true));
    expect(state.loadFailure?.message).toBe("The list could not be read.");
    stop();
  });
});

describe("reading the list", () => {
  it("shows the latest read asked for, even when an earlier one answers after it", async () => {
    const answers: ((list: ConnectionDto[]) => void)[] = [];
    mockBackend({ connections_list: () => new Promise((resolve) => answers.push(resolve)) });
    const state = new ConnectionsState();
    const older = state.load();
    const newer = state.load();
    await vi.waitFor(() => expect(answers).toHaveLength(2));
    answers[1]([connectionDto({ name: "Read second" })]);
    await newer;
    answers[0]([connectionDto({ name: "Read first" })]);
    await older;
    expect(state.connections.map((connection) => connection.name)).toEqual(["Read second"]);
    expect(state.loaded).toBe(true);
  });
});
