import type { Action } from "$lib/ipc";

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
      return "Edit settings";
    case "check_network":
    case "retry_later":
    case "unlock_keyring":
    case "show_connections":
    case "show_presets":
      return null;
  }
}
