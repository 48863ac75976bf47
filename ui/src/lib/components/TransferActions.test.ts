import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ImportChoice, ImportedDto, ImportFileDto } from "$lib/ipc";
import { importSummary } from "$lib/state/transfer.svelte";
import App from "../../App.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";

const FILE: ImportFileDto = {
  path: "/home/ann/latch-connections.json",
  digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  connections: [
    {
      name: "GitHub",
      provider_host: "github.com",
      name_taken: true,
      suggested_name: "GitHub (2)",
      hosts: ["github.com", "api.github.com"],
      warnings: [],
      needs_confirmation: false,
    },
    {
      name: "Lab",
      provider_host: "lab.example",
      name_taken: false,
      suggested_name: "Lab",
      hosts: ["lab.example"],
      warnings: [],
      needs_confirmation: false,
    },
  ],
};

function imported(names: string[], extra: Partial<ImportedDto> = {}): ImportedDto {
  return {
    connections: names.map((name, index) => connectionDto({ id: `cn_i${index}`, name })),
    need_secret: [],
    replaced: [],
    skipped: [],
    ...extra,
  };
}

describe("import and export", () => {
  it("asks what to do with a name that exists, sends the answer and shows what was imported", async () => {
    let list = [connectionDto({ name: "GitHub" })];
    const backend = mockBackend({
      connections_list: () => list,
      import_choose: () => FILE,
      connections_import: ({ choices }) => {
        const [choice] = choices as ImportChoice[];
        const name = choice.resolution.action === "keep_both" ? choice.resolution.name : "GitHub";
        list = [...list, connectionDto({ id: "cn_i0", name }), connectionDto({ id: "cn_i1", name: "Lab" })];
        return imported([name, "Lab"], { need_secret: [name] });
      },
    });
    render(App);
    await userEvent.click(await screen.findByTestId("import"));
    const dialog = await screen.findByTestId("import-dialog");
    expect(dialog).toHaveTextContent("This file holds 2 connections");
    const github = within(dialog).getAllByTestId("import-candidate")[0];
    expect(github).toHaveTextContent("You already have a connection called “GitHub”. What should Latch do?");
    // Keep both is the safe default, with a free name.
    expect(within(github).getByTestId("conflict-keep_both")).toBeChecked();
    const newName = within(github).getByTestId("conflict-new-name");
    expect(newName).toHaveValue("GitHub (2)");
    await userEvent.clear(newName);
    expect(screen.getByTestId("confirm-import")).toBeDisabled();
    await userEvent.type(newName, "GitHub (work)");
    await userEvent.click(screen.getByTestId("confirm-import"));

    const result = await screen.findByTestId("import-result");
    expect(result).toHaveTextContent("Imported 2 connections: “GitHub (work)” and “Lab”.");
    expect(result).toHaveTextContent("“GitHub (work)” needs its client secret");
    expect(backend.lastArgs("connections_import")).toEqual({
      path: "/home/ann/latch-connections.json",
      digest: FILE.digest,
      choices: [{ name: "GitHub", resolution: { action: "keep_both", name: "GitHub (work)" } }],
      accepted: [],
    });
    await userEvent.click(screen.getByTestId("import-done"));
    await waitFor(() => expect(screen.getByTestId("detail-name")).toHaveTextContent("GitHub (work)"));
  });

  it("sends Replace and Skip as chosen, and imports nothing when cancelled", async () => {
    const backend = mockBackend({
      connections_list: () => [connectionDto({ name: "GitHub" })],
      import_choose: () => FILE,
      connections_import: () => imported(["Lab"], { skipped: ["GitHub"] }),
    });
    render(App);
    await userEvent.click(await screen.findByTestId("import"));
    await userEvent.click(await screen.findByTestId("conflict-replace"));
    expect(screen.getByTestId("import-dialog")).toHaveTextContent("will be deleted here, with its sign-in and client secret");
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByTestId("import-dialog")).not.toBeInTheDocument();
    expect(backend.called("connections_import")).toHaveLength(0);

    await userEvent.click(screen.getByTestId("import"));
    await userEvent.click(await screen.findByTestId("conflict-skip"));
    await userEvent.click(screen.getByTestId("confirm-import"));
    expect(await screen.findByTestId("import-result")).toHaveTextContent("Skipped “GitHub”, as you chose.");
    expect(backend.lastArgs("connections_import")).toMatchObject({ choices: [{ name: "GitHub", resolution: { action: "skip" } }] });
  });

  it("shows why a file was refused, and does nothing when the file dialog is closed", async () => {
    let answer: unknown = null;
    const backend = mockBackend({
      connections_list: () => [],
      import_choose: () => {
        if (answer) throw answer;
        return null;
      },
    });
    render(App);
    await userEvent.click(await screen.findByTestId("import"));
    expect(screen.queryByTestId("import-dialog")).not.toBeInTheDocument();
    expect(backend.called("import_choose")).toHaveLength(1);
    answer = {
      code: "validation",
      message: "The file was written by a newer Latch (export version 2). Nothing was imported.",
      fields: [],
      details: null,
    };
    await userEvent.click(screen.getByTestId("import"));
    expect(await screen.findByTestId("transfer-error")).toHaveTextContent("written by a newer Latch");
  });

  it("exports every connection and says where the file went", async () => {
    const backend = mockBackend({
      connections_list: () => [connectionDto()],
      connections_export: () => "/home/ann/latch-connections.json",
    });
    render(App);
    await userEvent.click(await screen.findByTestId("export-all"));
    expect(await screen.findByTestId("export-result")).toHaveTextContent("/home/ann/latch-connections.json");
    expect(backend.lastArgs("connections_export")).toEqual({ ids: [] });
  });

  it("summarises an import in sentences", () => {
    expect(importSummary(imported(["A"], { replaced: ["A"] }))).toEqual([
      "Imported one connection: “A”.",
      "Replaced “A”; the old sign-in and secret are gone.",
    ]);
    expect(importSummary(imported([], { skipped: ["B", "C"] }))).toEqual(["Nothing was imported.", "Skipped “B” and “C”, as you chose."]);
  });
});
