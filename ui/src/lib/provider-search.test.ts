import { describe, expect, it } from "vitest";
import { addressFromSearch, listedPresets, matchPresets } from "./provider-search";
import { presetDto } from "../test-fixtures";

describe("the provider search", () => {
  it("takes an address typed in the search as the provider's address", () => {
    expect(addressFromSearch("https://id.example.com")).toBe("https://id.example.com");
    expect(addressFromSearch("  http://127.0.0.1:9000/realms/x ")).toBe("http://127.0.0.1:9000/realms/x");
    expect(addressFromSearch("id.example.com")).toBe("https://id.example.com");
    expect(addressFromSearch("login.example.com/tenant")).toBe("https://login.example.com/tenant");
  });

  it("does not take a provider's name for an address", () => {
    for (const text of ["", "google", "git hub", "make", "https://", "example."]) expect(addressFromSearch(text)).toBeNull();
  });

  it("lists training services only when asked to", () => {
    const github = presetDto();
    const academy = presetDto({ id: "app-academy", name: "Make App Academy API v2", training: true });
    expect(listedPresets([github, academy], false)).toEqual([github]);
    expect(listedPresets([github, academy], true)).toEqual([github, academy]);
    expect(matchPresets(listedPresets([github, academy], false), "academy")).toEqual([]);
  });
});
