import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ConnectionDto, Draft } from "$lib/ipc";
import App from "./App.svelte";
import { connectionDto, draftOf, mockBackend, oauth1ConnectionDto, specConnectionDto, specOpened } from "./test-fixtures";

const refusal = (connection: string) => ({
  code: "validation",
  message: `Latch does not send the sign-in of '${connection}' to evil.example: it goes only to api.example.com. To allow it, add evil.example to the allowed hosts.`,
  fields: [{ field: "allowed_hosts", message: "evil.example is not an allowed host." }],
  action: { action: "edit_fields", connection, fields: ["allowed_hosts"] },
  provider: null,
  details: null,
});

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

async function sendTo(url: string) {
  const user = userEvent.setup();
  // Connected: Test request is the detail's main button.
  await user.click(screen.getByRole("button", { name: "Test request" }));
  await user.type(screen.getByRole("textbox", { name: "Address" }), url);
  await user.click(screen.getByRole("button", { name: "Send" }));
}

describe("the API section of the connection forms", () => {
  it("edits the API address, allowed hosts and the caller-header choice of an OAuth 2.0 connection and sends them", async () => {
    const connection = connectionDto({ id: "cn_gh", name: "GitHub", status: "connected" });
    const backend = await openDetail(connection, {
      connection_draft: () => draftOf(connection),
      connection_check: ({ draft }) =>
        (draft as { allowed_hosts: string[] }).allowed_hosts.includes("https://x")
          ? [{ field: "allowed_hosts", message: "'https://x' is not a host: write only the host name, e.g. uploads.example.com or example.com:8443." }]
          : [],
      connection_update: ({ draft }) => ({ ...connection, ...(draft as object) }),
    });
    const user = userEvent.setup();
    await user.click(screen.getByTestId("more-actions"));
    await user.click(within(screen.getByRole("menu")).getByTestId("edit"));
    const api = within(await screen.findByTestId("api-section"));
    expect(api.getByRole("heading", { name: "API" })).toBeInTheDocument();
    expect(api.getByText(/Where this service's API lives\. Programs on this computer reach it through Latch without seeing your sign-in\./)).toBeInTheDocument();
    expect(api.getByText(/Latch sends your sign-in only to the API address and these hosts\./)).toBeInTheDocument();
    await user.type(api.getByRole("textbox", { name: "API address" }), "https://api.github.com");
    await user.click(api.getByRole("button", { name: "+ Add host" }));
    await user.type(api.getByRole("textbox", { name: "Also allow these hosts: host 1" }), "https://x");
    await user.click(api.getByRole("checkbox", { name: "Let programs send their own sign-in headers through the proxy" }));
    expect(await api.findByTestId("error-allowed_hosts")).toHaveTextContent("'https://x' is not a host");
    await user.clear(api.getByRole("textbox", { name: "Also allow these hosts: host 1" }));
    await user.type(api.getByRole("textbox", { name: "Also allow these hosts: host 1" }), "uploads.github.com");
    await waitFor(() => expect(api.queryByTestId("error-allowed_hosts")).toBeNull());
    await user.click(screen.getByTestId("save"));
    await waitFor(() => expect(backend.called("connection_update")).toHaveLength(1));
    expect(backend.lastArgs("connection_update")?.draft).toMatchObject({
      api_base_url: "https://api.github.com",
      allowed_hosts: ["uploads.github.com"],
      forward_caller_auth: true,
    });
  });

  it("has the same fields in the OAuth 1.0a form", async () => {
    const connection = oauth1ConnectionDto({ api_base_url: "https://api.trello.com" });
    const { kind: _kind, ...rest } = connection;
    void _kind;
    await openDetail(connection, {
      connection_draft: () => ({ ...rest, kind: "oauth1" }) as unknown as Draft,
      connection_check: () => [],
    });
    const user = userEvent.setup();
    await user.click(screen.getByTestId("more-actions"));
    await user.click(within(screen.getByRole("menu")).getByTestId("edit"));
    const api = within(await screen.findByTestId("api-section"));
    expect(api.getByRole("textbox", { name: "API address" })).toHaveValue("https://api.trello.com");
  });
});

describe("the detail says where the sign-in goes", () => {
  it("shows the API address and the allowed hosts in words", async () => {
    await openDetail(
      connectionDto({
        status: "connected",
        api_base_url: "https://api.github.com",
        allowed_hosts: ["uploads.github.com", "*.githubusercontent.com"],
      }),
    );
    expect(screen.getByTestId("detail-api-base-url")).toHaveTextContent("https://api.github.com");
    expect(screen.getByTestId("detail-allowed-hosts")).toHaveTextContent(
      "uploads.github.com and every address under githubusercontent.com",
    );
  });

  it("says when no other host is allowed", async () => {
    await openDetail(connectionDto({ status: "connected" }));
    expect(screen.getByTestId("detail-api-base-url")).toHaveTextContent("Not set");
    expect(screen.getByTestId("detail-allowed-hosts")).toHaveTextContent("No other hosts");
  });
});

describe("a test request to a host the connection does not allow", () => {
  it("says so in plain words, and Edit allowed hosts opens the form with the cursor there", async () => {
    const connection = connectionDto({ id: "cn_gh", name: "GitHub", status: "connected", api_base_url: "https://api.example.com" });
    const backend = await openDetail(connection, {
      connection_draft: () => draftOf(connection),
      connection_check: () => [],
      request_preview: ({ request }) => ({ method: "GET", url: (request as { url: string }).url, headers: [] }),
      request_send: () => {
        throw refusal("GitHub");
      },
    });
    await sendTo("https://evil.example/steal");
    expect(await screen.findByTestId("request-error")).toHaveTextContent(
      "Latch does not send the sign-in of 'GitHub' to evil.example: it goes only to api.example.com.",
    );
    await userEvent.click(screen.getByRole("button", { name: "Edit allowed hosts" }));
    const api = within(await screen.findByTestId("api-section"));
    await waitFor(() => expect(api.getByRole("button", { name: "+ Add host" })).toHaveFocus());
    expect(backend.called("connection_update")).toHaveLength(0);
  });

  it("opens a spec connection's Change values… at the allowed hosts", async () => {
    const connection = specConnectionDto({ status: "connected", allowed_hosts: ["files.crm.example.com"] });
    await openDetail(connection, {
      spec_open_text: () => specOpened(),
      connection_check: () => [],
      request_preview: ({ request }) => ({ method: "GET", url: (request as { url: string }).url, headers: [] }),
      request_send: () => {
        throw refusal("Company CRM");
      },
    });
    await sendTo("https://evil.example/steal");
    await userEvent.click(await screen.findByRole("button", { name: "Edit allowed hosts" }));
    const api = within(await screen.findByTestId("api-section"));
    await waitFor(() => expect(api.getByRole("textbox", { name: "Also allow these hosts: host 1" })).toHaveFocus());
    expect(api.getByRole("textbox", { name: "Also allow these hosts: host 1" })).toHaveValue("files.crm.example.com");
  });
});
