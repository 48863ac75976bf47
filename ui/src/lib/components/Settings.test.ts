import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { SettingsDto } from "$lib/ipc";
import App from "../../App.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";
import Settings from "./Settings.svelte";

const DEFAULTS: SettingsDto = {
  start_at_login: false,
  notify_reauth: true,
  notify_expiry: true,
  warn_ahead_hours: 24,
  usage_kept_days: 30,
};

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
      settings: { start_at_login: true, notify_reauth: false, notify_expiry: true, warn_ahead_hours: 72, usage_kept_days: 30 },
    });
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
  });

  it("keeps the record of use for the days typed, saved like the other choices", async () => {
    let stored = { ...DEFAULTS };
    const backend = mockBackend({
      settings_get: () => stored,
      settings_save: ({ settings }) => (stored = { ...(settings as SettingsDto) }),
    });
    render(Settings, { onclose: () => {} });
    const days = (await screen.findByLabelText(/Keep the record of use for/)) as HTMLInputElement;
    expect(days).toHaveValue(30);
    expect(days.closest("label")).toHaveTextContent(/Keep the record of use for\s+days/);
    const save = screen.getByRole("button", { name: "Save" });
    expect(save).toBeDisabled();

    const user = userEvent.setup();
    await user.clear(days);
    await user.type(days, "7");
    expect(save).toBeEnabled();
    await user.click(save);
    await waitFor(() => expect(screen.getByTestId("settings-status")).toHaveTextContent("Saved."));
    expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...DEFAULTS, usage_kept_days: 7 } });
    expect(days).toHaveValue(7);
  });

  it("says beside the field when the engine refuses the number of days, and saves nothing", async () => {
    const backend = mockBackend({
      settings_get: () => DEFAULTS,
      settings_save: ({ settings }) => {
        const days = (settings as SettingsDto).usage_kept_days;
        if (days >= 1 && days <= 365) return settings;
        const message = "Keep the record of use for 1 to 365 days.";
        throw { code: "validation", message, fields: [{ field: "usage_kept_days", message }], details: null };
      },
    });
    render(Settings, { onclose: () => {} });
    const days = (await screen.findByLabelText(/Keep the record of use for/)) as HTMLInputElement;
    const user = userEvent.setup();
    for (const typed of ["400", ""]) {
      await user.clear(days);
      if (typed) await user.type(days, typed);
      await user.click(screen.getByRole("button", { name: "Save" }));
      expect(await screen.findByTestId("error-usage_kept_days")).toHaveTextContent(
        "Keep the record of use for 1 to 365 days.",
      );
      expect(days).toHaveAttribute("aria-invalid", "true");
      expect(days).toHaveAccessibleDescription(/Keep the record of use for 1 to 365 days\./);
    }
    // An emptied field is sent as no days at all, for the engine to refuse.
    expect(backend.called("settings_save").map((call) => (call.args.settings as SettingsDto).usage_kept_days)).toEqual([
      400, 0,
    ]);
    expect(screen.queryByTestId("settings-status")).toHaveTextContent("");
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
