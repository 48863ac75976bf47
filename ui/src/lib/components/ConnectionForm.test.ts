import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionDto, Draft, OAuth2ConnectionDraft, OAuth2ConnectionDto } from "$lib/ipc";
import ConnectionForm from "./ConnectionForm.svelte";
import { connectionDto, draftOf, mockBackend, template } from "../../test-fixtures";

const noop = () => {};

/** Renders the form and waits until it has the engine's start. */
async function renderForm(props: { connection?: ConnectionDto; onsaved?: (saved: ConnectionDto) => void; oncancel?: () => void } = {}) {
  render(ConnectionForm, { onsaved: noop, oncancel: noop, ...props });
  await screen.findByTestId("connection-form");
}

/** The engine for editing `connection`: its draft as `connection_draft` gives it, plus `handlers`. */
function editing(connection: OAuth2ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  return mockBackend({ connection_draft: () => draftOf(connection), connection_check: () => [], ...handlers });
}

describe("the connection form", () => {
  it("shows the engine's error under its field once the user leaves the field, and keeps Save enabled", async () => {
    const backend = mockBackend({
      connection_check: () => [{ field: "token_url", message: "Enter the Token URI from the service's API documentation." }],
    });
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Google");
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { name: "Google" } }));
    // Not reached yet: no error, and Save still works.
    expect(screen.queryByTestId("error-token_url")).toBeNull();
    expect(screen.getByTestId("save")).toBeEnabled();
    await userEvent.click(screen.getByRole("textbox", { name: "Token URI" }));
    await userEvent.type(screen.getByRole("textbox", { name: "Token URI" }), "x");
    expect(screen.queryByTestId("error-token_url")).toBeNull();
    await userEvent.tab();
    expect(await screen.findByTestId("error-token_url")).toHaveTextContent("Enter the Token URI");
    expect(screen.getByRole("textbox", { name: "Token URI" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("save")).toBeEnabled();
  });

  it("shows no error for a field the user has not reached, even after typing elsewhere", async () => {
    mockBackend({
      connection_check: () => [
        { field: "name", message: "Enter a name for the connection." },
        { field: "client_id", message: "Enter the client ID." },
      ],
    });
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Authorize URI" }), "https://id.example.com/auth");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(screen.queryByTestId("error-name")).toBeNull();
    expect(screen.queryByTestId("error-client_id")).toBeNull();
    expect(screen.queryByTestId("fix-count")).toBeNull();
  });

  it("Save with errors saves nothing, focuses the first one and says how many need fixing", async () => {
    const backend = mockBackend({
      connection_check: () => [
        { field: "token_url", message: "Enter the Token URI from the service's API documentation." },
        { field: "name", message: "Enter a name for the connection." },
      ],
    });
    await renderForm();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-name")).toHaveTextContent("Enter a name");
    expect(screen.getByTestId("error-token_url")).toBeInTheDocument();
    expect(screen.getByTestId("fix-count")).toHaveTextContent("2 things need fixing");
    // The first in the form's order, not the engine's.
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveFocus();
    expect(backend.called("connection_create")).toHaveLength(0);
  });

  it("repaints the count of things to fix as the errors change", async () => {
    let errors = [
      { field: "name", message: "Enter a name for the connection." },
      { field: "client_id", message: "Enter the client ID." },
    ];
    mockBackend({ connection_check: () => errors });
    await renderForm();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("fix-count")).toHaveTextContent("2 things need fixing");
    errors = [{ field: "client_id", message: "Enter the client ID." }];
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Drive");
    await waitFor(() => expect(screen.getByTestId("fix-count")).toHaveTextContent("1 thing needs fixing"));
    expect(screen.queryByTestId("error-name")).toBeNull();
    errors = [];
    await userEvent.type(screen.getByRole("textbox", { name: "Client ID" }), "abc");
    await waitFor(() => expect(screen.queryByTestId("fix-count")).toBeNull());
  });

  it("opens Advanced and focuses the field when Save finds a problem inside it", async () => {
    mockBackend({ connection_check: () => [{ field: "revoke_url", message: "The Revoke URI must start with https://." }] });
    await renderForm();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-revoke_url")).toBeVisible();
    expect(screen.getByTestId("advanced-toggle")).toHaveAttribute("aria-expanded", "true");
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Revoke URI" })).toHaveFocus());
    expect(screen.getByTestId("fix-count")).toHaveTextContent("1 thing needs fixing");
  });

  it("trims the name the user typed", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_new" }),
    });
    const onsaved = vi.fn();
    await renderForm({ onsaved });
    const name = screen.getByRole("textbox", { name: "Connection name" });
    await userEvent.type(name, "  Team Drive  ");
    await userEvent.tab();
    expect(name).toHaveValue("Team Drive");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    expect((backend.lastArgs("connection_create")!.draft as OAuth2ConnectionDraft).name).toBe("Team Drive");
  });

  it("enables Save once the engine finds nothing wrong, and saves the draft", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_new" }),
    });
    const onsaved = vi.fn();
    await renderForm({ onsaved });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Google");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const draft = backend.called("connection_create")[0].args.draft as OAuth2ConnectionDraft;
    expect(draft).toMatchObject({ name: "Google", flow: "authorization_code", pkce: "s256", authorize_url: null, client_auth: "none" });
    expect(draft.client_secret).toEqual({ kind: "keep" });
  });

  it("checks the draft as the user types and sends it with a null id for a new connection", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Go");
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { name: "Go" }, id: null }));
  });

  it("turns pasted 'a b,c' into three scope chips", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("scope-input"));
    await userEvent.paste("a b,c");
    expect(screen.getAllByTestId("scope-chip").map((chip) => chip.textContent?.match(/[abc]/)?.[0])).toEqual(["a", "b", "c"]);
  });

  it("adds a typed scope on Enter, space or comma, and reorders and removes chips", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    const input = screen.getByTestId("scope-input");
    await userEvent.type(input, "read{Enter}write,profile ");
    expect(screen.getAllByTestId("scope-chip")).toHaveLength(3);
    await userEvent.click(screen.getByTitle("Move write earlier"));
    expect(screen.getAllByTestId("scope-chip")[0]).toHaveTextContent("write");
    await userEvent.click(screen.getByTitle("Remove profile"));
    expect(screen.getAllByTestId("scope-chip")).toHaveLength(2);
  });

  it("shows a saved secret as kept in the keyring and never asks for it", async () => {
    const connection = connectionDto({ has_client_secret: true, client_auth: "basic" });
    const backend = editing(connection);
    await renderForm({ connection });
    expect(screen.getByText("Saved in your system keyring")).toBeInTheDocument();
    expect(document.querySelector('input[name="client_secret"]')).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Replace" }));
    expect(document.querySelector<HTMLInputElement>('input[name="client_secret"]')?.value).toBe("");
    await waitFor(() => expect(backend.called("connection_check").length).toBeGreaterThan(0));
    // Only the form's start and the checks: nothing that could carry the secret.
    const commands = new Set(backend.calls.map((call) => call.command));
    expect([...commands]).toEqual(["connection_template", "connection_draft", "connection_check"]);
    expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_secret: { kind: "keep" } }, id: "cn_01" });
  });

  it("sends the secret and switches client authentication to body when one is typed", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.type(document.querySelector<HTMLInputElement>('input[name="client_secret"]')!, "s3cret");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { client_auth: "body", client_secret: { kind: "set", value: "s3cret" } },
      }),
    );
  });

  it("hides the Token URI for implicit and warns that the flow is legacy", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "implicit");
    expect(document.querySelector('input[name="token_url"]')).toBeNull();
    expect(screen.getByText(/RFC 9700/)).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(document.querySelector('input[name="authorize_url"]')).toBeNull();
    expect(document.querySelector('input[name="token_url"]')).not.toBeNull();
  });

  it("opens Advanced when the engine reports a problem inside it", async () => {
    mockBackend({ connection_check: () => [{ field: "revoke_url", message: "The Revoke URI must start with https://." }] });
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "x");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-revoke_url")).toBeVisible();
    expect(screen.getByTestId("advanced-toggle")).toHaveAttribute("aria-expanded", "true");
  });

  it("previews the scope query and the redirect URI in Advanced", async () => {
    const connection = connectionDto({ scopes: ["read", "write"] });
    editing(connection);
    await renderForm({ connection });
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
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "x");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("Latch could not reach your system keyring.");
  });

  it("cancels on Escape", async () => {
    mockBackend({ connection_check: () => [] });
    const oncancel = vi.fn();
    await renderForm({ oncancel });
    await fireEvent.keyDown(screen.getByRole("textbox", { name: "Connection name" }), { key: "Escape" });
    expect(oncancel).toHaveBeenCalled();
  });

  it("Discover fills the endpoints, chooses PKCE and offers the server's scopes as chips", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      issuer_discover: ({ issuer, draft }) => ({
        draft: {
          ...(draft as Draft),
          issuer,
          pkce: "s256",
          authorize_url: "https://id.example.com/auth",
          token_url: "https://id.example.com/token",
          revoke_url: "https://id.example.com/revoke",
        },
        scopes_supported: ["openid", "email", "offline_access"],
      }),
    });
    await renderForm();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "code");
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Lab");
    await userEvent.type(screen.getByRole("textbox", { name: "Issuer or provider address" }), "https://id.example.com{Enter}");
    expect(await screen.findByTestId("discover-result")).toHaveTextContent(
      "Found https://id.example.com; filled in the sign-in, token and revoke addresses.",
    );
    expect(backend.lastArgs("issuer_discover")).toMatchObject({ issuer: "https://id.example.com", draft: { name: "Lab", pkce: "off" } });
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
    await renderForm();
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
    await renderForm();
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
    await renderForm();
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

  it("starts a new connection from the engine's template, with PKCE, the space separator and the header the engine chose", async () => {
    const engine = template();
    engine.draft.token_name = "Token";
    engine.draft.query_param = "key";
    const backend = mockBackend({ connection_template: () => engine, connection_check: () => [] });
    await renderForm();
    expect(backend.lastArgs("connection_template")).toEqual({ kind: "oauth2" });
    expect(screen.getByTestId("flow-type")).toHaveValue("code_pkce");
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(screen.getByRole("radio", { name: "Space" })).toBeChecked();
    expect(screen.getByRole("radio", { name: "Header" })).toBeChecked();
    expect(screen.getByRole("textbox", { name: "Token name" })).toHaveValue("Token");
    expect(screen.getByText("The word before the token in the header. The default is Token.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("radio", { name: "Both" }));
    expect(screen.getByRole("textbox", { name: "Query parameter name" })).toHaveValue("key");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { flow: "authorization_code", pkce: "s256", token_name: "Token" } }),
    );
  });

  it("asks the engine for the template once, however many forms open", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    const first = render(ConnectionForm, { onsaved: noop, oncancel: noop });
    await screen.findByTestId("connection-form");
    first.unmount();
    await renderForm();
    expect(backend.called("connection_template")).toHaveLength(1);
  });

  it("starts an edit from the engine's draft of the connection", async () => {
    const connection = connectionDto({ client_id: "from-the-list" });
    const backend = editing(connection, {
      connection_draft: () => ({ ...draftOf(connection), client_id: "from-the-engine", resource: ["https://api.example.com/"] }),
    });
    await renderForm({ connection });
    expect(backend.lastArgs("connection_draft")).toEqual({ id: "cn_01" });
    expect(screen.getByRole("textbox", { name: "Client ID" })).toHaveValue("from-the-engine");
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(screen.getByRole("textbox", { name: "Resources" })).toHaveValue("https://api.example.com/");
  });

  it("says Loading… and then why, when the engine cannot give the form its start", async () => {
    let fail: (reason: unknown) => void = () => {};
    mockBackend({ connection_template: () => new Promise((_, reject) => (fail = reject)) });
    const oncancel = vi.fn();
    render(ConnectionForm, { onsaved: noop, oncancel });
    expect(await screen.findByTestId("form-loading")).toHaveTextContent("Loading…");
    fail({ code: "storage", message: "Latch could not read its database.", fields: [], action: null, provider: null, details: "disk I/O error" });
    expect(await screen.findByTestId("form-error-message")).toHaveTextContent("Latch could not read its database.");
    expect(screen.queryByTestId("connection-form")).toBeNull();
    await userEvent.click(screen.getByTestId("cancel"));
    expect(oncancel).toHaveBeenCalled();
  });

  it("hides a field the chosen flow does not use, as the engine's template says", async () => {
    const engine = template();
    engine.flows[0].unused.push("revoke_url");
    mockBackend({ connection_template: () => engine, connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(document.querySelector('input[name="revoke_url"]')).toBeNull();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "implicit");
    expect(document.querySelector('input[name="revoke_url"]')).not.toBeNull();
  });

  it("marks the addresses the chosen flow requires and names them in its explanation", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    expect(screen.getByRole("textbox", { name: "Authorize URI" })).toHaveAttribute("aria-required", "true");
    expect(screen.getByRole("textbox", { name: "Token URI" })).toHaveAttribute("aria-required", "true");
    expect(screen.getByText(/Needs the Authorize URI and the Token URI from the service's API documentation/)).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(screen.getByRole("textbox", { name: "Token URI" })).toHaveAttribute("aria-required", "true");
    expect(screen.getByText(/Needs the Token URI from/)).toBeInTheDocument();
  });

  it("hides the redirect settings for a flow that does not sign in through the browser", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(screen.getByTestId("redirect-uri")).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(screen.queryByTestId("redirect-uri")).toBeNull();
    expect(screen.queryByRole("textbox", { name: "Hosted redirect URI" })).toBeNull();
  });

  it("lists an engine error for a hidden field with the others at the top", async () => {
    mockBackend({ connection_check: () => [{ field: "authorize_url", message: "Client credentials never use the Authorize URI." }] });
    await renderForm();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(await screen.findByTestId("error-authorize_url")).toHaveTextContent("never use the Authorize URI");
    expect(document.querySelector('input[name="authorize_url"]')).toBeNull();
  });

  it("sends the resources one per line", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    const resources = screen.getByRole("textbox", { name: "Resources" });
    expect(screen.getByText("The APIs this connection's tokens are for, when the provider asks for them. One address per line.")).toBeInTheDocument();
    await userEvent.type(resources, "https://api.example.com/{Enter}https://files.example.com/");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { resource: ["https://api.example.com/", "https://files.example.com/"] },
      }),
    );
  });

  it("shows the engine's error about a resource beside the Resources field, opening Advanced", async () => {
    mockBackend({ connection_check: () => [{ field: "resource[0]", message: "Each resource must be an absolute address, like https://api.example.com/." }] });
    await renderForm();
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "x");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-resource")).toHaveTextContent("must be an absolute address");
    expect(screen.getByTestId("advanced-toggle")).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByRole("textbox", { name: "Resources" })).toHaveAttribute("aria-invalid", "true");
  });
});

describe("the connection form, for people", () => {
  it("shows the redirect URI to give the service at the top of the custom form, with Copy", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    const top = screen.getByTestId("redirect-top");
    expect(top).toHaveTextContent("Redirect URI (sometimes called callback URL) — give this to the service");
    expect(within(top).getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1/callback");
    expect(within(top).getByRole("button", { name: "Copy" })).toBeInTheDocument();
    // Before the first field: it is needed first, to register the app.
    const name = screen.getByRole("textbox", { name: "Connection name" });
    expect(top.compareDocumentPosition(name) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(screen.getByTestId("advanced-toggle")).toHaveAttribute("aria-expanded", "false");
    // Only for flows that come back through the browser, as the engine's template says.
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "device_code");
    expect(screen.queryByTestId("redirect-top")).toBeNull();
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "code");
    expect(screen.getByTestId("redirect-top")).toBeInTheDocument();
  });

  it("asks “Discard changes?” before Escape throws away a changed form", async () => {
    mockBackend({ connection_check: () => [] });
    const oncancel = vi.fn();
    await renderForm({ oncancel });
    const name = screen.getByRole("textbox", { name: "Connection name" });
    await userEvent.type(name, "Team Drive");
    await fireEvent.keyDown(name, { key: "Escape" });
    const dialog = await screen.findByRole("alertdialog", { name: "Discard changes?" });
    expect(oncancel).not.toHaveBeenCalled();
    await userEvent.click(within(dialog).getByRole("button", { name: "Keep editing" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(name).toHaveValue("Team Drive");
    await userEvent.click(screen.getByTestId("cancel"));
    await userEvent.click(await screen.findByTestId("confirm-discard"));
    expect(oncancel).toHaveBeenCalledTimes(1);
  });

  it("groups Advanced under plain headings, with the RFC names only in the help", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    const headings = screen.getAllByRole("heading", { level: 3 }).map((heading) => heading.textContent?.trim());
    expect(headings).toEqual(expect.arrayContaining(["Sending the token", "Addresses", "Sign-in details", "Quirks"]));
    const advanced = document.getElementById("advanced-settings")!;
    const labels = [...advanced.querySelectorAll("label, legend, .label")].map((label) => label.textContent ?? "");
    expect(labels.filter((label) => /RFC|PKCE|S256/.test(label))).toEqual([]);
    expect(screen.getByRole("group", { name: "Access token placement" })).toBeInTheDocument();
    expect(screen.getByText(/resource indicators \(RFC 8707\)/)).toBeInTheDocument();
  });

  it("shows Token name for the header and Query parameter name for the address, both for both", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    const shown = () => ({
      token: screen.queryByRole("textbox", { name: "Token name" }) !== null,
      query: screen.queryByRole("textbox", { name: "Query parameter name" }) !== null,
    });
    expect(shown()).toEqual({ token: true, query: false });
    await userEvent.click(screen.getByRole("radio", { name: "Query parameter" }));
    expect(shown()).toEqual({ token: false, query: true });
    await userEvent.click(screen.getByRole("radio", { name: "Both" }));
    expect(shown()).toEqual({ token: true, query: true });
  });

  it("keeps the scope chips one Tab stop: arrows go between them, Delete removes one, Alt+arrow moves it", async () => {
    mockBackend({ connection_check: () => [] });
    await renderForm();
    const input = screen.getByTestId("scope-input");
    await userEvent.type(input, "read write profile ");
    const chips = () => screen.getAllByTestId("scope-chip");
    const names = () => chips().map((chip) => chip.getAttribute("aria-label"));
    // One chip takes the Tab stop; the buttons beside its name are for the mouse, out of the Tab order and of
    // the accessibility tree (no control may sit inside an option).
    expect(chips().filter((chip) => chip.tabIndex === 0)).toHaveLength(1);
    expect(screen.getByTitle("Remove read").tabIndex).toBe(-1);
    expect(screen.getByTitle("Remove read")).toHaveAttribute("aria-hidden", "true");
    expect(within(screen.getByRole("listbox")).queryAllByRole("button")).toHaveLength(0);
    await userEvent.keyboard("{Backspace}");
    expect(chips()[2]).toHaveFocus();
    await userEvent.keyboard("{ArrowLeft}");
    expect(chips()[1]).toHaveFocus();
    await userEvent.keyboard("{Alt>}{ArrowLeft}{/Alt}");
    expect(names()).toEqual(["write", "read", "profile"]);
    expect(chips()[0]).toHaveFocus();
    await userEvent.keyboard("{Delete}");
    expect(names()).toEqual(["read", "profile"]);
    expect(chips()[0]).toHaveFocus();
    // Tab leaves the chips in one step, to the box for typing more.
    await userEvent.tab();
    expect(input).toHaveFocus();
    await userEvent.tab({ shift: true });
    expect(chips()[0]).toHaveFocus();
  });
});
