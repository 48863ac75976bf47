import { render, screen, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import { connectionDto, mockBackend } from "./test-fixtures";

describe("leaving a changed connection form", () => {
  it("asks “Discard changes?” before a click on another connection throws the form away", async () => {
    mockBackend({
      connections_list: () => [connectionDto({ name: "Google Drive" })],
      presets_list: () => [],
      connection_check: () => [],
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("add-connection"));
    await user.click(await screen.findByTestId("preset-custom"));
    await user.type(await screen.findByRole("textbox", { name: "Connection name" }), "Half done");
    await user.click(screen.getByTestId("connection-row"));
    expect(await screen.findByRole("alertdialog", { name: "Discard changes?" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Keep editing" }));
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveValue("Half done");
    await user.click(screen.getByRole("button", { name: "Settings" }));
    await user.click(await screen.findByTestId("confirm-discard"));
    expect(await screen.findByRole("heading", { name: "Settings" })).toBeInTheDocument();
  });

  it("leaves an unchanged form at once", async () => {
    mockBackend({
      connections_list: () => [connectionDto({ name: "Google Drive" })],
      presets_list: () => [],
      connection_check: () => [],
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("add-connection"));
    await user.click(await screen.findByTestId("preset-custom"));
    await screen.findByTestId("connection-form");
    await user.click(screen.getByTestId("connection-row"));
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Google Drive");
    expect(screen.queryByRole("alertdialog")).toBeNull();
  });
});

describe("the tray and notifications change the view through the same question", () => {
  const DEFAULTS = { start_at_login: false, notify_reauth: true, notify_expiry: true, warn_ahead_hours: 24, usage_kept_days: 30, proxy_enabled: false, proxy_port: 0 };

  async function halfDoneForm() {
    const backend = mockBackend({
      connections_list: () => [connectionDto({ name: "Google Drive" })],
      presets_list: () => [],
      connection_check: () => [],
      settings_get: () => DEFAULTS,
      sign_in_start: () => ({ session: "s1" }),
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("add-connection"));
    await user.click(await screen.findByTestId("preset-custom"));
    await user.type(await screen.findByRole("textbox", { name: "Connection name" }), "Half done");
    return { backend, user };
  }

  it("the tray's Settings… asks “Discard changes?” over a changed form, and Keep editing stays put", async () => {
    const { user } = await halfDoneForm();
    await emit("open-settings", null);
    expect(await screen.findByRole("alertdialog", { name: "Discard changes?" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Keep editing" }));
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveValue("Half done");
    expect(screen.queryByTestId("settings")).toBeNull();

    await emit("open-settings", null);
    await user.click(await screen.findByTestId("confirm-discard"));
    expect(await screen.findByRole("heading", { name: "Settings" })).toBeInTheDocument();
  });

  it("a notification's Sign in again asks first, and signs in only once the form is given up", async () => {
    const { backend, user } = await halfDoneForm();
    await emit("reconnect-requested", "cn_01");
    expect(await screen.findByRole("alertdialog", { name: "Discard changes?" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Keep editing" }));
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveValue("Half done");
    expect(backend.called("sign_in_start")).toHaveLength(0);

    await emit("reconnect-requested", "cn_01");
    await user.click(await screen.findByTestId("confirm-discard"));
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Google Drive");
    await waitFor(() => expect(backend.called("sign_in_start")).toHaveLength(1));
  });

  it("the tray's Settings… over changed Settings keeps them: they are saved first", async () => {
    let stored = { ...DEFAULTS };
    const backend = mockBackend({
      connections_list: () => [connectionDto({ name: "Google Drive" })],
      settings_get: () => stored,
      settings_save: ({ settings }) => (stored = { ...(settings as typeof DEFAULTS) }),
      sign_in_start: () => ({ session: "s1" }),
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Settings" }));
    await user.click(await screen.findByRole("checkbox", { name: /Start Latch when I log in/ }));
    await emit("reconnect-requested", "cn_01");
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Google Drive");
    expect(backend.called("settings_save")).toHaveLength(1);
    expect(stored.start_at_login).toBe(true);
  });
});
