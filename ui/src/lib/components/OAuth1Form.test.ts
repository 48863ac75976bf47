import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDraft, FieldError } from "$lib/ipc";
import { mockBackend, oauth1ConnectionDto, oauth1Defaults, template } from "../../test-fixtures";

afterEach(() => vi.restoreAllMocks());

const PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----";

/** The engine's `validate::oauth1`, enough of it for the form: the three addresses, the key, the secret. */
function engineCheck({ draft }: Record<string, unknown>): FieldError[] {
  const d = draft as Extract<ConnectionDraft, { kind: "oauth1" }>;
  const errors: FieldError[] = [];
  if (!d.name.trim()) errors.push({ field: "name", message: "Give the connection a name." });
  for (const field of ["request_token_url", "authorize_url", "access_token_url"] as const)
    if (!d[field]) errors.push({ field, message: `${field} is required. Copy it from the provider's API documentation.` });
  if (!d.consumer_key) errors.push({ field: "consumer_key", message: "Consumer key is required." });
  const rsa = d.signature_method === "rsa_sha1" || d.signature_method === "rsa_sha256";
  if (!rsa && d.client_secret.kind !== "set") errors.push({ field: "client_secret", message: "Consumer secret is required for this signature method." });
  return errors;
}

function backend(extra: Parameters<typeof mockBackend>[0] = {}) {
  return mockBackend({
    connections_list: () => [],
    presets_list: () => [],
    connection_template: ({ kind }) => (kind === "oauth1" ? { draft: { name: "", kind: "oauth1", ...oauth1Defaults() }, flows: [] } : template()),
    connection_check: engineCheck,
    connection_create: ({ draft }) => oauth1ConnectionDto({ ...(draft as object), id: "cn_new" }),
    oauth1_private_key_check: ({ pem }) => (String(pem).includes("BEGIN") ? null : "That is not a PEM private key."),
    oauth1_private_key_set: () => null,
    ...extra,
  });
}

async function openForm(card: "preset-oauth1" | "trello") {
  render(App);
  await userEvent.click(await screen.findByTestId("add-connection"));
  if (card === "trello") await userEvent.click(await screen.findByText("Trello"));
  else await userEvent.click(await screen.findByTestId("preset-oauth1"));
  return screen.findByTestId("oauth1-form");
}

describe("adding an OAuth 1.0a connection", () => {
  it("is offered in plain words, with Trello marked Not verified", async () => {
    backend();
    render(App);
    await userEvent.click(await screen.findByTestId("add-connection"));
    expect(await screen.findByTestId("preset-oauth1")).toHaveTextContent("OAuth 1.0a");
    expect(screen.getByTestId("preset-oauth1")).toHaveTextContent("For services such as Trello, Flickr or Jira Server");
    expect(screen.getByTestId("oauth1-start")).toHaveTextContent("Not verified");
  });

  it("starts Trello with its three addresses and the callback URL to register at the top", async () => {
    backend();
    await openForm("trello");
    expect(screen.getByTestId("o1-request_token_url")).toHaveValue("https://trello.com/1/OAuthGetRequestToken");
    expect(screen.getByTestId("o1-authorize_url")).toHaveValue("https://trello.com/1/OAuthAuthorizeToken");
    expect(screen.getByTestId("o1-access_token_url")).toHaveValue("https://trello.com/1/OAuthGetAccessToken");
    expect(screen.getByTestId("not-verified")).toHaveTextContent("Not verified");
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1/callback");
  });

  it("Save with nothing typed says how many things need fixing and names each field, in the engine's words", async () => {
    const engine = backend();
    await openForm("preset-oauth1");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("fix-count")).toHaveTextContent("6 things need fixing");
    expect(screen.getByTestId("error-request_token_url")).toHaveTextContent("Copy it from the provider's API documentation");
    expect(screen.getByTestId("error-client_secret")).toHaveTextContent("Consumer secret is required");
    expect(screen.getByTestId("o1-name")).toHaveFocus();
    expect(engine.called("connection_create")).toHaveLength(0);
  });

  it("saves the consumer secret with the connection (HMAC-SHA1 by default), never a key", async () => {
    const engine = backend();
    await openForm("trello");
    await userEvent.type(screen.getByTestId("o1-consumer_key"), "key-1");
    await userEvent.type(screen.getByTestId("o1-secret"), "s3cret");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(engine.called("connection_create")).toHaveLength(1));
    const draft = engine.lastArgs("connection_create")!.draft as Extract<ConnectionDraft, { kind: "oauth1" }>;
    expect(draft).toMatchObject({ kind: "oauth1", name: "Trello", consumer_key: "key-1", signature_method: "hmac_sha1", callback: "loopback" });
    expect(draft.client_secret).toEqual({ kind: "set", value: "s3cret" });
    expect(engine.called("oauth1_private_key_set")).toHaveLength(0);
  });

  it("warns that PLAINTEXT suits only https", async () => {
    backend();
    await openForm("preset-oauth1");
    await userEvent.selectOptions(screen.getByTestId("o1-signature_method"), "plaintext");
    expect(screen.getByTestId("plaintext-warning")).toHaveTextContent("only when every address starts with https");
  });

  it("with RSA asks for the private key instead of the secret, checks it, and saves it in the keyring after the connection", async () => {
    const engine = backend();
    await openForm("trello");
    await userEvent.selectOptions(screen.getByTestId("o1-signature_method"), "rsa_sha1");
    expect(screen.queryByTestId("o1-secret")).toBeNull();
    await userEvent.type(screen.getByTestId("o1-consumer_key"), "key-1");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-private_key")).toHaveTextContent("Paste the private key (PEM) or choose its file");
    await userEvent.click(screen.getByTestId("o1-pem"));
    await userEvent.paste("not a key");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-private_key")).toHaveTextContent("That is not a PEM private key.");
    await userEvent.clear(screen.getByTestId("o1-pem"));
    await userEvent.click(screen.getByTestId("o1-pem"));
    await userEvent.paste(PEM);
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(engine.called("oauth1_private_key_set")).toHaveLength(1));
    expect(engine.lastArgs("oauth1_private_key_set")).toEqual({ id: "cn_new", pem: PEM });
    const draft = engine.lastArgs("connection_create")!.draft as Extract<ConnectionDraft, { kind: "oauth1" }>;
    expect(draft.signature_method).toBe("rsa_sha1");
    expect(draft.client_secret).toEqual({ kind: "keep" });
  });

  it("takes a key from a chosen file, showing the file's name rather than the key", async () => {
    const engine = backend({ oauth1_private_key_choose: () => ({ file_name: "jira.pem", pem: PEM }) });
    await openForm("preset-oauth1");
    await userEvent.selectOptions(screen.getByTestId("o1-signature_method"), "rsa_sha256");
    await userEvent.click(screen.getByTestId("o1-pem-choose"));
    expect(await screen.findByTestId("o1-pem-file")).toHaveTextContent("Key from jira.pem, ready to save.");
    expect(screen.queryByTestId("o1-pem")).toBeNull();
    expect(engine.lastArgs("oauth1_private_key_check")).toEqual({ pem: PEM });
  });

  it("puts the OAuth parameters, body hash and each step's extra parameters under Advanced", async () => {
    const engine = backend();
    await openForm("trello");
    expect(screen.queryByTestId("o1-transport")).toBeNull();
    await userEvent.click(screen.getByTestId("o1-advanced"));
    expect(screen.getByTestId("o1-transport")).toHaveValue("header");
    await userEvent.selectOptions(screen.getByTestId("o1-transport"), "query");
    await userEvent.click(screen.getByTestId("o1-body-hash"));
    await userEvent.type(screen.getByTestId("o1-consumer_key"), "k");
    await userEvent.type(screen.getByTestId("o1-secret"), "s");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(engine.called("connection_create")).toHaveLength(1));
    expect(engine.lastArgs("connection_create")!.draft).toMatchObject({ transport: "query", body_hash: true });
  });

  it("an address under Advanced the engine refuses opens Advanced and takes the user there", async () => {
    const engine = backend({
      connection_check: () => [{ field: "info_url", message: "Account info URL must be a web address (https://…)." }],
    });
    await openForm("trello");
    expect(screen.queryByTestId("o1-info_url")).toBeNull();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-info_url")).toHaveTextContent("must be a web address");
    await waitFor(() => expect(screen.getByTestId("o1-info_url")).toHaveFocus());
    expect(engine.called("connection_create")).toHaveLength(0);
  });

  it("with “The service shows a code” has no callback URL to register", async () => {
    backend();
    await openForm("preset-oauth1");
    expect(screen.getByTestId("redirect-top")).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("o1-callback-oob"));
    expect(screen.queryByTestId("redirect-top")).toBeNull();
  });
});

describe("editing an OAuth 1.0a connection", () => {
  it("opens its own form with the secret shown only as saved in the keyring", async () => {
    const connection = oauth1ConnectionDto({ status: "connected", access_issued_at: "2025-01-01T00:00:00Z" });
    const { id: _id, ...rest } = connection;
    void _id;
    const engine = mockBackend({
      connections_list: () => [connection],
      connection_draft: () => ({ ...oauth1Defaults(), ...Object.fromEntries(Object.entries(rest).filter(([k]) => k in oauth1Defaults())), name: "Photos", kind: "oauth1" }),
      connection_check: () => [],
      connection_update: ({ draft }) => ({ ...connection, ...(draft as object) }),
    });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("edit"));
    expect(await screen.findByTestId("oauth1-form")).toBeInTheDocument();
    expect(screen.getByTestId("o1-consumer_key")).toHaveValue("dpf43f3p2l4k3l03");
    expect(screen.getByTestId("o1-secret")).toHaveValue("");
    expect(screen.getByTestId("o1-secret-help")).toHaveTextContent("Saved in your keyring");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(engine.called("connection_update")).toHaveLength(1));
    expect((engine.lastArgs("connection_update")!.draft as ConnectionDraft).client_secret).toEqual({ kind: "keep" });
  });
});
