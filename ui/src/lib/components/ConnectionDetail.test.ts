import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto } from "$lib/ipc";
import { connectionDto, mockBackend } from "../../test-fixtures";

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

afterEach(() => vi.restoreAllMocks());

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
    expect(screen.getByTestId("refresh-token-issued")).toHaveTextContent("Refresh token: issued");
    expect(screen.getByTestId("account")).toHaveTextContent("ann@example.com");
    const granted = within(screen.getByTestId("granted-scopes"));
    expect(granted.getAllByTestId("scope").map((scope) => scope.textContent)).toEqual(["openid", "email"]);
    expect(granted.getByTestId("scope-missing")).toHaveTextContent("drive not granted");
    expect(screen.getByTestId("connect")).toHaveTextContent("Reconnect");
  });

  it("names the connection in the Delete confirmation and removes it only after confirming", async () => {
    const backend = await openDetail(connectionDto({ name: "Work Drive" }), {
      connection_remove: () => ({ revoked: false, revoke_error: null }),
    });
    await userEvent.click(screen.getByTestId("delete"));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Delete “Work Drive”?");
    expect(backend.called("connection_remove")).toHaveLength(0);
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
    expect(backend.called("connection_remove")).toHaveLength(0);

    await userEvent.click(screen.getByTestId("delete"));
    await userEvent.click(screen.getByTestId("confirm-delete"));
    await waitFor(() => expect(backend.called("connection_remove")).toEqual([{ command: "connection_remove", args: { id: "cn_01" } }]));
    await waitFor(() => expect(screen.queryByTestId("detail")).not.toBeInTheDocument());
  });

  it("shows the waiting panel on sign-in-started and cancels through connection_connect_cancel", async () => {
    let rejectConnect: (reason: unknown) => void = () => {};
    const backend = await openDetail(connectionDto(), {
      connection_connect: () => new Promise((_, reject) => (rejectConnect = reject)),
      connection_connect_cancel: () => {
        rejectConnect({ code: "cancelled", message: "Sign-in cancelled.", fields: [], details: null });
        return null;
      },
    });
    await userEvent.click(screen.getByTestId("connect"));
    await emit("sign-in-started", {
      id: "cn_01",
      authorize_url: "https://accounts.google.com/o/oauth2/v2/auth?client_id=client-123",
      redirect_uri: "http://127.0.0.1:49152/callback",
      deadline: new Date(Date.now() + 5 * 60_000).toISOString(),
      browser_error: null,
    });
    const waiting = await screen.findByTestId("waiting");
    expect(waiting).toHaveTextContent("Waiting for you to sign in in your browser…");
    expect(screen.getByTestId("time-left").textContent).toMatch(/^[45]:\d\d$/);
    expect(screen.getByRole("textbox", { name: "Sign-in link" })).toHaveValue(
      "https://accounts.google.com/o/oauth2/v2/auth?client_id=client-123",
    );

    await userEvent.click(screen.getByTestId("cancel-connect"));
    expect(backend.called("connection_connect_cancel")).toEqual([{ command: "connection_connect_cancel", args: { id: "cn_01" } }]);
    await waitFor(() => expect(screen.queryByTestId("waiting")).not.toBeInTheDocument());
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();
  });

  it("shows a failed sign-in as a sentence with the provider's answer behind Details", async () => {
    await openDetail(connectionDto(), {
      connection_connect: () => {
        throw {
          code: "provider",
          message: "Google said the sign-in code was already used. Click Connect to try again.",
          fields: [],
          details: '{"error":"invalid_grant"}',
        };
      },
    });
    await userEvent.click(screen.getByTestId("connect"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("already used");
    expect(screen.queryByTestId("error-details")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Details" }));
    expect(screen.getByTestId("error-details")).toHaveTextContent('{"error":"invalid_grant"}');
  });

  it("shows the connected detail after a successful connect", async () => {
    await openDetail(connectionDto(), {
      connection_connect: () =>
        connectionDto({ status: "connected", access_expires_at: minutesFromNow(60), access_issued_at: new Date().toISOString(), granted_scopes: ["openid", "email"] }),
    });
    await userEvent.click(screen.getByTestId("connect"));
    await waitFor(() => expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected"));
    expect(screen.getByTestId("refresh-token-issued")).toHaveTextContent("Refresh token: not issued");
    expect(screen.getByTestId("refresh")).toBeEnabled();
  });

  it("copies the access token only when Copy is clicked", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const backend = await openDetail(connectionDto({ status: "connected", access_expires_at: minutesFromNow(60) }), {
      access_token_reveal: () => "ya29.token",
    });
    expect(backend.called("access_token_reveal")).toHaveLength(0);
    await userEvent.click(screen.getByTestId("copy-token"));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("ya29.token"));
    expect(screen.getByTestId("copy-token")).toHaveTextContent("Copied");
    expect(document.body.textContent).not.toContain("ya29.token");
  });

  it("asks before disconnecting and says whether the service was told", async () => {
    const backend = await openDetail(connectionDto({ status: "connected", access_issued_at: minutesFromNow(-5) }), {
      connection_disconnect: () => ({ revoked: false, revoke_error: "The service did not answer." }),
    });
    await userEvent.click(screen.getByTestId("disconnect"));
    expect(backend.called("connection_disconnect")).toHaveLength(0);
    await userEvent.click(screen.getByTestId("confirm-disconnect"));
    expect(await screen.findByTestId("disconnect-outcome")).toHaveTextContent("could not be told");
  });

  it("keeps Refresh now disabled until the connection is signed in", async () => {
    await openDetail(connectionDto({ status: "new" }));
    expect(screen.getByTestId("refresh")).toBeDisabled();
    expect(screen.getByTestId("refresh-token-issued")).toHaveTextContent("Refresh token: not issued");
  });

  it("shows the device code large with Copy and Open verification page, and ends with the engine's message", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    let rejectConnect: (reason: unknown) => void = () => {};
    const backend = await openDetail(connectionDto({ flow: "device_code", pkce: "off", name: "TV" }), {
      connection_connect: () => new Promise((_, reject) => (rejectConnect = reject)),
      "plugin:opener|open_url": () => null,
    });
    await userEvent.click(screen.getByTestId("connect"));
    await emit("device-code-shown", {
      id: "cn_01",
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

    rejectConnect({
      code: "needs_authorization",
      message: "Nobody entered the code before it expired. Click Connect to get a new one.",
      fields: [],
      details: null,
    });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("Nobody entered the code before it expired.");
    expect(screen.queryByTestId("user-code")).not.toBeInTheDocument();
  });

  it("the paste sign-in sends the address from the browser and refuses one from elsewhere", async () => {
    let resolveConnect: (value: unknown) => void = () => {};
    const backend = await openDetail(connectionDto({ name: "Make", redirect_uri_override: "https://www.make.com/oauth/cb/app" }), {
      connection_connect: () => new Promise((resolve) => (resolveConnect = resolve)),
      connection_paste_submit: ({ id }) => {
        resolveConnect(connectionDto({ id: id as string, name: "Make", status: "connected", access_issued_at: new Date().toISOString() }));
        return null;
      },
    });
    await userEvent.click(screen.getByTestId("connect"));
    await emit("sign-in-started", {
      id: "cn_01",
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
    expect(backend.called("connection_paste_submit")).toHaveLength(0);

    await userEvent.clear(field);
    await userEvent.type(field, "https://www.make.com/oauth/cb/app?code=abc&state=s1");
    await userEvent.click(screen.getByTestId("paste-submit"));
    expect(backend.lastArgs("connection_paste_submit")).toEqual({ id: "cn_01", address: "https://www.make.com/oauth/cb/app?code=abc&state=s1" });
    await waitFor(() => expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected"));
    expect(screen.queryByTestId("waiting")).not.toBeInTheDocument();
  });

  it("exports the connection's settings to the chosen file and says where", async () => {
    const backend = await openDetail(connectionDto({ name: "Work Drive" }), {
      connections_export: () => "/home/ann/Work Drive.latch.json",
    });
    await userEvent.click(screen.getByTestId("export"));
    expect(await screen.findByTestId("export-result")).toHaveTextContent(
      "Saved “Work Drive”'s settings (no secrets) to /home/ann/Work Drive.latch.json.",
    );
    expect(backend.lastArgs("connections_export")).toEqual({ ids: ["cn_01"] });
  });
});
