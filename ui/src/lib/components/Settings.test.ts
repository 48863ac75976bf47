import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { SettingsDto } from "$lib/ipc";
import App from "../../App.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";
import Settings from "./Settings.svelte";

const DEFAULTS: SettingsDto = { start_at_login: false, notify_reauth: true, notify_expiry: true, warn_ahead_hours: 24 };

describe("Settings", () => {
  it("shows what is saved, saves only after a change and sends every choice", async () => {
    let stored = { ...DEFAULTS };
    const backend = mockBackend({
      settings_get: () => stored,
      settings_save: ({ settings }) => (stored = { ...(settings as SettingsDto) }),
    });
    render(Settings, { onclose: () => {} });
    const login = await screen.findByRole("checkbox", { name: /Start Latch when I log in/ });
    expect(login).not.toBeChecked();
    expect(screen.getByRole("checkbox", { name: /needs me to sign in again/ })).toBeChecked();
    const save = screen.getByRole("button", { name: "Save" });
    expect(save).toBeDisabled();

    const user = userEvent.setup();
    await user.click(login);
    await user.click(screen.getByRole("checkbox", { name: /needs me to sign in again/ }));
    await user.selectOptions(screen.getByLabelText("Warn me"), "3 days before");
    expect(save).toBeEnabled();
    await user.click(save);

    await waitFor(() => expect(screen.getByTestId("settings-status")).toHaveTextContent("Saved."));
    expect(backend.lastArgs("settings_save")).toEqual({
      settings: { start_at_login: true, notify_reauth: false, notify_expiry: true, warn_ahead_hours: 72 },
    });
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
  });

  it("cannot choose how early to warn while the warning is off", async () => {
    mockBackend({ settings_get: () => ({ ...DEFAULTS, notify_expiry: false }) });
    render(Settings, { onclose: () => {} });
    await screen.findByRole("checkbox", { name: /Before a sign-in runs out/ });
    expect(screen.getByLabelText("Warn me")).toBeDisabled();
  });

  it("keeps an hour count saved elsewhere selectable", async () => {
    mockBackend({ settings_get: () => ({ ...DEFAULTS, warn_ahead_hours: 48 }) });
    render(Settings, { onclose: () => {} });
    const select = (await screen.findByLabelText("Warn me")) as HTMLSelectElement;
    expect(select.selectedOptions[0].textContent).toBe("48 hours before");
  });

  it("says why saving failed and keeps the choices as typed", async () => {
    mockBackend({
      settings_get: () => DEFAULTS,
      settings_save: () => {
        throw {
          code: "storage",
          message: "Your other settings are saved, but starting at login could not be changed: permission denied.",
          fields: [],
          details: null,
        };
      },
    });
    render(Settings, { onclose: () => {} });
    const user = userEvent.setup();
    const login = await screen.findByRole("checkbox", { name: /Start Latch when I log in/ });
    await user.click(login);
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText(/starting at login could not be changed/)).toBeInTheDocument();
    expect(login).toBeChecked();
  });

  it("opens from the gear button beside the list", async () => {
    mockBackend({ connections_list: () => [], settings_get: () => DEFAULTS });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Settings" }));
    expect(await screen.findByRole("heading", { name: "Settings" })).toBeInTheDocument();
  });
});

describe("Settings changes are never lost", () => {
  it("saves a ticked “Start at login” when Settings is closed without Save", async () => {
    const backend = mockBackend({ settings_get: () => DEFAULTS, settings_save: ({ settings }) => settings });
    const onclose = vi.fn();
    render(Settings, { onclose });
    const user = userEvent.setup();
    await user.click(await screen.findByRole("checkbox", { name: /Start Latch when I log in/ }));
    expect(screen.getByTestId("settings-close")).toHaveTextContent("Save and close");
    await user.click(screen.getByTestId("settings-close"));
    await waitFor(() => expect(onclose).toHaveBeenCalled());
    expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...DEFAULTS, start_at_login: true } });
  });

  it("stays open and says why when saving on Close fails", async () => {
    mockBackend({
      settings_get: () => DEFAULTS,
      settings_save: () => {
        throw { code: "storage", message: "Starting at login could not be changed: permission denied.", fields: [], details: null };
      },
    });
    const onclose = vi.fn();
    render(Settings, { onclose });
    const user = userEvent.setup();
    await user.click(await screen.findByRole("checkbox", { name: /Start Latch when I log in/ }));
    await user.click(screen.getByTestId("settings-close"));
    expect(await screen.findByText(/could not be changed/)).toBeInTheDocument();
    expect(onclose).not.toHaveBeenCalled();
  });

  it("saves what changed before another screen opens from the list", async () => {
    const backend = mockBackend({
      connections_list: () => [connectionDto({ name: "Google Drive" })],
      settings_get: () => DEFAULTS,
      settings_save: ({ settings }) => settings,
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Settings" }));
    await user.click(await screen.findByRole("checkbox", { name: /Start Latch when I log in/ }));
    await user.click(screen.getByTestId("connection-row"));
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Google Drive");
    expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...DEFAULTS, start_at_login: true } });
  });
});
