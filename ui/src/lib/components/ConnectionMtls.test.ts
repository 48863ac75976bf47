import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ClientCertificate, ConnectionDto, OAuth2ConnectionDraft } from "$lib/ipc";
import ConnectionForm from "./ConnectionForm.svelte";
import { connectionDto, draftOf, mockBackend } from "../../test-fixtures";

const noop = () => {};

const KEY_LINE = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc2VjcmV0LWtleS1ieXRlcw";
const IDENTITY = `-----BEGIN CERTIFICATE-----\nMIIBJzCBzqADAgECAhR+\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n${KEY_LINE}\n-----END PRIVATE KEY-----\n`;
const CERTIFICATE: ClientCertificate = {
  subject: "CN=latch-mtls-client, O=Example Corp",
  issuer: "CN=Example Corp CA",
  not_after: "2031-06-30T12:00:00Z",
  thumbprint: "pQ3k0V6cS0aZbq2W3uR5QeM9Y8x1t7y2u3i4o5p6a7s",
  made_by_latch: false,
};

/** The form with Advanced open, where the client authentication is chosen. */
async function renderForm(props: { connection?: ConnectionDto; onsaved?: (saved: ConnectionDto) => void } = {}) {
  render(ConnectionForm, { onsaved: noop, oncancel: noop, ...props });
  await screen.findByTestId("connection-form");
  await userEvent.click(screen.getByTestId("advanced-toggle"));
}

const choose = (name: string) => userEvent.click(within(screen.getByRole("group", { name: "Client authentication" })).getByRole("radio", { name }));

/** Pastes `text` into the certificate area, as a person pasting then leaving the field. */
async function pasteCertificate(text: string) {
  const area = screen.getByLabelText("Certificate and private key (PEM)");
  await fireEvent.input(area, { target: { value: text } });
  await fireEvent.change(area, { target: { value: text } });
}

afterEach(() => vi.restoreAllMocks());

describe("the OAuth 2.0 form with a client certificate (mutual TLS)", () => {
  it("offers both certificate methods in words, and a certificate then takes the client secret's place", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    await choose("Certificate from your organisation (mutual TLS)");
    expect(screen.getByRole("group", { name: "Client certificate" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Client secret")).toBeNull();
    expect(screen.getByText(/Set it up under Client certificate, near the top of this form\./)).toBeInTheDocument();
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "tls_client_auth" } }));

    await choose("Certificate Latch made for this computer (mutual TLS)");
    expect(screen.getByTestId("certificate-will-make")).toHaveTextContent("Latch will make a certificate for this computer when you save");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "self_signed_tls_client_auth" } }),
    );
  });

  it("reads a pasted certificate and key through the engine, shows whom it names, and saves the key only to the keyring", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      client_certificate_check: () => CERTIFICATE,
      connection_create: ({ draft }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_corp" }),
      client_identity_set: () => null,
    });
    const onsaved = vi.fn();
    await renderForm({ onsaved });
    await userEvent.type(screen.getByRole("textbox", { name: "Connection name" }), "Corp API");
    await choose("Certificate from your organisation (mutual TLS)");
    await pasteCertificate(IDENTITY);

    const chosen = await screen.findByTestId("certificate-chosen");
    expect(chosen).toHaveTextContent("CN=latch-mtls-client, O=Example Corp");
    expect(chosen).toHaveTextContent(`valid until ${new Date(CERTIFICATE.not_after).toLocaleDateString()}`);
    expect(screen.getByTestId("certificate-pending")).toHaveTextContent("saved in your keyring when you save");
    // Read once, then gone from the page.
    expect(screen.getByLabelText("Certificate and private key (PEM)")).toHaveValue("");
    expect(document.body.innerHTML).not.toContain(KEY_LINE);
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_certificate: { subject: CERTIFICATE.subject } } }),
    );

    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    expect(backend.lastArgs("connection_create")!.draft).toMatchObject({ client_auth: "tls_client_auth", client_certificate: CERTIFICATE });
    expect(backend.lastArgs("client_identity_set")).toEqual({ id: "cn_corp", pem: IDENTITY });
    // The key went to the engine twice (read, then saved), and in no other call.
    const withKey = backend.calls.filter((call) => JSON.stringify(call.args).includes(KEY_LINE)).map((call) => call.command);
    expect(withKey).toEqual(["client_certificate_check", "client_identity_set"]);
  });

  it("says in the engine's words why a pasted certificate cannot be used", async () => {
    mockBackend({
      connection_check: () => [],
      client_certificate_check: () => {
        throw { code: "validation", message: "The private key does not belong to the certificate.", fields: [], details: null };
      },
    });
    await renderForm();
    await choose("Certificate from your organisation (mutual TLS)");
    await pasteCertificate(IDENTITY);
    expect(await screen.findByTestId("certificate-problem")).toHaveTextContent("The private key does not belong to the certificate.");
    expect(screen.getByLabelText("Certificate and private key (PEM)")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("certificate-chosen")).toBeNull();
  });

  it("chooses a PKCS#12 file with its password through the shell", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      client_certificate_choose: () => ({ file_name: "corp.p12", pem: IDENTITY, certificate: CERTIFICATE }),
    });
    await renderForm();
    await choose("Certificate from your organisation (mutual TLS)");
    await userEvent.type(screen.getByTestId("certificate-password"), "p12-pass");
    await userEvent.click(screen.getByTestId("certificate-choose"));
    expect(backend.lastArgs("client_certificate_choose")).toEqual({ password: "p12-pass" });
    expect(await screen.findByTestId("certificate-pending")).toHaveTextContent("(from corp.p12)");
  });

  it("shows the engine's error for the missing certificate under the field", async () => {
    mockBackend({
      connection_check: () => [{ field: "client_certificate", message: "Signing in with a certificate (mutual TLS) needs one." }],
    });
    await renderForm();
    await choose("Certificate from your organisation (mutual TLS)");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-client_certificate")).toHaveTextContent("needs one");
  });

  it("keeps a saved connection's certificate, and an edit saves a new one before the settings", async () => {
    const connection = connectionDto({ client_auth: "tls_client_auth", client_certificate: CERTIFICATE });
    const backend = mockBackend({
      connection_draft: () => draftOf(connection),
      connection_check: () => [],
      client_certificate_check: () => ({ ...CERTIFICATE, subject: "CN=renewed" }),
      client_identity_set: () => null,
      connection_update: ({ draft }) => ({ ...connection, ...(draft as OAuth2ConnectionDraft) }),
    });
    await renderForm({ connection });
    expect(screen.getByTestId("certificate-chosen")).toHaveTextContent("— in your keyring");
    await pasteCertificate(IDENTITY);
    await screen.findByText("CN=renewed");
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(backend.called("connection_update")).toHaveLength(1));
    const order = backend.calls.map((call) => call.command).filter((c) => c === "client_identity_set" || c === "connection_update");
    expect(order).toEqual(["client_identity_set", "connection_update"]);
  });
});

describe("the detail of a connection with a client certificate", () => {
  it("names the method and the certificate in words, never a key", async () => {
    mockBackend({ connections_list: () => [connectionDto({ client_auth: "tls_client_auth", client_certificate: CERTIFICATE })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-client-auth")).toHaveTextContent("Certificate from your organisation (mutual TLS)");
    expect(screen.getByTestId("client-certificate-subject")).toHaveTextContent("CN=latch-mtls-client, O=Example Corp");
    expect(screen.getByTestId("client-certificate-expiry")).toHaveTextContent(
      `Valid until ${new Date(CERTIFICATE.not_after).toLocaleDateString()}.`,
    );
    expect(screen.queryByTestId("client-certificate-pem")).toBeNull();
  });

  it("shows a certificate Latch made whole, with Copy, to register with the service", async () => {
    const made = { ...CERTIFICATE, subject: "CN=Latch Corp API", issuer: "CN=Latch Corp API", made_by_latch: true };
    const pem = "-----BEGIN CERTIFICATE-----\nMIIBJzCBzqADAgECAhR+\n-----END CERTIFICATE-----\n";
    const backend = mockBackend({
      connections_list: () => [connectionDto({ id: "cn_own", client_auth: "self_signed_tls_client_auth", client_certificate: made })],
      client_certificate_pem: () => pem,
    });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-client-auth")).toHaveTextContent("Certificate Latch made for this computer (mutual TLS)");
    expect(await screen.findByTestId("client-certificate-pem")).toHaveTextContent("BEGIN CERTIFICATE");
    expect(backend.lastArgs("client_certificate_pem")).toEqual({ id: "cn_own" });
    expect(screen.getByTestId("copy-client-certificate")).toBeInTheDocument();
    expect(screen.getByTestId("client-certificate-expiry")).toHaveTextContent("Latch made it for this computer. Register it with the service");
    expect(document.body.innerHTML).not.toContain("PRIVATE KEY");
  });

  it("says when the certificate has expired", async () => {
    const old = { ...CERTIFICATE, not_after: "2020-01-02T00:00:00Z" };
    mockBackend({ connections_list: () => [connectionDto({ client_auth: "tls_client_auth", client_certificate: old })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("client-certificate-expiry")).toHaveTextContent(
      `Expired on ${new Date(old.not_after).toLocaleDateString()}. Import a renewed certificate`,
    );
  });
});
