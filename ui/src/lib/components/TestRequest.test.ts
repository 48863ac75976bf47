import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import TestRequest from "./TestRequest.svelte";
import { connectionDto, mockBackend } from "../../test-fixtures";

describe("the test request panel", () => {
  it("previews the masked request, sends it and pretty-prints a JSON answer", async () => {
    const backend = mockBackend({
      request_preview: ({ request }) => ({
        method: "GET",
        url: (request as { url: string }).url,
        headers: [{ key: "Authorization", value: "Bearer ••••••" }],
      }),
      request_send: () => ({ status: 200, reason: "OK", headers: [{ key: "content-type", value: "application/json" }], body: '{"email":"ann@example.com"}' }),
    });
    render(TestRequest, { connection: connectionDto({ status: "connected" }) });
    await userEvent.type(screen.getByRole("textbox", { name: "Address" }), "https://api.example.com/me");
    expect(await screen.findByTestId("request-preview")).toHaveTextContent("Authorization: Bearer ••••••");
    await userEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(await screen.findByTestId("response")).toHaveTextContent("200 OK");
    expect(screen.getByTestId("response-body").textContent).toBe('{\n  "email": "ann@example.com"\n}');
    expect(backend.called("request_send")[0].args).toEqual({
      id: "cn_01",
      request: { method: "GET", url: "https://api.example.com/me", headers: [], body: null },
    });
    expect(backend.called("access_token_reveal")).toHaveLength(0);
  });

  it("is a panel titled Test request", () => {
    mockBackend({});
    render(TestRequest, { connection: connectionDto({ status: "connected" }) });
    expect(screen.getByRole("region", { name: "Test request" })).toHaveTextContent("Test request");
    expect(screen.getByRole("heading", { name: "Test request" })).toBeInTheDocument();
  });

  it("copies a curl command without the token unless asked, from its menu, through the shell", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const backend = mockBackend({
      request_preview: () => ({ method: "GET", url: "https://x.test", headers: [] }),
      request_curl_copy: ({ includeToken }) => ({ clears_in_seconds: includeToken ? 45 : null }),
    });
    render(TestRequest, { connection: connectionDto({ status: "connected", name: "Team Drive" }) });
    await userEvent.type(screen.getByRole("textbox", { name: "Address" }), "https://x.test");
    // "Include the access token" is no longer a checkbox beside the button: it is a choice in its menu.
    expect(screen.queryByRole("checkbox", { name: "Include the access token" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Copy as curl" }));
    const without = screen.getByRole("menuitem", { name: /Copy without token/ });
    expect(without).toHaveTextContent("Copy without token Uses $TOKEN from latch token 'Team Drive'");
    await userEvent.click(without);
    await waitFor(() => expect(backend.called("request_curl_copy")[0]?.args.includeToken).toBe(false));
    expect(await screen.findByTestId("curl-copy-status")).toHaveTextContent(/^Copied$/);
    await userEvent.click(screen.getByRole("button", { name: "Copy as curl" }));
    await userEvent.click(screen.getByRole("menuitem", { name: /Copy with token/ }));
    await waitFor(() => expect(backend.lastArgs("request_curl_copy")?.includeToken).toBe(true));
    expect(await screen.findByTestId("curl-copy-status")).toHaveTextContent("Copied — cleared in 45 s");
    expect(writeText).not.toHaveBeenCalled();
    expect(backend.called("access_token_reveal")).toHaveLength(0);
  });

  it("offers no curl command for tokens bound to this computer (DPoP), and says what works instead", async () => {
    const backend = mockBackend({ request_preview: () => ({ method: "GET", url: "https://x.test", headers: [] }) });
    render(TestRequest, { connection: connectionDto({ status: "connected", dpop: true }) });
    await userEvent.type(screen.getByRole("textbox", { name: "Address" }), "https://x.test");
    expect(screen.queryByRole("button", { name: "Copy as curl" })).not.toBeInTheDocument();
    expect(screen.getByTestId("curl-bound")).toHaveTextContent(
      "No curl command: this connection's tokens are bound to this computer (DPoP), so only Latch can use them — here with Send, or with latch request and Latch's proxy.",
    );
    expect(screen.getByRole("button", { name: "Send" })).toBeEnabled();
    expect(backend.called("request_curl_copy")).toHaveLength(0);
  });
});
