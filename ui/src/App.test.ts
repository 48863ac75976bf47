import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it } from "vitest";
import type { SignInEvent } from "$lib/ipc";
import App from "./App.svelte";
import { connectionDto, mockBackend } from "./test-fixtures";

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

describe("the connection list", () => {
  it("explains what a connection is and offers one Add button when there are none", async () => {
    mockBackend({ connections_list: () => [] });
    render(App);
    expect(await screen.findByText(/A connection lets Latch sign in to a service/)).toBeInTheDocument();
    expect(screen.getAllByTestId("add-connection")).toHaveLength(1);
  });

  it("shows a row with a status badge for each connection", async () => {
    mockBackend({
      connections_list: () => [
        connectionDto({ id: "cn_1", name: "Google Drive", status: "connected", access_expires_at: minutesFromNow(60), account: "ann@example.com" }),
        connectionDto({ id: "cn_2", name: "GitHub", status: "connected", access_expires_at: minutesFromNow(12), provider_host: "github.com" }),
        connectionDto({ id: "cn_3", name: "Slack", status: "needs_reauth" }),
        connectionDto({ id: "cn_4", name: "Dropbox", status: "new" }),
      ],
    });
    render(App);
    const rows = await screen.findAllByTestId("connection-row");
    expect(rows.map((row) => row.dataset.name)).toEqual(["Google Drive", "GitHub", "Slack", "Dropbox"]);
    const badges = rows.map((row) => within(row).getByTestId("status-badge").textContent);
    expect(badges).toEqual(["Connected", "Expires in 12 min", "Needs sign-in", "Not connected"]);
    // The account and the service, not the flow's name.
    expect(within(rows[0]).getByText("ann@example.com · accounts.google.com")).toBeInTheDocument();
    expect(rows[0].textContent).not.toContain("Authorization code");
    expect(screen.getAllByTestId("add-connection")).toHaveLength(1);
    expect(screen.queryByTestId("search")).not.toBeInTheDocument();
  });

  it("offers a filter once there are more than five connections", async () => {
    const names = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"];
    mockBackend({ connections_list: () => names.map((name, i) => connectionDto({ id: `cn_${i}`, name })) });
    render(App);
    const search = await screen.findByTestId("search");
    await userEvent.type(search, "ta");
    expect(screen.getAllByTestId("connection-row").map((row) => row.dataset.name)).toEqual(["Beta", "Delta", "Zeta"]);
  });

  it("opens the detail when a row is chosen with the keyboard", async () => {
    mockBackend({ connections_list: () => [connectionDto({ name: "Google Drive" })] });
    render(App);
    const row = await screen.findByTestId("connection-row");
    row.focus();
    await userEvent.keyboard("{Enter}");
    expect(screen.getByTestId("detail-name")).toHaveTextContent("Google Drive");
  });

  it("reloads when the connections change elsewhere", async () => {
    let connections = [connectionDto({ name: "Google Drive" })];
    mockBackend({ connections_list: () => connections });
    render(App);
    await screen.findByTestId("connection-row");
    connections = [...connections, connectionDto({ id: "cn_2", name: "Made by the CLI" })];
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getAllByTestId("connection-row")).toHaveLength(2));
  });

  it("opens the connection and starts its sign-in when Reconnect is clicked on a notification", async () => {
    const backend = mockBackend({
      connections_list: () => [connectionDto({ id: "cn_1", name: "Slack", status: "needs_reauth" })],
      sign_in_start: () => ({ session: "si_1" }),
    });
    render(App);
    await screen.findByTestId("connection-row");
    await emit("reconnect-requested", "cn_1");
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Slack");
    await waitFor(() => expect(backend.lastArgs("sign_in_start")).toEqual({ id: "cn_1" }));
    expect(screen.getByTestId("waiting")).toBeInTheDocument();
  });

  it("shows a load failure with no button for waiting, and clears it once the list loads", async () => {
    let fail = true;
    mockBackend({
      connections_list: () => {
        if (fail) throw { code: "storage", message: "Latch could not read its list.", fields: [], action: { action: "retry_later", at: null }, provider: null, details: null };
        return [];
      },
    });
    render(App);
    expect(await screen.findByTestId("error-message")).toHaveTextContent("Latch could not read its list.");
    // Waiting is not a button.
    expect(screen.queryByTestId("error-action")).not.toBeInTheDocument();
    fail = false;
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.queryByTestId("error-message")).not.toBeInTheDocument());
  });
});

describe("the list's badges", () => {
  it("shortens a retry to Retrying… so a long badge never squeezes the name, and keeps the full words", async () => {
    mockBackend({
      connections_list: () => [
        connectionDto({
          name: "Long name of a team drive",
          status: "connected",
          has_refresh_token: true,
          access_expires_at: minutesFromNow(30),
          retry_at: new Date(Date.now() + 20_000).toISOString(),
        }),
      ],
    });
    render(App);
    const badge = within(await screen.findByTestId("connection-row")).getByTestId("status-badge");
    expect(badge).toHaveAttribute("title", "Retrying in less than a minute");
    expect(within(badge).getByText("Retrying…")).toHaveAttribute("aria-hidden", "true");
    expect(within(badge).getByText("Retrying in less than a minute")).toHaveClass("visually-hidden");
  });
});

describe("starting at login, offered after the first connect", () => {
  const signIn = (session: string, event: SignInEvent, id = "cn_1") => emit("sign-in", { session, id, event });
  const settings = { start_at_login: false, notify_reauth: true, notify_expiry: true, warn_ahead_hours: 24, usage_kept_days: 30 };

  afterEach(() => localStorage.clear());

  async function firstConnect(handlers: Parameters<typeof mockBackend>[0] = {}, others: ReturnType<typeof connectionDto>[] = []) {
    const backend = mockBackend({
      connections_list: () => [connectionDto({ id: "cn_1", name: "Team Drive" }), ...others],
      settings_get: () => settings,
      sign_in_start: () => ({ session: "si_1" }),
      ...handlers,
    });
    render(App);
    await userEvent.click((await screen.findAllByTestId("connection-row"))[0]);
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", { stage: "finished", outcome: { result: "connected", account: null } });
    return backend;
  }

  it("asks once, after the first connect ever, and Yes turns it on with the other settings kept", async () => {
    const backend = await firstConnect({ settings_save: ({ settings }) => settings });
    const offer = await screen.findByTestId("start-at-login-offer");
    expect(offer).toHaveTextContent("Latch renews your connections only while it runs. Start Latch when you log in?");
    await userEvent.click(within(offer).getByRole("button", { name: "Yes" }));
    await waitFor(() => expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...settings, start_at_login: true } }));
    expect(await screen.findByTestId("start-at-login-offer")).toHaveTextContent("Latch will start when you log in.");

    // Another connect does not ask again.
    await userEvent.click(screen.getByRole("button", { name: "OK" }));
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("connect"));
    await signIn("si_1", { stage: "finished", outcome: { result: "connected", account: null } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByTestId("start-at-login-offer")).not.toBeInTheDocument();
  });

  it("remembers Not now and does not ask again", async () => {
    await firstConnect();
    await userEvent.click(await screen.findByRole("button", { name: "Not now" }));
    expect(screen.queryByTestId("start-at-login-offer")).not.toBeInTheDocument();
    expect(localStorage.getItem("latch.start-at-login-asked")).not.toBeNull();
  });

  it("does not ask when Latch already starts at login", async () => {
    const backend = await firstConnect({ settings_get: () => ({ ...settings, start_at_login: true }) });
    await waitFor(() => expect(backend.called("settings_get")).toHaveLength(1));
    expect(screen.queryByTestId("start-at-login-offer")).not.toBeInTheDocument();
  });

  it("does not ask when another connection had already worked", async () => {
    const backend = await firstConnect({}, [
      connectionDto({ id: "cn_2", name: "Mail", status: "connected", access_issued_at: minutesFromNow(-5), has_refresh_token: true }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByTestId("start-at-login-offer")).not.toBeInTheDocument();
    expect(backend.called("settings_get")).toHaveLength(0);
  });
});
