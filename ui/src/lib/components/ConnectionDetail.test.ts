import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, SignInEvent } from "$lib/ipc";
import { connectionDto, draftOf, mockBackend } from "../../test-fixtures";

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

/** The engine's news of a sign-in session of the connection `id`. */
const signIn = (session: string, event: SignInEvent, id = "cn_01") => emit("sign-in", { session, id, event });

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

/** Opens the detail's More menu, where the actions other than the main one are. */
const openMore = () => userEvent.click(screen.getByTestId("more-actions"));

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("the connection detail", () => {
  it("shows status, expiry, refresh token, account and scope grants", async () => {
    await openDetail(
      connectionDto({
        status: "connected",
        access_expires_at: minutesFromNow(42),
        access_issued_at: minutesFromNow(-18),
        has_refresh_token: true,
        account: "ann@example.com",
        scopes: ["openid", "email", "drive"],
        granted_scopes: ["openid", "email"],
        missing_scopes: ["drive"],
      }),
    );
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected");
    expect(screen.getByTestId("expiry")).toHaveTextContent("Access token expires in 42 min");
    // The refresh token, in words: it renews by itself.
    expect(screen.getByTestId("state-summary")).toHaveTextContent(/^Renews automatically · last renewed 1[89] min ago$/);
    expect(screen.getByTestId("account")).toHaveTextContent("ann@example.com");
    const granted = within(screen.getByTestId("granted-scopes"));
    expect(granted.getAllByTestId("scope").map((scope) => scope.textContent)).toEqual(["openid", "email"]);
    expect(granted.getByTestId("scope-missing")).toHaveTextContent("drive not granted");
    await openMore();
    expect(screen.getByTestId("connect")).toHaveTextContent("Reconnect");
  });

  it("names the connection in the Delete confirmation and removes it only after confirming", async () => {
    const backend = await openDetail(connectionDto({ name: "Work Drive" }), {
      connection_remove: () => ({ revoked: false, revoke_error: null }),
    });
    await openMore();
    await userEvent.click(screen.getByTestId("delete"));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Delete “Work Drive”?");
    expect(backend.called("connection_remove")).toHaveLength(0);
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
    expect(backend.called("connection_remove")).toHaveLength(0);

    await openMore();
    await userEvent.click(screen.getByTestId("delete"));
    await userEvent.click(screen.getByTestId("confirm-delete"));
    await waitFor(() => expect(backend.called("connection_remove")).toEqual([{ command: "connection_remove", args: { id: "cn_01" } }]));
    await waitFor(() => expect(screen.queryByTestId("detail")).not.toBeInTheDocument());
  });

  it("shows the waiting panel from the session's started event and cancels that session", async () => {
    const backend = await openDetail(connectionDto(), {
      sign_in_start: () => ({ session: "si_1" }),
      sign_in_cancel: () => true,
    });
    await userEvent.click(screen.getByTestId("connect"));
    expect(backend.lastArgs("sign_in_start")).toEqual({ id: "cn_01" });
    await signIn("si_1", {
      stage: "started",
      authorize_url: "https://accounts.google.com/o/oauth2/v2/auth?client_id=client-123",
      redirect_uri: "http://127.0.0.1:49152/callback",
      deadline: new Date(Date.now() + 5 * 60_000).toISOString(),
      browser_error: null,
      paste: false,
    });
    const waiting = await screen.findByTestId("waiting");
    expect(waiting).toHaveTextContent("Waiting for you to sign in in your browser…");
    expect(screen.getByTestId("time-left").textContent).toMatch(/^[45]:\d\d$/);
    expect(screen.getByRole("textbox", { name: "Sign-in link" })).toHaveValue(
      "https://accounts.google.com/o/oauth2/v2/auth?client_id=client-123",
    );

    await userEvent.click(screen.getByTestId("cancel-connect"));
    expect(backend.called("sign_in_cancel")).toEqual([{ command: "sign_in_cancel", args: { session: "si_1" } }]);
    // The waiting ends when the engine says the session ended.
    expect(screen.getByTestId("waiting")).toBeInTheDocument();
    await signIn("si_1", { stage: "finished", outcome: { result: "cancelled" } });
    await waitFor(() => expect(screen.queryByTestId("waiting")).not.toBeInTheDocument());
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();
  });

  it("shows a failed sign-in as a sentence with the provider's answer behind Details", async () => {
    await openDetail(connectionDto(), { sign_in_start: () => ({ session: "si_1" }) });
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", {
      stage: "finished",
      outcome: {
        result: "failed",
        code: "provider",
        message: "Google said the sign-in code was already used. Click Connect to try again.",
        action: null,
        provider: { error: "invalid_grant", error_description: null, error_uri: null },
        details: '{"error":"invalid_grant"}',
      },
    });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("already used");
    expect(screen.queryByTestId("waiting")).not.toBeInTheDocument();
    expect(screen.queryByTestId("error-details")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Details" }));
    expect(screen.getByTestId("error-details")).toHaveTextContent('{"error":"invalid_grant"}');
  });

  it("says why a sign-in could not start", async () => {
    await openDetail(connectionDto(), {
      sign_in_start: () => {
        throw { code: "keyring_unavailable", message: "Latch could not reach your system keyring.", fields: [], action: null, provider: null, details: null };
      },
    });
    await userEvent.click(screen.getByTestId("connect"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("could not reach your system keyring");
    expect(screen.queryByTestId("waiting")).not.toBeInTheDocument();
    expect(screen.getByTestId("connect")).toBeEnabled();
  });

  it("shows the connected detail after a successful connect", async () => {
    let connection = connectionDto();
    await openDetail(connection, {
      connections_list: () => [connection],
      sign_in_start: () => ({ session: "si_1" }),
    });
    await userEvent.click(screen.getByTestId("connect"));
    expect(await screen.findByTestId("waiting")).toHaveTextContent("Opening your browser…");
    // The engine records the outcome itself; the list reloads through connections-changed.
    connection = connectionDto({ status: "connected", access_expires_at: minutesFromNow(60), access_issued_at: new Date().toISOString(), granted_scopes: ["openid", "email"] });
    await signIn("si_1", { stage: "finished", outcome: { result: "connected", account: null } });
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected"));
    expect(screen.queryByTestId("waiting")).not.toBeInTheDocument();
    // No refresh token, in words: what it means for the user.
    expect(screen.getByTestId("state-summary")).toHaveTextContent("This service gave no refresh token");
    await openMore();
    expect(screen.getByTestId("refresh")).toBeEnabled();
  });

  it("keeps the link of a session whose started event comes before sign_in_start answers", async () => {
    let answer: (value: unknown) => void = () => {};
    const backend = await openDetail(connectionDto(), {
      sign_in_start: () => new Promise((resolve) => (answer = resolve)),
      sign_in_cancel: () => true,
    });
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", {
      stage: "started",
      authorize_url: "https://accounts.google.com/auth?state=early",
      redirect_uri: "http://127.0.0.1:49152/callback",
      deadline: minutesFromNow(5),
      browser_error: null,
      paste: false,
    });
    expect(await screen.findByRole("textbox", { name: "Sign-in link" })).toHaveValue("https://accounts.google.com/auth?state=early");
    answer({ session: "si_1" });
    await waitFor(() => expect(backend.called("sign_in_start")).toHaveLength(1));
    expect(screen.getByRole("textbox", { name: "Sign-in link" })).toHaveValue("https://accounts.google.com/auth?state=early");
    await userEvent.click(screen.getByTestId("cancel-connect"));
    expect(backend.lastArgs("sign_in_cancel")).toEqual({ session: "si_1" });
  });

  it("follows a sign-in started elsewhere, such as a notification's Reconnect", async () => {
    await openDetail(connectionDto({ status: "needs_reauth", access_issued_at: minutesFromNow(-90) }));
    await signIn("si_tray", {
      stage: "started",
      authorize_url: "https://accounts.google.com/auth?from=tray",
      redirect_uri: "http://127.0.0.1:49152/callback",
      deadline: minutesFromNow(5),
      browser_error: "Latch could not open your browser (no browser is set).",
      paste: false,
    });
    expect(await screen.findByTestId("waiting")).toHaveTextContent("Latch could not open your browser (no browser is set). Copy the link below and open it yourself.");
    expect(screen.getByTestId("connect")).toBeDisabled();
    await signIn("si_tray", { stage: "finished", outcome: { result: "connected", account: "ann@example.com" } });
    await waitFor(() => expect(screen.queryByTestId("waiting")).not.toBeInTheDocument());
    expect(screen.getByTestId("connect")).toBeEnabled();
  });

  it("copies the access token in the shell only when Copy is clicked, never into the page, and says when it is cleared", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const backend = await openDetail(connectionDto({ status: "connected", access_expires_at: minutesFromNow(60) }), {
      access_token_copy: () => ({ clears_in_seconds: 45 }),
    });
    expect(backend.called("access_token_copy")).toHaveLength(0);
    await openMore();
    await userEvent.click(screen.getByTestId("copy-token"));
    await waitFor(() => expect(backend.called("access_token_copy")).toEqual([{ command: "access_token_copy", args: { id: "cn_01" } }]));
    expect(await screen.findByTestId("copy-status")).toHaveTextContent("Copied — cleared in 45 s");
    // The web view neither asks for the token nor writes the clipboard.
    expect(backend.called("access_token_reveal")).toHaveLength(0);
    expect(writeText).not.toHaveBeenCalled();
  });

  it("asks before disconnecting and says whether the service was told", async () => {
    const backend = await openDetail(connectionDto({ status: "connected", access_issued_at: minutesFromNow(-5) }), {
      connection_disconnect: () => ({ revoked: false, revoke_error: "The service did not answer." }),
    });
    await openMore();
    await userEvent.click(screen.getByTestId("disconnect"));
    expect(screen.getByRole("alertdialog")).toHaveTextContent("Disconnect “Google Drive”?");
    expect(backend.called("connection_disconnect")).toHaveLength(0);
    await userEvent.click(screen.getByTestId("confirm-disconnect"));
    expect(await screen.findByTestId("disconnect-outcome")).toHaveTextContent("could not be told");
  });

  it("keeps Refresh now disabled until the connection is signed in", async () => {
    await openDetail(connectionDto({ status: "new" }));
    await openMore();
    expect(screen.getByTestId("refresh")).toBeDisabled();
    // Nothing about refresh tokens before there are any tokens at all.
    expect(screen.getByTestId("state-summary")).toHaveTextContent("Not connected.");
    expect(screen.queryByTestId("state-note")).not.toBeInTheDocument();
  });

  it("shows the device code large with Copy and Open verification page, and ends with the engine's message", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const backend = await openDetail(connectionDto({ flow: "device_code", pkce: "off", name: "TV", redirect_uri: null, device_url: "https://id.example.com/device/auth" }), {
      sign_in_start: () => ({ session: "si_tv" }),
      "plugin:opener|open_url": () => null,
    });
    await userEvent.click(screen.getByTestId("connect"));
    expect(await screen.findByTestId("waiting")).toHaveTextContent("Connecting…");
    await signIn("si_tv", {
      stage: "device_code",
      user_code: "WDJB-MJHT",
      verification_uri: "https://id.example.com/device",
      verification_uri_complete: "https://id.example.com/device?user_code=WDJB-MJHT",
      deadline: minutesFromNow(10),
      browser_error: null,
    });
    const code = await screen.findByTestId("user-code");
    expect(code).toHaveTextContent("WDJB-MJHT");
    expect(screen.getByTestId("waiting")).toHaveTextContent("To sign in, open https://id.example.com/device on any device");
    expect(screen.getByTestId("time-left").textContent).toMatch(/^(9|10):\d\d$/);
    await userEvent.click(screen.getByTestId("copy-user-code"));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("WDJB-MJHT"));
    await userEvent.click(screen.getByTestId("open-verification"));
    expect(backend.lastArgs("plugin:opener|open_url")).toMatchObject({ url: "https://id.example.com/device?user_code=WDJB-MJHT" });

    await signIn("si_tv", {
      stage: "finished",
      outcome: {
        result: "failed",
        code: "needs_authorization",
        message: "Nobody entered the code before it expired. Click Connect to get a new one.",
        action: null,
        provider: null,
        details: null,
      },
    });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("Nobody entered the code before it expired.");
    expect(screen.queryByTestId("user-code")).not.toBeInTheDocument();
  });

  it("the paste sign-in sends the address from the browser and refuses one from elsewhere", async () => {
    let connection = connectionDto({ name: "Make", redirect_uri_override: "https://www.make.com/oauth/cb/app", redirect_uri: "https://www.make.com/oauth/cb/app" });
    const backend = await openDetail(connection, {
      connections_list: () => [connection],
      sign_in_start: () => ({ session: "si_make" }),
      sign_in_submit_address: () => null,
    });
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_make", {
      stage: "started",
      authorize_url: "https://www.make.com/oauth/v2/authorize?client_id=c",
      redirect_uri: "https://www.make.com/oauth/cb/app",
      deadline: null,
      browser_error: null,
      paste: true,
    });
    const field = await screen.findByRole("textbox", { name: "Paste the address from your browser's address bar after you approve" });
    expect(screen.queryByTestId("time-left")).not.toBeInTheDocument();
    await userEvent.type(field, "https://evil.example/cb?code=x");
    await userEvent.click(screen.getByTestId("paste-submit"));
    expect(screen.getByTestId("paste-error")).toHaveTextContent("it should start with https://www.make.com/oauth/cb/app");
    expect(backend.called("sign_in_submit_address")).toHaveLength(0);

    await userEvent.clear(field);
    await userEvent.type(field, "https://www.make.com/oauth/cb/app?code=abc&state=s1");
    await userEvent.click(screen.getByTestId("paste-submit"));
    expect(backend.lastArgs("sign_in_submit_address")).toEqual({ session: "si_make", address: "https://www.make.com/oauth/cb/app?code=abc&state=s1" });
    expect(await screen.findByTestId("paste-submit")).toHaveTextContent("Checking…");
    connection = { ...connection, status: "connected", access_issued_at: new Date().toISOString() };
    await signIn("si_make", { stage: "requesting" });
    await signIn("si_make", { stage: "finished", outcome: { result: "connected", account: null } });
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected"));
    expect(screen.queryByTestId("waiting")).not.toBeInTheDocument();
  });

  it("offers Sign in again for a last error whose action says so, and starts that sign-in", async () => {
    const backend = await openDetail(
      connectionDto({
        status: "needs_reauth",
        access_issued_at: minutesFromNow(-90),
        last_error: "Google no longer accepts this sign-in.",
        last_error_action: { action: "sign_in_again", connection: "Google Drive", paste: false },
      }),
      { sign_in_start: () => ({ session: "si_1" }) },
    );
    expect(screen.getByTestId("error-message")).toHaveTextContent("Google no longer accepts this sign-in.");
    await userEvent.click(screen.getByRole("button", { name: "Sign in again" }));
    expect(backend.lastArgs("sign_in_start")).toEqual({ id: "cn_01" });
    expect(await screen.findByTestId("waiting")).toBeInTheDocument();
  });

  it("offers Edit settings for an error in the settings, and opens the connection's edit form", async () => {
    const connection = connectionDto({
      status: "error",
      last_error: "Google does not know this client ID. Check it.",
      last_error_action: { action: "edit_fields", connection: "Google Drive", fields: ["client_id"] },
    });
    await openDetail(connection, { connection_draft: () => draftOf(connection), connection_check: () => [] });
    await userEvent.click(screen.getByRole("button", { name: "Edit settings" }));
    expect(await screen.findByRole("heading", { name: "Edit Google Drive" })).toBeInTheDocument();
  });

  it("words a failed sign-in's next step as a button", async () => {
    await openDetail(connectionDto(), { sign_in_start: () => ({ session: "si_1" }) });
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", {
      stage: "finished",
      outcome: {
        result: "failed",
        code: "validation",
        message: "Google says the redirect URI is not registered.",
        action: { action: "edit_fields", connection: "Google Drive", fields: ["redirect_port"] },
        provider: null,
        details: null,
      },
    });
    expect(await screen.findByTestId("error-action")).toHaveTextContent("Edit settings");
  });

  it("offers no button for a step the person takes outside Latch", async () => {
    await openDetail(
      connectionDto({
        status: "error",
        last_error: "Latch could not reach accounts.google.com. Check your network.",
        last_error_action: { action: "check_network" },
      }),
    );
    expect(screen.getByTestId("error-message")).toHaveTextContent("Check your network.");
    expect(screen.queryByTestId("error-action")).not.toBeInTheDocument();
  });

  it("lists the resources the tokens are for, only when there are some", async () => {
    await openDetail(connectionDto({ resource: ["https://api.example.com/", "https://files.example.com/"] }));
    expect(screen.getAllByTestId("detail-resource").map((item) => item.textContent)).toEqual([
      "https://api.example.com/",
      "https://files.example.com/",
    ]);
  });

  it("shows no resources for a connection without any", async () => {
    await openDetail(connectionDto());
    expect(screen.queryByTestId("detail-resources")).not.toBeInTheDocument();
    expect(screen.getByTestId("detail-redirect-uri")).toHaveTextContent("http://127.0.0.1/callback");
  });

  it("exports the connection's settings to the chosen file and says where", async () => {
    const backend = await openDetail(connectionDto({ name: "Work Drive" }), {
      connections_export: () => "/home/ann/Work Drive.latch.json",
    });
    await openMore();
    await userEvent.click(screen.getByTestId("export"));
    expect(await screen.findByTestId("export-result")).toHaveTextContent(
      "Saved “Work Drive”'s settings (no secrets) to /home/ann/Work Drive.latch.json.",
    );
    expect(backend.lastArgs("connections_export")).toEqual({ ids: ["cn_01"] });
  });
});

describe("the connection detail's one current state", () => {
  it("shows a healthy self-renewing connection as Connected in green, renewing by itself, with Test request as the main button", async () => {
    await openDetail(
      connectionDto({
        status: "connected",
        access_expires_at: minutesFromNow(4),
        access_issued_at: minutesFromNow(-3),
        has_refresh_token: true,
      }),
    );
    // Four minutes left is nothing to worry about when Latch renews it.
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected");
    expect(screen.getByTestId("detail-status")).toHaveClass("good");
    expect(screen.getByTestId("state")).toHaveClass("tone-good");
    expect(screen.getByTestId("state-summary")).toHaveTextContent(/^Renews automatically · last renewed [34] min ago$/);
    expect(screen.getByTestId("test-request")).toHaveClass("primary");
    expect(screen.getByTestId("test-request")).toHaveTextContent("Test request");
    // Signing in again is there, but in the menu.
    expect(screen.queryByTestId("connect")).not.toBeInTheDocument();
    await openMore();
    expect(screen.getByTestId("connect")).not.toHaveClass("primary");
  });

  it("makes Sign in again the main button of a connection that needs a sign-in, and shows it in red", async () => {
    await openDetail(connectionDto({ status: "needs_reauth", access_issued_at: minutesFromNow(-90), access_expires_at: minutesFromNow(-30) }));
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Needs sign-in");
    expect(screen.getByTestId("detail-status")).toHaveClass("danger");
    expect(screen.getByTestId("connect")).toHaveClass("primary");
    expect(screen.getByTestId("connect")).toHaveTextContent("Sign in again");
  });

  it("leaves out an old network error once only a sign-in helps", async () => {
    await openDetail(
      connectionDto({
        status: "needs_reauth",
        access_issued_at: minutesFromNow(-90),
        last_error: "Latch could not connect to accounts.google.com. Check your network.",
        last_error_action: { action: "check_network" },
      }),
    );
    expect(screen.getByTestId("state-summary")).toHaveTextContent("Sign in again to keep using it.");
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();
    expect(screen.getByTestId("detail")).not.toHaveTextContent("Check your network");
  });

  it("says Not connected, not Not signed in yet, for a connection that was disconnected", async () => {
    await openDetail(connectionDto({ status: "new", created_at: "2024-01-01T00:00:00Z" }));
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Not connected");
    // The status card (Recent use below may say nothing used it yet: that is about uses, not the sign-in).
    expect(screen.getByTestId("state")).not.toHaveTextContent(/yet/);
    expect(screen.getByTestId("connect")).toHaveTextContent("Sign in");
  });

  it("counts offline_access as granted when the service gave a refresh token", async () => {
    await openDetail(
      connectionDto({
        status: "connected",
        access_expires_at: minutesFromNow(60),
        access_issued_at: minutesFromNow(-1),
        has_refresh_token: true,
        scopes: ["openid", "offline_access"],
        granted_scopes: ["openid"],
        missing_scopes: ["offline_access"],
      }),
    );
    const granted = within(screen.getByTestId("granted-scopes"));
    expect(granted.getAllByTestId("scope").map((scope) => scope.textContent)).toEqual(["openid", "offline_access"]);
    expect(granted.queryByTestId("scope-missing")).not.toBeInTheDocument();
    expect(screen.getByTestId("state-summary")).toHaveTextContent("Renews automatically");
  });

  it("keeps Refresh now enabled while retrying, as the main button, and says when Latch tries again", async () => {
    const retryAt = new Date(Date.now() + 3 * 60_000);
    const clock = `${String(retryAt.getHours()).padStart(2, "0")}:${String(retryAt.getMinutes()).padStart(2, "0")}`;
    const backend = await openDetail(
      connectionDto({
        status: "error",
        access_issued_at: minutesFromNow(-70),
        access_expires_at: minutesFromNow(-10),
        has_refresh_token: true,
        retry_at: retryAt.toISOString(),
        last_error: "Latch could not reach oauth2.googleapis.com. Check your network.",
        last_error_action: { action: "retry_later", at: retryAt.toISOString() },
      }),
      { connection_refresh: () => connectionDto({ status: "connected", has_refresh_token: true, access_issued_at: new Date().toISOString(), access_expires_at: minutesFromNow(60) }) },
    );
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Retrying in 3 min");
    expect(screen.getByTestId("state-summary")).toHaveTextContent(`Latch tries again at ${clock} — or refresh now.`);
    // The reason, still true, is shown as a passing problem.
    expect(screen.getByTestId("error-message")).toHaveTextContent("Check your network.");
    const refresh = screen.getByTestId("refresh");
    expect(refresh).toHaveClass("primary");
    expect(refresh).toBeEnabled();
    await userEvent.click(refresh);
    await waitFor(() => expect(backend.called("connection_refresh")).toHaveLength(1));
  });

  it("explains what no refresh token means, when a sign-in will be needed, and that offline access was refused", async () => {
    const expires = new Date(Date.now() + 40 * 60_000);
    const clock = `${String(expires.getHours()).padStart(2, "0")}:${String(expires.getMinutes()).padStart(2, "0")}`;
    await openDetail(
      connectionDto({
        status: "connected",
        access_issued_at: minutesFromNow(-20),
        access_expires_at: expires.toISOString(),
        has_refresh_token: false,
        scopes: ["openid", "offline_access"],
        granted_scopes: ["openid"],
        missing_scopes: ["offline_access"],
      }),
    );
    expect(screen.getByTestId("state-summary").textContent?.trim()).toMatch(
      new RegExp(`^This service gave no refresh token: Latch cannot renew the sign-in; you will need to sign in again when it expires (at|tomorrow at) ${clock}\\.$`),
    );
    expect(screen.getByTestId("state-note")).toHaveTextContent(
      "Latch asked the service to let it stay signed in (offline access), but the service did not allow it.",
    );
    expect(screen.getByTestId("detail")).not.toHaveTextContent("Refresh token: issued");
  });

  it("moves focus to the status when a sign-in finishes", async () => {
    let connection = connectionDto();
    await openDetail(connection, { connections_list: () => [connection], sign_in_start: () => ({ session: "si_1" }) });
    await userEvent.click(screen.getByTestId("connect"));
    await screen.findByTestId("waiting");
    connection = connectionDto({ status: "connected", has_refresh_token: true, access_issued_at: new Date().toISOString(), access_expires_at: minutesFromNow(60) });
    await signIn("si_1", { stage: "finished", outcome: { result: "connected", account: null } });
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getByTestId("state")).toHaveFocus());
    expect(screen.getByTestId("announcement")).toHaveTextContent("Google Drive is connected.");
  });

  it("opens More from the keyboard, moves with the arrows, closes on Escape and gives focus back", async () => {
    await openDetail(connectionDto({ status: "connected", has_refresh_token: true, access_issued_at: minutesFromNow(-1), access_expires_at: minutesFromNow(60) }));
    const more = screen.getByTestId("more-actions");
    expect(more).toHaveAttribute("aria-haspopup", "menu");
    expect(more).toHaveAttribute("aria-expanded", "false");
    more.focus();
    await userEvent.keyboard("{Enter}");
    expect(more).toHaveAttribute("aria-expanded", "true");
    const menu = screen.getByRole("menu");
    const items = within(menu).getAllByRole("menuitem");
    expect(items.map((item) => item.textContent?.trim())).toEqual([
      "Reconnect",
      "Refresh now",
      "Copy access token",
      "Edit settings",
      "Export…",
      "Disconnect…",
      "Delete…",
    ]);
    await waitFor(() => expect(items[0]).toHaveFocus());
    await userEvent.keyboard("{ArrowDown}");
    expect(items[1]).toHaveFocus();
    await userEvent.keyboard("{ArrowUp}{ArrowUp}");
    expect(items[items.length - 1]).toHaveFocus();
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("menu")).not.toBeInTheDocument();
    expect(more).toHaveFocus();
  });

  it("shows the service's error code, description and raw answer only behind Details", async () => {
    await openDetail(connectionDto(), { sign_in_start: () => ({ session: "si_1" }) });
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", {
      stage: "finished",
      outcome: {
        result: "failed",
        code: "needs_authorization",
        message: "The provider refused the sign-in code. It may have expired or been used already.",
        action: { action: "sign_in_again", connection: "Google Drive", paste: false },
        provider: { error: "invalid_grant", error_description: "Authorization code expired", error_uri: null },
        details: '{"error":"invalid_grant","error_description":"Authorization code expired"}',
      },
    });
    const notice = (await screen.findByTestId("error-message")).closest(".notice") as HTMLElement;
    expect(notice).not.toHaveTextContent("invalid_grant");
    await userEvent.click(within(notice).getByRole("button", { name: "Details" }));
    const details = screen.getByTestId("error-details");
    expect(details).toHaveTextContent("Error code invalid_grant");
    expect(details).toHaveTextContent("Description Authorization code expired");
    expect(details).toHaveTextContent('{"error":"invalid_grant"');
    // The main button signs in again; the notice does not repeat it.
    expect(screen.getAllByRole("button", { name: /Sign in/ })).toHaveLength(1);
  });
});
