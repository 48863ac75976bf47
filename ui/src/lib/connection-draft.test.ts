import { describe, expect, it } from "vitest";
import { draftForSending } from "./connection-draft";
import { template } from "../test-fixtures";

describe("draftForSending", () => {
  it("sends addresses as typed: the engine tidies blank ones", () => {
    const draft = { ...template().draft, authorize_url: "", token_url: "  https://x.test/token " };
    const sent = draftForSending(draft, { kind: "keep" });
    expect(sent.authorize_url).toBe("");
    expect(sent.token_url).toBe("  https://x.test/token ");
  });
  it("sends key–value rows as typed: the engine drops blank ones", () => {
    const rows = [{ key: "", value: "" }, { key: "prompt", value: "consent" }];
    const sent = draftForSending({ ...template().draft, authorize_params: rows }, { kind: "keep" });
    expect(sent.authorize_params).toEqual(rows);
  });
  it("attaches what to do with the client secret and keeps every setting of the draft", () => {
    const draft = { ...template().draft, name: "Lab", resource: ["https://api.x.test/"] };
    const sent = draftForSending(draft, { kind: "set", value: "s3cret" });
    expect(sent).toEqual({ ...draft, client_secret: { kind: "set", value: "s3cret" } });
  });
});
