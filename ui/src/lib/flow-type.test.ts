import { describe, expect, it } from "vitest";
import { FLOW_TYPES, flowTypeOf, specForFlowType } from "./flow-type";

describe("flow type mapping", () => {
  it("maps each select choice to a flow and PKCE setting", () => {
    expect(specForFlowType("code_pkce")).toEqual({ flow: "authorization_code", pkce: "s256" });
    expect(specForFlowType("code")).toEqual({ flow: "authorization_code", pkce: "off" });
    expect(specForFlowType("implicit")).toEqual({ flow: "implicit", pkce: "off" });
    expect(specForFlowType("client_credentials")).toEqual({ flow: "client_credentials", pkce: "off" });
  });
  it("maps every choice back to itself", () => {
    for (const { value } of FLOW_TYPES) {
      const { flow, pkce } = specForFlowType(value);
      expect(flowTypeOf(flow, pkce)).toBe(value);
    }
  });
  it("shows plain PKCE as the PKCE choice", () => {
    expect(flowTypeOf("authorization_code", "plain")).toBe("code_pkce");
  });
});
