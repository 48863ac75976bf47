import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import App from "./App.svelte";
import { connectionDto, mockBackend } from "./test-fixtures";

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
const connected = () =>
  connectionDto({ name: "Lab", status: "connected", has_refresh_token: true, access_issued_at: minutesFromNow(-1), access_expires_at: minutesFromNow(60) });

/** Tabs once round `dialog`'s controls and checks that focus never left it. */
async function tabsStayInside(dialog: HTMLElement) {
  for (let step = 0; step < 4; step++) {
    await userEvent.tab();
    expect(dialog.contains(document.activeElement)).toBe(true);
  }
  await userEvent.tab({ shift: true });
  expect(dialog.contains(document.activeElement)).toBe(true);
}

afterEach(() => localStorage.clear());

describe("every dialog in the app", () => {
  for (const [item, title, keep] of [
    ["disconnect", "Disconnect “Lab”?", "Keep connected"],
    ["delete", "Delete “Lab”?", "Cancel"],
  ] as const) {
    it(`${title} keeps the keyboard and gives the focus back to More when kept`, async () => {
      mockBackend({ connections_list: () => [connected()] });
      render(App);
      await userEvent.click(await screen.findByTestId("connection-row"));
      const more = screen.getByTestId("more-actions");
      await userEvent.click(more);
      await userEvent.click(screen.getByTestId(item));
      const dialog = await screen.findByRole("alertdialog", { name: title });
      expect(within(dialog).getByRole("button", { name: keep })).toHaveFocus();
      await tabsStayInside(dialog);
      await userEvent.click(within(dialog).getByRole("button", { name: keep }));
      expect(screen.queryByRole("alertdialog")).toBeNull();
      expect(more).toHaveFocus();
    });
  }

  it("Discard changes? keeps the keyboard and gives the focus back to the field Escape was pressed in", async () => {
    mockBackend({ connections_list: () => [connected()], presets_list: () => [], connection_check: () => [] });
    render(App);
    await userEvent.click(await screen.findByTestId("add-connection"));
    await userEvent.click(await screen.findByTestId("preset-custom"));
    const name = await screen.findByRole("textbox", { name: "Connection name" });
    await userEvent.type(name, "Half done");
    await userEvent.keyboard("{Escape}");
    const dialog = await screen.findByRole("alertdialog", { name: "Discard changes?" });
    await tabsStayInside(dialog);
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(name).toHaveFocus();
    expect(name).toHaveValue("Half done");
  });

  it("Import connections keeps the keyboard and gives the focus back to Import… when cancelled", async () => {
    mockBackend({
      connections_list: () => [connected()],
      import_choose: () => ({
        path: "/home/ann/shared.json",
        digest: "d1g3st",
        connections: [
          { name: "Mail", provider_host: "mail.example", name_taken: false, suggested_name: "Mail", hosts: ["mail.example"], warnings: [], needs_confirmation: false },
        ],
      }),
    });
    render(App);
    const importButton = await screen.findByTestId("import");
    await userEvent.click(importButton);
    const dialog = await screen.findByRole("alertdialog", { name: "Import connections" });
    await tabsStayInside(dialog);
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(importButton).toHaveFocus();
  });
});
