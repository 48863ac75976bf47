import { describe, expect, it } from "vitest";
import { draftForSending, newConnectionSpec } from "./connection-draft";

describe("draftForSending", () => {
  it("sends empty addresses as null", () => {
    const spec = { ...newConnectionSpec(), authorize_url: "", token_url: "  https://x.test/token " };
    const draft = draftForSending(spec, { kind: "keep" });
    expect(draft.authorize_url).toBeNull();
    expect(draft.token_url).toBe("https://x.test/token");
  });
  it("drops key–value rows left completely blank", () => {
    const spec = { ...newConnectionSpec(), authorize_params: [{ key: "", value: "" }, { key: "prompt", value: "consent" }] };
    expect(draftForSending(spec, { kind: "keep" }).authorize_params).toEqual([{ key: "prompt", value: "consent" }]);
  });
  it("starts new connections with PKCE, the space separator and the Bearer header", () => {
    const spec = newConnectionSpec();
    expect([spec.flow, spec.pkce, spec.scope_separator, spec.token_placement, spec.token_name]).toEqual([
      "authorization_code",
      "s256",
      "space",
      "header",
      "Bearer",
    ]);
  });
});
