import { render, screen, waitFor, within } from "@testing-library/svelte";
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
  proxy_enabled: false,
  proxy_port: 0,
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
      settings: { start_at_login: true, notify_reauth: false, notify_expiry: true, warn_ahead_hours: 72, usage_kept_days: 30, proxy_enabled: false, proxy_port: 0 },
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

describe("the Local proxy box", () => {
  it("switches the proxy on with a port, then shows where it runs and copies its key through the shell", async () => {
    let stored = { ...DEFAULTS };
    let running = false;
    const backend = mockBackend({
      settings_get: () => stored,
      settings_save: ({ settings }) => {
        stored = settings as SettingsDto;
        running = stored.proxy_enabled;
        return stored;
      },
      proxy_state: () => ({ address: running ? "http://127.0.0.1:8787" : null, problem: null }),
      proxy_key_copy: () => ({ clears_in_seconds: 45 }),
    });
    render(Settings, { onclose: () => {} });
    const user = userEvent.setup();
    const box = within(await screen.findByRole("group", { name: "Local proxy" }));
    expect(box.getByText("Scripts use it with latch exec, or with the key in a Proxy-Authorization header.")).toBeInTheDocument();
    const port = box.getByRole("spinbutton", { name: "Port" });
    expect(port).toBeDisabled();
    await user.click(box.getByRole("checkbox", { name: /Let programs on this computer use connections through Latch/ }));
    await user.clear(port);
    await user.type(port, "8787");
    expect(screen.queryByTestId("proxy-running")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...DEFAULTS, proxy_enabled: true, proxy_port: 8787 } }));
    expect(await screen.findByTestId("proxy-address")).toHaveTextContent("http://127.0.0.1:8787");
    await user.click(screen.getByRole("button", { name: "Copy proxy key" }));
    expect(await screen.findByTestId("proxy-key-status")).toHaveTextContent("Copied — cleared in 45 s");
    expect(backend.called("proxy_key_copy")).toHaveLength(1);
    // The key itself never came to the page.
    expect(JSON.stringify(backend.calls)).not.toMatch(/key":/);
  });

  it("says beside the port, in plain words, when another program uses it", async () => {
    mockBackend({
      settings_get: () => ({ ...DEFAULTS, proxy_enabled: true, proxy_port: 8080 }),
      proxy_state: () => ({
        address: null,
        problem: "Port 8080 is already used by another program. Choose another port, or 0 for any free port.",
      }),
    });
    render(Settings, { onclose: () => {} });
    expect(await screen.findByTestId("proxy-problem")).toHaveTextContent(
      "The proxy is not running. Port 8080 is already used by another program. Choose another port, or 0 for any free port.",
    );
    expect(screen.getByRole("spinbutton", { name: "Port" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByRole("button", { name: "Copy proxy key" })).toBeNull();
  });

  it("shows the engine's rule for a port out of range beside the field, and a port past 65535 gets the same words", async () => {
    const message = "Choose a port from 1024 to 65535, or 0 to let Latch pick a free one.";
    const backend = mockBackend({
      settings_get: () => ({ ...DEFAULTS, proxy_enabled: true }),
      settings_save: ({ settings }) => {
        const port = (settings as SettingsDto).proxy_port;
        if (port !== 0 && port < 1024) throw { code: "validation", message, fields: [{ field: "proxy_port", message }], details: null };
        return settings;
      },
    });
    render(Settings, { onclose: () => {} });
    const user = userEvent.setup();
    const port = await screen.findByRole("spinbutton", { name: "Port" });
    await user.clear(port);
    await user.type(port, "70000");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByTestId("error-proxy_port")).toHaveTextContent(message);
    expect(backend.lastArgs("settings_save")).toEqual({ settings: { ...DEFAULTS, proxy_enabled: true, proxy_port: 1 } });
    // Beside the field only, not again above the form.
    expect(screen.getAllByText(message)).toHaveLength(1);
  });
});

