import { describe, expect, it } from "vitest";
import type { Action } from "$lib/ipc";
import { actionLabel } from "./error-action";

describe("an error's next step as a button", () => {
  it("words signing in and editing for a person", () => {
    expect(actionLabel({ action: "sign_in_again", connection: "GitHub", paste: true })).toBe("Sign in again");
    expect(actionLabel({ action: "sign_in", connection: "GitHub" })).toBe("Sign in");
    expect(actionLabel({ action: "edit_fields", connection: "GitHub", fields: ["client_id"] })).toBe("Edit settings");
  });

  it("names the allowed hosts and the API address when the error is about where the sign-in may go", () => {
    expect(actionLabel({ action: "edit_fields", connection: "GitHub", fields: ["allowed_hosts"] })).toBe("Edit allowed hosts");
    expect(actionLabel({ action: "edit_fields", connection: "GitHub", fields: ["api_base_url"] })).toBe("Edit API address");
  });

  it("offers no button for a step taken outside Latch or shown elsewhere", () => {
    const none: Action[] = [
      { action: "check_network" },
      { action: "retry_later", at: "2030-01-01T00:00:00Z" },
      { action: "unlock_keyring" },
      { action: "show_connections" },
      { action: "show_presets" },
    ];
    for (const action of none) expect(actionLabel(action)).toBeNull();
  });
});
