import type { Action } from "$lib/ipc";

/** The fields an error can name that have a button of their own: it opens the form there. */
const FIELD_BUTTONS: Record<string, string> = {
  allowed_hosts: "Edit allowed hosts",
  api_base_url: "Edit API address",
};

/**
 * The button that takes the next step an error names, in words for a person; null when the step is not one
 * a button here can take (waiting, checking the network, unlocking the keyring…), as the message says it.
 */
export function actionLabel(action: Action): string | null {
  switch (action.action) {
    case "sign_in_again":
      return "Sign in again";
    case "sign_in":
      return "Sign in";
    case "edit_fields":
      return FIELD_BUTTONS[action.fields[0]] ?? "Edit settings";
    case "check_network":
    case "retry_later":
    case "unlock_keyring":
    case "show_connections":
    case "show_presets":
      return null;
  }
}
