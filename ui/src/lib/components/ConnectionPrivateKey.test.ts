import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, OAuth2ConnectionDraft } from "$lib/ipc";
import ConnectionForm from "./ConnectionForm.svelte";
import { connectionDto, draftOf, mockBackend } from "../../test-fixtures";

const noop = () => {};

const PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
const JWK = '{"alg":"ES256","crv":"P-256","kid":"Xq1pzvnP2_Fu6aYkA2Ky","kty":"EC","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}';

/** The form with Advanced open, where the client authentication is chosen. */
async function renderForm(props: { connection?: ConnectionDto; onsaved?: (saved: ConnectionDto) => void } = {}) {
  render(ConnectionForm, { onsaved: noop, oncancel: noop, ...props });
  await screen.findByTestId("connection-form");
  await userEvent.click(screen.getByTestId("advanced-toggle"));
}

const chooseKey = () => userEvent.click(screen.getByRole("radio", { name: "Signed with a key only this computer has" }));

afterEach(() => vi.restoreAllMocks());

describe("the OAuth 2.0 form with a private key (private_key_jwt)", () => {
  it("offers signing with a key, and then asks how to get the key instead of a client secret", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await chooseKey();
    const key = within(screen.getByRole("group", { name: "Private key" }));
    expect(key.getByRole("radio", { name: "Make a key for me" })).toBeChecked();
    expect(key.getByRole("radio", { name: "Use my own key" })).not.toBeChecked();
    expect(screen.getByTestId("key-will-generate")).toHaveTextContent(
      "Latch will make a new key when you save; you then give the service its public key.",
    );
    expect(screen.queryByLabelText("Client secret")).toBeNull();
    // Chosen in Advanced, set up above: the choice says where.
    expect(screen.getByText(/the key never leaves this computer\. Set it up under Private key, near the top of this form\./)).toBeInTheDocument();
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "private_key_jwt" } }));
  });

  it("“Make a key for me” asks the engine to make the key on save, and no key text leaves the page", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_new" }),
    });
    const onsaved = vi.fn();
    await renderForm({ onsaved });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Robot");
    await chooseKey();
    await userEvent.selectOptions(screen.getByTestId("key-algorithm"), "ed25519");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const draft = backend.lastArgs("connection_create")!.draft as OAuth2ConnectionDraft;
    expect(draft).toMatchObject({ client_auth: "private_key_jwt", client_secret: { kind: "generate_key", algorithm: "ed25519" } });
    expect(JSON.stringify(backend.calls)).not.toContain("PRIVATE KEY");
  });

  it("sends a pasted key as the secret, and typing it keeps signing with a key", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await chooseKey();
    await userEvent.click(screen.getByRole("radio", { name: "Use my own key" }));
    const pem = screen.getByLabelText("Your private key");
    expect(pem).toHaveAttribute("autocomplete", "off");
    expect(pem).toHaveAttribute("spellcheck", "false");
    await userEvent.click(pem);
    await userEvent.paste(PEM);
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({
        draft: { client_auth: "private_key_jwt", client_secret: { kind: "set", value: PEM } },
      }),
    );
    await userEvent.clear(pem);
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "private_key_jwt", client_secret: { kind: "keep" } } }),
    );
  });

  it("waits for the key to be pasted before saying it is missing", async () => {
    mockBackend({
      connection_check: () => [{ field: "client_secret", message: "Signing with a private key needs the key." }],
    });
    await renderForm();
    await chooseKey();
    await userEvent.click(screen.getByRole("radio", { name: "Use my own key" }));
    await userEvent.click(screen.getByRole("radio", { name: "Make a key for me" }));
    await userEvent.click(screen.getByRole("radio", { name: "Use my own key" }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(screen.queryByTestId("error-client_secret")).toBeNull();
    await userEvent.type(screen.getByLabelText("Your private key"), "x");
    await userEvent.tab();
    expect(await screen.findByTestId("error-client_secret")).toHaveTextContent("Signing with a private key needs the key.");
  });

  it("shows the engine's refusal of the key under the Private key field", async () => {
    mockBackend({
      connection_check: ({ draft }) =>
        (draft as OAuth2ConnectionDraft).client_secret.kind === "set"
          ? [{ field: "client_secret", message: "This is not a private key Latch can sign with: paste a PEM key." }]
          : [],
    });
    await renderForm();
    await chooseKey();
    await userEvent.click(screen.getByRole("radio", { name: "Use my own key" }));
    const pem = screen.getByLabelText("Your private key");
    await userEvent.type(pem, "not a key");
    await userEvent.click(screen.getByTestId("save"));
    const error = await screen.findByTestId("error-client_secret");
    expect(error).toHaveTextContent("This is not a private key Latch can sign with: paste a PEM key.");
    expect(error.closest("[data-field]")).toHaveAttribute("data-field", "client_secret");
    expect(pem).toHaveAttribute("aria-invalid", "true");
  });

  it("says a saved key is in the keyring, keeps it unless replaced, and replaces it with a new one on request", async () => {
    const connection = connectionDto({ flow: "client_credentials", client_auth: "private_key_jwt", has_client_secret: true, client_public_jwk: JWK });
    const backend = mockBackend({ connection_draft: () => draftOf(connection), connection_check: () => [] });
    render(ConnectionForm, { connection, onsaved: noop, oncancel: noop });
    await screen.findByTestId("connection-form");
    expect(screen.getByTestId("key-saved")).toHaveTextContent("A private key is saved in your keyring");
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_secret: { kind: "keep" } } }));
    await userEvent.click(screen.getByTestId("key-replace"));
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_secret: { kind: "generate_key", algorithm: "es256" } } }),
    );
    await userEvent.click(screen.getByRole("button", { name: "Keep the saved key" }));
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_secret: { kind: "keep" } } }));
  });

  it("does not take a saved client secret for a key when the method changes to signing with a key", async () => {
    const connection = connectionDto({ client_auth: "basic", has_client_secret: true });
    const backend = mockBackend({ connection_draft: () => draftOf(connection), connection_check: () => [] });
    await renderForm({ connection });
    await chooseKey();
    expect(screen.queryByTestId("key-saved")).toBeNull();
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "private_key_jwt", client_secret: { kind: "generate_key" } } }),
    );
    await userEvent.click(screen.getByRole("radio", { name: "Basic (Authorization header)" }));
    expect(screen.getByText("Saved in your system keyring")).toBeInTheDocument();
  });
});

describe("the detail of a connection that signs with a key", () => {
  it("names the method in words and shows the public key to register, with Copy", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    mockBackend({
      connections_list: () => [connectionDto({ flow: "client_credentials", client_auth: "private_key_jwt", has_client_secret: true, client_public_jwk: JWK })],
    });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-client-auth")).toHaveTextContent("Signed with a key only this computer has");
    const block = within(screen.getByRole("region", { name: "Public key to register with the service" }));
    expect(block.getByTestId("public-jwk")).toHaveTextContent(JWK);
    expect(block.getByText(/Paste it where the service asks for your app's public key or JWKS/)).toBeInTheDocument();
    await userEvent.click(block.getByRole("button", { name: "Copy public key" }));
    expect(writeText).toHaveBeenCalledWith(JWK);
    expect(document.body.textContent).not.toContain("PRIVATE KEY");
  });

  it("shows no public key block for a connection with a client secret", async () => {
    mockBackend({ connections_list: () => [connectionDto({ client_auth: "basic", has_client_secret: true })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.queryByTestId("public-key")).toBeNull();
  });
});
