import { render, screen, waitFor, within } from "@testing-library/svelte";
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

describe("after Delete", () => {
  /** Opens `name`'s detail and confirms Delete in it; the list then answers without it. */
  async function deleteFromDetail(names: string[], name: string) {
    let connections = names.map((each, i) => connectionDto({ id: `cn_${i}`, name: each }));
    mockBackend({
      connections_list: () => connections,
      connection_remove: ({ id }) => {
        connections = connections.filter((connection) => connection.id !== id);
        return { revoked: false, revoke_error: null };
      },
    });
    render(App);
    const rows = await screen.findAllByTestId("connection-row");
    await userEvent.click(rows[names.indexOf(name)]);
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("delete"));
    await userEvent.click(await screen.findByTestId("confirm-delete"));
    await waitFor(() => expect(screen.queryByTestId("detail")).toBeNull());
  }

  it("moves the focus to the connection that took the deleted one's place, and says “Deleted NAME”", async () => {
    await deleteFromDetail(["Lab", "Mail", "Wiki"], "Mail");
    await waitFor(() => expect(document.activeElement).toHaveAttribute("data-name", "Wiki"));
    expect(screen.getByTestId("announcement")).toHaveTextContent("Deleted Mail.");
  });

  it("moves the focus to the one before when the last one in the list is deleted", async () => {
    await deleteFromDetail(["Lab", "Mail"], "Mail");
    await waitFor(() => expect(document.activeElement).toHaveAttribute("data-name", "Lab"));
  });

  it("moves the focus to the empty state's Add connection when none is left", async () => {
    await deleteFromDetail(["Lab"], "Lab");
    await waitFor(() => expect(screen.getByRole("button", { name: "Add connection" })).toHaveFocus());
    expect(screen.getByTestId("announcement")).toHaveTextContent("Deleted Lab.");
  });
});
