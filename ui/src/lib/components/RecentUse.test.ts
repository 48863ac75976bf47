import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, UsageDto } from "$lib/ipc";
import { connectionDto, mockBackend } from "../../test-fixtures";

const MIN = 60_000;
/** A time `ms` ago. The times below sit half a minute off a round figure, so a slow test still reads the same words. */
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function use(overrides: Partial<UsageDto>): UsageDto {
  return {
    at: ago(MIN - 30_000),
    connection_id: "cn_01",
    via: "app",
    what: "copy",
    pid: null,
    exe: null,
    parent_pid: null,
    host: null,
    program: null,
    ...overrides,
  };
}

/** What a day with this connection looks like, newest first, as `connection_usage` sends it. */
const day = (): UsageDto[] => [
  use({ at: ago(2 * MIN - 30_000), via: "app", what: "request", host: "api.example.com" }),
  use({
    at: ago(15 * MIN - 30_000),
    via: "cli",
    what: "token",
    pid: 4242,
    exe: "/usr/bin/python3.11",
    parent_pid: 4100,
    program: "python3.11",
  }),
  use({ at: ago(60 * MIN + 30_000), via: "helper", what: "git-credential", pid: 77, exe: "/usr/bin/git", program: "git" }),
  use({ at: ago(90 * MIN + 30_000), via: "helper", what: "kube-credential", exe: "/usr/bin/kubectl", program: "kubectl" }),
  use({ at: ago(120 * MIN + 30_000), via: "app", what: "reveal" }),
  use({ at: ago(180 * MIN + 30_000), via: "app", what: "copy" }),
];

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

const rows = () => screen.queryAllByTestId("usage-row").map((row) => row.textContent?.replace(/\s+/g, " ").trim());

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("Recent use", () => {
  it("lists each use of the connection in words, newest first, with the program and where it went", async () => {
    const backend = await openDetail(connectionDto({ status: "connected" }), { connection_usage: day });
    const section = within(await screen.findByTestId("recent-use"));
    expect(section.getByRole("heading", { name: "Recent use" })).toBeInTheDocument();
    await waitFor(() => expect(rows()).toHaveLength(6));
    expect(rows()).toEqual([
      "Test request in Latch 2 min ago to api.example.com",
      "Given to a program from the terminal 15 min ago python3.11",
      "Given to git 1 h ago git",
      "Given to kubectl 1 h 30 min ago kubectl",
      "Revealed in Latch 2 h ago",
      "Copied in Latch 3 h ago",
    ]);
    // The full path and the process are a hover away; the list stays short.
    expect(section.getAllByTestId("usage-program")[0]).toHaveAttribute(
      "title",
      "/usr/bin/python3.11, process 4242, started by process 4100",
    );
    expect(backend.lastArgs("connection_usage")).toEqual({ idOrName: "cn_01", limit: 50 });
  });

  it("narrows the list to what went through one way", async () => {
    await openDetail(connectionDto({ status: "connected" }), { connection_usage: day });
    const filter = (await screen.findByTestId("usage-filter")) as HTMLSelectElement;
    expect([...filter.options].map((option) => option.textContent)).toEqual([
      "Everything",
      "In Latch",
      "From the terminal",
      "git and kubectl",
    ]);
    await userEvent.selectOptions(filter, "git and kubectl");
    expect(rows()).toEqual(["Given to git 1 h ago git", "Given to kubectl 1 h 30 min ago kubectl"]);
    await userEvent.selectOptions(filter, "In Latch");
    expect(rows().map((row) => row?.split(" ago")[0])).toEqual([
      "Test request in Latch 2 min",
      "Revealed in Latch 2 h",
      "Copied in Latch 3 h",
    ]);
    await userEvent.selectOptions(filter, "Everything");
    expect(rows()).toHaveLength(6);
  });

  it("says in plain words when nothing has used the connection", async () => {
    await openDetail(connectionDto());
    expect(await screen.findByTestId("usage-empty")).toHaveTextContent("Nothing has used this connection yet.");
    expect(screen.queryByTestId("usage-filter")).not.toBeInTheDocument();
  });

  it("reads again when the engine says the connection was just used, and only then", async () => {
    let uses: UsageDto[] = [];
    const backend = await openDetail(connectionDto({ status: "connected" }), { connection_usage: () => uses });
    await screen.findByTestId("usage-empty");
    const asked = backend.called("connection_usage").length;

    await emit("connection-used", "cn_other");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(backend.called("connection_usage")).toHaveLength(asked);

    uses = [use({ via: "app", what: "copy", at: new Date().toISOString() })];
    await emit("connection-used", "cn_01");
    await waitFor(() => expect(rows()).toEqual(["Copied in Latch just now"]));
  });

  it("reads again when the connection changes, here or in another process", async () => {
    let uses: UsageDto[] = [];
    await openDetail(connectionDto({ status: "connected" }), { connection_usage: () => uses });
    await screen.findByTestId("usage-empty");
    uses = [use({ via: "cli", what: "token", pid: 9, exe: "/usr/bin/curl", program: "curl" })];
    await emit("connections-changed", null);
    await waitFor(() => expect(rows()).toEqual(["Given to a program from the terminal less than a minute ago curl"]));
  });

  it("says why the record could not be read", async () => {
    await openDetail(connectionDto(), {
      connection_usage: () => {
        throw { code: "storage", message: "Latch could not read its database.", fields: [], details: null };
      },
    });
    expect(await screen.findByTestId("usage-error")).toHaveTextContent("Latch could not read its database.");
  });
});
