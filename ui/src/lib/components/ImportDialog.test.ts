import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ImportCandidate, ImportedDto, ImportFileDto } from "$lib/ipc";
import { trustSentence } from "$lib/state/transfer.svelte";
import App from "../../App.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";

const TWO_SITES =
  "Its addresses are on 2 different sites: sign-in page and issuer at accounts.google.com; token and refresh at evil.example. " +
  "Your sign-in, the client secret you enter and its tokens go to each of them.";
const PKCE_OFF = "PKCE is off: a sign-in code intercepted on its way back to Latch could be exchanged for tokens.";

function candidate(name: string, extra: Partial<ImportCandidate> = {}): ImportCandidate {
  return {
    name,
    provider_host: "lab.example",
    name_taken: false,
    suggested_name: name,
    hosts: ["lab.example"],
    warnings: [],
    needs_confirmation: false,
    ...extra,
  };
}

const MAIL = candidate("Mail", {
  provider_host: "accounts.google.com",
  hosts: ["accounts.google.com", "evil.example"],
  warnings: [TWO_SITES, PKCE_OFF],
  needs_confirmation: true,
});

function file(connections: ImportCandidate[]): ImportFileDto {
  return { path: "/home/ann/shared.json", digest: "d1g3st", connections };
}

function imported(names: string[]): ImportedDto {
  return {
    connections: names.map((name, index) => connectionDto({ id: `cn_i${index}`, name })),
    need_secret: [],
    replaced: [],
    skipped: [],
  };
}

async function openImport(connections: ImportCandidate[], existing = [connectionDto({ name: "Other" })]) {
  const backend = mockBackend({
    connections_list: () => existing,
    import_choose: () => file(connections),
    connections_import: () => imported(connections.map((c) => c.name)),
  });
  render(App);
  await userEvent.click(await screen.findByTestId("import"));
  return { backend, dialog: await screen.findByTestId("import-dialog") };
}

describe("the import dialog", () => {
  it("shows every host and warning of each connection", async () => {
    const { dialog } = await openImport([MAIL, candidate("Lab")]);
    const [mail, lab] = within(dialog).getAllByTestId("import-candidate");
    expect(within(mail).getByTestId("import-hosts")).toHaveTextContent("accounts.google.com, evil.example");
    const warnings = within(mail).getByTestId("import-warnings");
    expect(warnings).toHaveTextContent(TWO_SITES);
    expect(warnings).toHaveTextContent(PKCE_OFF);
    expect(within(lab).getByTestId("import-hosts")).toHaveTextContent("lab.example");
    expect(within(lab).queryByTestId("import-warnings")).not.toBeInTheDocument();
    expect(within(lab).queryByTestId("trust-hosts")).not.toBeInTheDocument();
  });

  it("keeps Import disabled until the user says they trust the hosts, then sends which ones they trust", async () => {
    const { backend, dialog } = await openImport([MAIL, candidate("Lab")]);
    const mail = within(dialog).getAllByTestId("import-candidate")[0];
    const trust = within(mail).getByRole("checkbox", {
      name: "I trust accounts.google.com and evil.example with this connection's sign-in and tokens",
    });
    expect(trust).not.toBeChecked();
    expect(screen.getByTestId("confirm-import")).toBeDisabled();

    await userEvent.click(trust);
    expect(screen.getByTestId("confirm-import")).toBeEnabled();
    await userEvent.click(trust);
    expect(screen.getByTestId("confirm-import")).toBeDisabled();
    expect(backend.called("connections_import")).toHaveLength(0);

    await userEvent.click(trust);
    await userEvent.click(screen.getByTestId("confirm-import"));
    expect(await screen.findByTestId("import-result")).toHaveTextContent("Imported 2 connections");
    expect(backend.lastArgs("connections_import")).toEqual({
      path: "/home/ann/shared.json",
      digest: "d1g3st",
      choices: [],
      accepted: ["Mail"],
    });
  });

  it("asks for each connection that needs trust, and not for one that is skipped", async () => {
    const other = candidate("Other", {
      name_taken: true,
      suggested_name: "Other (2)",
      hosts: ["a.example", "b.example"],
      warnings: ["Its addresses are on 2 different sites."],
      needs_confirmation: true,
    });
    const { backend, dialog } = await openImport([MAIL, other]);
    expect(within(dialog).getAllByTestId("trust-hosts")).toHaveLength(2);
    await userEvent.click(within(dialog).getAllByTestId("trust-hosts")[0]);
    expect(screen.getByTestId("confirm-import")).toBeDisabled();

    // Skipped, it is not imported: no trust needed, and none sent.
    await userEvent.click(within(dialog).getByTestId("conflict-skip"));
    expect(within(dialog).getAllByTestId("trust-hosts")).toHaveLength(1);
    expect(screen.getByTestId("confirm-import")).toBeEnabled();
    await userEvent.click(screen.getByTestId("confirm-import"));
    await screen.findByTestId("import-result");
    expect(backend.lastArgs("connections_import")).toMatchObject({
      choices: [{ name: "Other", resolution: { action: "skip" } }],
      accepted: ["Mail"],
    });
  });

  it("starts untrusted again when another file is chosen", async () => {
    const { dialog } = await openImport([MAIL]);
    await userEvent.click(within(dialog).getByTestId("trust-hosts"));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    await userEvent.click(screen.getByTestId("import"));
    const again = await screen.findByTestId("import-dialog");
    expect(within(again).getByTestId("trust-hosts")).not.toBeChecked();
    expect(screen.getByTestId("confirm-import")).toBeDisabled();
  });

  it("names the hosts in the sentence the user agrees to", () => {
    expect(trustSentence(["accounts.google.com"])).toBe("I trust accounts.google.com with this connection's sign-in and tokens");
    expect(trustSentence(["a.example", "b.example", "127.0.0.1:8080"])).toBe(
      "I trust a.example, b.example and 127.0.0.1:8080 with this connection's sign-in and tokens",
    );
  });
});
