import { describe, expect, it } from "vitest";
import { addScopes, moveScope, scopeQueryPreview, splitScopes } from "./scopes";

describe("splitScopes", () => {
  it("splits on spaces", () => expect(splitScopes("a b c")).toEqual(["a", "b", "c"]));
  it("splits on commas", () => expect(splitScopes("a,b,c")).toEqual(["a", "b", "c"]));
  it("splits on a comma followed by a space", () => expect(splitScopes("a, b")).toEqual(["a", "b"]));
  it("splits on mixed separators and newlines", () =>
    expect(splitScopes(" openid\nprofile,,email ")).toEqual(["openid", "profile", "email"]));
  it("keeps URL-shaped scopes whole", () =>
    expect(splitScopes("https://www.googleapis.com/auth/drive.readonly")).toEqual([
      "https://www.googleapis.com/auth/drive.readonly",
    ]));
});

describe("addScopes", () => {
  it("skips scopes already in the list", () => expect(addScopes(["a"], ["a", "b"])).toEqual(["a", "b"]));
});

describe("moveScope", () => {
  it("moves a scope left and right", () => {
    expect(moveScope(["a", "b", "c"], 1, -1)).toEqual(["b", "a", "c"]);
    expect(moveScope(["a", "b", "c"], 1, 1)).toEqual(["a", "c", "b"]);
  });
  it("leaves the list alone at the edges", () => {
    expect(moveScope(["a", "b"], 0, -1)).toEqual(["a", "b"]);
    expect(moveScope(["a", "b"], 1, 1)).toEqual(["a", "b"]);
  });
});

describe("scopeQueryPreview", () => {
  it("encodes the space separator as %20", () =>
    expect(scopeQueryPreview(["read", "write"], "space")).toBe("scope=read%20write"));
  it("keeps the comma separator literal", () =>
    expect(scopeQueryPreview(["read", "write"], "comma")).toBe("scope=read,write"));
  it("encodes characters inside a scope", () =>
    expect(scopeQueryPreview(["https://x.test/a"], "space")).toBe("scope=https%3A%2F%2Fx.test%2Fa"));
});
