import { render, screen } from "@testing-library/svelte";
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
