import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionDraft } from "$lib/ipc";
import ConnectionForm from "./ConnectionForm.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";

const noop = () => {};

describe("the connection form", () => {
  it("shows the engine's error under its field and keeps Save disabled", async () => {
    mockBackend({ connection_check: () => [{ field: "token_url", message: "Enter the Token URI from the service's API documentation." }] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Google");
    expect(await screen.findByTestId("error-token_url")).toHaveTextContent("Enter the Token URI");
    expect(screen.getByTestId("save")).toBeDisabled();
  });

  it("enables Save once the engine finds nothing wrong, and saves the draft", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft }) => connectionDto({ ...(draft as ConnectionDraft), id: "cn_new" }),
    });
    const onsaved = vi.fn();
    render(ConnectionForm, { onsaved, oncancel: noop });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Google");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const draft = backend.called("connection_create")[0].args.draft as ConnectionDraft;
    expect(draft).toMatchObject({ name: "Google", flow: "authorization_code", pkce: "s256", authorize_url: null, client_auth: "none" });
    expect(draft.client_secret).toEqual({ kind: "keep" });
  });

  it("checks the draft as the user types and sends it with a null id for a new connection", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Go");
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { name: "Go" }, id: null }));
  });

  it("turns pasted 'a b,c' into three scope chips", async () => {
    mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.click(screen.getByTestId("scope-input"));
    await userEvent.paste("a b,c");
    expect(screen.getAllByTestId("scope-chip").map((chip) => chip.textContent?.match(/[abc]/)?.[0])).toEqual(["a", "b", "c"]);
  });

  it("adds a typed scope on Enter, space or comma, and reorders and removes chips", async () => {
    mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    const input = screen.getByTestId("scope-input");
    await userEvent.type(input, "read{Enter}write,profile ");
    expect(screen.getAllByTestId("scope-chip")).toHaveLength(3);
    await userEvent.click(screen.getByRole("button", { name: "Move write earlier" }));
    expect(screen.getAllByTestId("scope-chip")[0]).toHaveTextContent("write");
    await userEvent.click(screen.getByRole("button", { name: "Remove profile" }));
    expect(screen.getAllByTestId("scope-chip")).toHaveLength(2);
  });

  it("shows a saved secret as kept in the keyring and never asks for it", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { connection: connectionDto({ has_client_secret: true, client_auth: "basic" }), onsaved: noop, oncancel: noop });
    expect(screen.getByText("Saved in your system keyring")).toBeInTheDocument();
    expect(document.querySelector('input[name="client_secret"]')).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Replace" }));
    expect(document.querySelector<HTMLInputElement>('input[name="client_secret"]')?.value).toBe("");
    await waitFor(() => expect(backend.calls.length).toBeGreaterThan(0));
    const commands = new Set(backend.calls.map((call) => call.command));
    expect([...commands]).toEqual(["connection_check"]);
    expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_secret: { kind: "keep" } }, id: "cn_01" });
  });

  it("sends the secret and switches client authentication to body when one is typed", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(document.querySelector<HTMLInputElement>('input[name="client_secret"]')!, "s3cret");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { client_auth: "body", client_secret: { kind: "set", value: "s3cret" } },
      }),
    );
  });

  it("hides the Token URI for implicit and warns that the flow is legacy", async () => {
    mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "implicit");
    expect(document.querySelector('input[name="token_url"]')).toBeNull();
    expect(screen.getByText(/RFC 9700/)).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(document.querySelector('input[name="authorize_url"]')).toBeNull();
    expect(document.querySelector('input[name="token_url"]')).not.toBeNull();
  });

  it("opens Advanced when the engine reports a problem inside it", async () => {
    mockBackend({ connection_check: () => [{ field: "revoke_url", message: "The Revoke URI must start with https://." }] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "x");
    expect(await screen.findByTestId("error-revoke_url")).toBeVisible();
    expect(screen.getByTestId("advanced-toggle")).toHaveAttribute("aria-expanded", "true");
  });

  it("previews the scope query and the redirect URI in Advanced", async () => {
    mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { connection: connectionDto({ scopes: ["read", "write"] }), onsaved: noop, oncancel: noop });
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(screen.getByTestId("scope-preview")).toHaveTextContent("scope=read%20write");
    await userEvent.click(screen.getByRole("radio", { name: "Comma" }));
    expect(screen.getByTestId("scope-preview")).toHaveTextContent("scope=read,write");
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1/callback");
    await userEvent.type(document.querySelector<HTMLInputElement>('input[name="redirect_port"]')!, "8765");
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1:8765/callback");
  });

  it("shows a save failure that is not about a field as a sentence at the top", async () => {
    mockBackend({
      connection_check: () => [],
      connection_create: () => {
        throw { code: "keyring_unavailable", message: "Latch could not reach your system keyring.", fields: [], details: null };
      },
    });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "x");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("Latch could not reach your system keyring.");
  });

  it("cancels on Escape", async () => {
    mockBackend({ connection_check: () => [] });
    const oncancel = vi.fn();
    render(ConnectionForm, { onsaved: noop, oncancel });
    await fireEvent.keyDown(screen.getByRole("textbox", { name: "Connection name" }), { key: "Escape" });
    expect(oncancel).toHaveBeenCalled();
  });
});
