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

  it("copies a curl command without the token unless asked", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const backend = mockBackend({
      request_preview: () => ({ method: "GET", url: "https://x.test", headers: [] }),
      request_curl: ({ includeToken }) => (includeToken ? "curl -H 'Authorization: Bearer t' https://x.test" : "curl https://x.test"),
    });
    render(TestRequest, { connection: connectionDto({ status: "connected" }) });
    await userEvent.type(screen.getByRole("textbox", { name: "Address" }), "https://x.test");
    await userEvent.click(screen.getByRole("button", { name: "Copy as curl" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("curl https://x.test"));
    expect(backend.called("request_curl")[0].args.includeToken).toBe(false);
    await userEvent.click(screen.getByRole("checkbox", { name: "Include the access token" }));
    await userEvent.click(screen.getByRole("button", { name: /Copy as curl|Copied/ }));
    await waitFor(() => expect(backend.lastArgs("request_curl")?.includeToken).toBe(true));
  });
});
