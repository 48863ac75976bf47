import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto } from "$lib/ipc";
import { mockBackend, oauth1ConnectionDto } from "../../test-fixtures";

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

const connected = () =>
  oauth1ConnectionDto({ status: "connected", account: "ann", access_issued_at: new Date(Date.now() - 60_000).toISOString() });

afterEach(() => vi.restoreAllMocks());

describe("the detail of an OAuth 1.0a connection", () => {
  it("is listed and shows its service, account, key, signature in words and where the secret is", async () => {
    await openDetail(connected());
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected");
    expect(screen.getByTestId("account")).toHaveTextContent("ann");
    const facts = within(screen.getByTestId("oauth1-facts"));
    expect(facts.getByTestId("oauth1-host")).toHaveTextContent("photos.example.net");
    expect(facts.getByTestId("oauth1-consumer-key")).toHaveTextContent("dpf43f3p2l4k3l03");
    expect(facts.getByTestId("oauth1-signature")).toHaveTextContent("HMAC-SHA1, in the Authorization header");
    expect(facts.getByTestId("oauth1-secret")).toHaveTextContent("Saved in your keyring");
    expect(screen.getByTestId("state-summary")).toHaveTextContent("The token lasts until you disconnect.");
    expect(screen.queryByText(/Renews automatically/)).toBeNull();
    expect(screen.queryByTestId("granted-scopes")).toBeNull();
  });

  it("names the private key for an RSA connection", async () => {
    await openDetail(oauth1ConnectionDto({ signature_method: "rsa_sha1", has_client_secret: false }));
    expect(screen.getByTestId("oauth1-signature")).toHaveTextContent("RSA-SHA1");
    expect(screen.getByText("Private key")).toBeInTheDocument();
    expect(screen.getByTestId("oauth1-secret")).toHaveTextContent("Saved in your keyring");
  });

  it("offers Test request first and neither Refresh now nor Copy access token: nothing to renew, no bearer token", async () => {
    await openDetail(connected());
    expect(screen.getByTestId("test-request")).toHaveTextContent("Test request");
    await userEvent.click(screen.getByTestId("more-actions"));
    const menu = within(screen.getByRole("menu"));
    expect(menu.queryByTestId("refresh")).toBeNull();
    expect(menu.queryByTestId("copy-token")).toBeNull();
    expect(menu.getByTestId("connect")).toBeInTheDocument();
    expect(menu.getByTestId("edit")).toBeInTheDocument();
    expect(menu.getByTestId("disconnect")).toBeInTheDocument();
    expect(menu.getByTestId("delete")).toBeInTheDocument();
  });

  it("copies curl only with a one-time signature, saying nothing of $TOKEN, and reveals no token", async () => {
    const engine = await openDetail(connected(), {
      request_preview: () => ({ method: "GET", url: "https://photos.example.net/api/me", headers: [] }),
      request_curl_copy: () => ({ what: "curl", clears_in_seconds: 45 }),
    });
    await userEvent.click(screen.getByTestId("test-request"));
    const panel = within(screen.getByTestId("test-request-panel"));
    expect(panel.getByText(/signed by Latch/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Address"), "https://photos.example.net/api/me");
    await userEvent.click(panel.getByRole("button", { name: /Copy as curl/ }));
    const menu = within(screen.getByRole("menu"));
    expect(menu.getByTestId("curl-signed")).toHaveTextContent("Copy with a one-time signature");
    expect(menu.queryByTestId("curl-without-token")).toBeNull();
    expect(screen.getByRole("menu").textContent).not.toContain("$TOKEN");
    expect(panel.queryByRole("button", { name: "Reveal token" })).toBeNull();
    await userEvent.click(menu.getByTestId("curl-signed"));
    await waitFor(() => expect(engine.called("request_curl_copy")).toHaveLength(1));
    expect(engine.lastArgs("request_curl_copy")).toMatchObject({ id: "cn_o1", includeToken: true });
  });

  it("with “the service shows a code” asks for the code, not an address", async () => {
    const engine = await openDetail(oauth1ConnectionDto({ callback: "oob", redirect_uri: null }), {
      sign_in_start: () => ({ session: "s1" }),
      sign_in_submit_address: () => null,
    });
    await userEvent.click(screen.getByTestId("connect"));
    await emit("sign-in", {
      id: "cn_o1",
      session: "s1",
      event: {
        stage: "started",
        authorize_url: "https://photos.example.net/authorize?oauth_token=t",
        redirect_uri: "oob",
        deadline: null,
        browser_error: null,
        paste: true,
      },
    });
    const code = await screen.findByLabelText("Code shown by the service");
    expect(screen.queryByText(/Paste the address/)).toBeNull();
    await userEvent.type(code, "hh5s93j4hdidpola");
    await userEvent.click(screen.getByTestId("paste-submit"));
    await waitFor(() => expect(engine.called("sign_in_submit_address")).toHaveLength(1));
    expect(engine.lastArgs("sign_in_submit_address")).toEqual({ session: "s1", address: "hh5s93j4hdidpola" });
  });
});
