import type { Flow, Pkce } from "$lib/ipc";

/** The choices of the Flow type select; each one is a (flow, pkce) pair in the spec. */
export type FlowType = "code_pkce" | "code" | "implicit" | "client_credentials" | "device_code";

export const FLOW_TYPES: { value: FlowType; label: string }[] = [
  { value: "code_pkce", label: "Authorization code with PKCE — recommended" },
  { value: "code", label: "Authorization code" },
  { value: "implicit", label: "Implicit — legacy" },
  { value: "client_credentials", label: "Client credentials" },
  { value: "device_code", label: "Device code — sign in on another device" },
];

export function flowTypeOf(flow: Flow, pkce: Pkce): FlowType {
  switch (flow) {
    case "authorization_code":
      // "plain" is still PKCE; it is shown as the PKCE choice and only changes if the user picks again.
      return pkce === "off" ? "code" : "code_pkce";
    case "implicit":
      return "implicit";
    case "client_credentials":
      return "client_credentials";
    case "device_code":
      return "device_code";
  }
}

export function specForFlowType(flowType: FlowType): { flow: Flow; pkce: Pkce } {
  switch (flowType) {
    case "code_pkce":
      return { flow: "authorization_code", pkce: "s256" };
    case "code":
      return { flow: "authorization_code", pkce: "off" };
    case "implicit":
      return { flow: "implicit", pkce: "off" };
    case "client_credentials":
      return { flow: "client_credentials", pkce: "off" };
    case "device_code":
      return { flow: "device_code", pkce: "off" };
  }
}

/** Short label for lists and the detail header. */
export function flowLabel(flow: Flow, pkce: Pkce): string {
  switch (flowTypeOf(flow, pkce)) {
    case "code_pkce":
      return "Authorization code + PKCE";
    case "code":
      return "Authorization code";
    case "implicit":
      return "Implicit (legacy)";
    case "client_credentials":
      return "Client credentials";
    case "device_code":
      return "Device code";
  }
}
