import { describe, expect, it } from "vitest";
import { redirectUri } from "./redirect-uri";

describe("redirectUri", () => {
  it("leaves the port out when it is automatic", () =>
    expect(redirectUri(0, "/callback")).toBe("http://127.0.0.1/callback"));
  it("includes a fixed port", () => expect(redirectUri(8765, "/callback")).toBe("http://127.0.0.1:8765/callback"));
});
