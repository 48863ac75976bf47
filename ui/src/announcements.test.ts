import { render, screen, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import type { ConnectionDto } from "$lib/ipc";
import App from "./App.svelte";
import { connectionDto, mockBackend } from "./test-fixtures";

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

describe("the live region", () => {
  it("is polite and tells screen readers when a connection's state changes: Needs sign-in, Connected", async () => {
    const drive = (status: ConnectionDto["status"]) =>
      connectionDto({ id: "cn_1", name: "Team Drive", status, has_refresh_token: true, access_issued_at: minutesFromNow(-1), access_expires_at: minutesFromNow(60) });
    let connections = [drive("connected"), connectionDto({ id: "cn_2", name: "Lab", status: "new" })];
    mockBackend({ connections_list: () => connections });
    render(App);
    await screen.findAllByTestId("connection-row");
    const live = screen.getByTestId("announcement");
    expect(live).toHaveAttribute("aria-live", "polite");
    expect(live).toHaveAttribute("role", "status");
    // What is on screen at the start is not news.
    expect(live.textContent?.trim()).toBe("");

    // A routine refresh comes and goes without a word.
    connections = [drive("refreshing"), connections[1]];
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getAllByTestId("status-badge")[0]).toHaveTextContent("Refreshing"));
    connections = [drive("connected"), connections[1]];
    await emit("connections-changed", null);
    await waitFor(() => expect(screen.getAllByTestId("status-badge")[0]).toHaveTextContent("Connected"));
    expect(live.textContent?.trim()).toBe("");

    // The refresher finds the sign-in refused; later the user signs in again, from the CLI.
    connections = [drive("needs_reauth"), connections[1]];
    await emit("connections-changed", null);
    await waitFor(() => expect(live).toHaveTextContent("Team Drive: Needs sign-in."));
    connections = [drive("connected"), connections[1]];
    await emit("connections-changed", null);
    await waitFor(() => expect(live).toHaveTextContent("Team Drive: Connected."));
  });
});
