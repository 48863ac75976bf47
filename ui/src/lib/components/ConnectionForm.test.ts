import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
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

  it("Discover fills the endpoints, chooses PKCE and offers the server's scopes as chips", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      issuer_discover: ({ issuer, spec }) => ({
        spec: {
          ...(spec as ConnectionDraft),
          issuer,
          pkce: "s256",
          authorize_url: "https://id.example.com/auth",
          token_url: "https://id.example.com/token",
          revoke_url: "https://id.example.com/revoke",
        },
        scopes_supported: ["openid", "email", "offline_access"],
      }),
    });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "code");
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Lab");
    await userEvent.type(screen.getByRole("textbox", { name: "Issuer or provider address" }), "https://id.example.com{Enter}");
    expect(await screen.findByTestId("discover-result")).toHaveTextContent(
      "Found https://id.example.com. Filled in the sign-in, token and revoke addresses and chose PKCE (S256).",
    );
    expect(backend.lastArgs("issuer_discover")).toMatchObject({ issuer: "https://id.example.com", spec: { name: "Lab", pkce: "off" } });
    expect(document.querySelector<HTMLInputElement>('input[name="token_url"]')?.value).toBe("https://id.example.com/token");
    expect(screen.getByTestId("flow-type")).toHaveValue("code_pkce");
    const options = screen.getAllByTestId("scope-option");
    expect(options.map((option) => option.dataset.scope)).toEqual(["openid", "email", "offline_access"]);
    expect(screen.queryAllByTestId("scope-chip")).toHaveLength(0);
    await userEvent.click(options[0]);
    expect(screen.getAllByTestId("scope-chip")).toHaveLength(1);
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { issuer: "https://id.example.com", revoke_url: "https://id.example.com/revoke", scopes: ["openid"] },
      }),
    );
  });

  it("shows the engine's message when discovery fails and changes nothing else", async () => {
    mockBackend({
      connection_check: () => [],
      issuer_discover: () => {
        throw {
          code: "provider",
          message: "The metadata at https://id.example.com names another issuer (https://evil.example). Latch refuses it.",
          fields: [],
          details: null,
        };
      },
    });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.type(document.querySelector<HTMLInputElement>('input[name="token_url"]')!, "https://mine.example/token");
    await userEvent.type(screen.getByRole("textbox", { name: "Issuer or provider address" }), "https://id.example.com");
    await userEvent.click(screen.getByTestId("discover"));
    expect(await screen.findByTestId("discover-error")).toHaveTextContent("names another issuer");
    expect(screen.getByRole("textbox", { name: "Issuer or provider address" })).toHaveAttribute("aria-invalid", "true");
    expect(document.querySelector<HTMLInputElement>('input[name="token_url"]')?.value).toBe("https://mine.example/token");
    expect(screen.queryByTestId("scope-picker")).toBeNull();
  });

  it("asks for the device authorization URI, not an authorize URI, for the device code flow", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "device_code");
    expect(document.querySelector('input[name="authorize_url"]')).toBeNull();
    expect(screen.getByText(/Latch shows a short code that you enter/)).toBeInTheDocument();
    await userEvent.type(screen.getByRole("textbox", { name: "Device authorization URI" }), "https://id.example.com/device");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { flow: "device_code", pkce: "off", device_url: "https://id.example.com/device" },
      }),
    );
  });

  it("offers the token endpoint's quirks in Advanced, each with a one-line explanation", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    for (const [group, explanation] of [
      ["Token request format", /Almost every service wants a form/],
      ["Token lifetime unit", /expire 60 times too early/],
      ["How to revoke", /cancel the sign-in when you disconnect/],
    ] as const) {
      expect(within(screen.getByRole("group", { name: group })).getByText(explanation)).toBeInTheDocument();
    }
    await userEvent.click(screen.getByRole("radio", { name: "JSON" }));
    await userEvent.click(screen.getByRole("radio", { name: "Minutes" }));
    await userEvent.click(screen.getByRole("radio", { name: "Visit the Revoke URI with the token" }));
    const path = screen.getByRole("textbox", { name: "Redirect path" });
    await userEvent.clear(path);
    await userEvent.type(path, "/oauth/done");
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1/oauth/done");
    await userEvent.type(screen.getByRole("textbox", { name: "Hosted redirect URI" }), "https://example.com/cb");
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("https://example.com/cb");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: {
          token_request_format: "json",
          expires_in_unit: "minutes",
          revoke_style: "bearer_get",
          redirect_path: "/oauth/done",
          redirect_uri_override: "https://example.com/cb",
        },
      }),
    );
  });
});
