// The one module that talks to the Rust shell. Components import from "$lib/ipc",
// never from "@tauri-apps/api", so every failure arrives as an IpcFailure with a stable code.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  ApiRequestDto,
  ApiResponseDto,
  ConnectionDraft,
  ConnectionDto,
  ConnectionSpec,
  DeviceCodeShown,
  DisconnectOutcome,
  Discovered,
  FieldError,
  ImportChoice,
  ImportedDto,
  ImportFileDto,
  PresetDto,
  RequestPreview,
  SettingsDto,
  SignInStarted,
} from "./types";

export type IpcErrorCode =
  | "validation"
  | "not_found"
  | "needs_authorization"
  | "provider"
  | "network"
  | "keyring_unavailable"
  | "storage"
  | "cancelled"
  | "internal";

export class IpcFailure extends Error {
  readonly code: IpcErrorCode | string;
  readonly fields: FieldError[];
  readonly details: string | null;

  constructor(code: string, message: string, fields: FieldError[] = [], details: string | null = null) {
    super(message);
    this.name = "IpcFailure";
    this.code = code;
    this.fields = fields;
    this.details = details;
  }

  /** Builds a failure from whatever `invoke` rejected with: the shell's IpcError, a string, or anything else. */
  static from(rejection: unknown): IpcFailure {
    if (rejection instanceof IpcFailure) return rejection;
    if (isIpcErrorShape(rejection)) {
      return new IpcFailure(
        rejection.code,
        rejection.message,
        Array.isArray(rejection.fields) ? rejection.fields : [],
        typeof rejection.details === "string" ? rejection.details : null,
      );
    }
    if (typeof rejection === "string" && rejection.trim() !== "") {
      return new IpcFailure("internal", rejection);
    }
    if (rejection instanceof Error && rejection.message) {
      return new IpcFailure("internal", rejection.message);
    }
    return new IpcFailure("internal", "Something went wrong inside Latch. Please try again.");
  }
}

function isIpcErrorShape(
  value: unknown,
): value is { code: string; message: string; fields?: unknown; details?: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (rejection) {
    throw IpcFailure.from(rejection);
  }
}

export const connectionsList = () => call<ConnectionDto[]>("connections_list");
export const connectionGet = (id: string) => call<ConnectionDto>("connection_get", { id });
export const connectionCheck = (draft: ConnectionDraft, id: string | null) =>
  call<FieldError[]>("connection_check", { draft, id });
export const connectionCreate = (draft: ConnectionDraft) => call<ConnectionDto>("connection_create", { draft });
export const connectionUpdate = (id: string, draft: ConnectionDraft) =>
  call<ConnectionDto>("connection_update", { id, draft });
export const connectionRemove = (id: string) => call<DisconnectOutcome>("connection_remove", { id });
/** Resolves when the browser sign-in finishes; rejects with code "cancelled" after connectionConnectCancel. */
export const connectionConnect = (id: string) => call<ConnectionDto>("connection_connect", { id });
export const connectionConnectCancel = (id: string) => call<null>("connection_connect_cancel", { id });
export const connectionRefresh = (id: string) => call<ConnectionDto>("connection_refresh", { id });
export const connectionDisconnect = (id: string) => call<DisconnectOutcome>("connection_disconnect", { id });
/** Only on an explicit Copy or Reveal click: this is the one call that returns a secret. */
export const accessTokenReveal = (id: string) => call<string>("access_token_reveal", { id });
export const requestSend = (id: string, request: ApiRequestDto) =>
  call<ApiResponseDto>("request_send", { id, request });
export const requestPreview = (id: string, request: ApiRequestDto) =>
  call<RequestPreview>("request_preview", { id, request });
export const requestCurl = (id: string, request: ApiRequestDto, includeToken: boolean) =>
  call<string>("request_curl", { id, request, includeToken });
/** For the paste sign-in: the address the browser ended on after the user approved. */
export const connectionPasteSubmit = (id: string, address: string) =>
  call<null>("connection_paste_submit", { id, address });
export const presetsList = () => call<PresetDto[]>("presets_list");
/** A new connection's settings from a preset; only client ID, secret and scopes are left to choose. */
export const presetSpec = (id: string) => call<ConnectionSpec>("preset_spec", { id });
/** Fills `spec` from the issuer's metadata (OpenID Connect Discovery / RFC 8414); rejects with the reason. */
export const issuerDiscover = (issuer: string, spec: ConnectionSpec) =>
  call<Discovered>("issuer_discover", { issuer, spec });
/** Asks where to save, then writes the settings of `ids` (every connection when empty). Null when cancelled. */
export const connectionsExport = (ids: string[]) => call<string | null>("connections_export", { ids });
/** Asks for an export file and previews it; nothing is imported yet. Null when cancelled. */
export const importChoose = () => call<ImportFileDto | null>("import_choose");
export const connectionsImport = (path: string, choices: ImportChoice[]) =>
  call<ImportedDto>("connections_import", { path, choices });
/** Opens a web page (a provider's page) in the system browser. */
export const settingsGet = () => call<SettingsDto>("settings_get");
/** Saves every setting at once; resolves with what is now in effect. */
export const settingsSave = (settings: SettingsDto) => call<SettingsDto>("settings_save", { settings });

export const openInBrowser = (url: string) => call<null>("plugin:opener|open_url", { url });

async function subscribe<T>(event: string, callback: (payload: T) => void): Promise<UnlistenFn> {
  let unlisten: UnlistenFn;
  try {
    unlisten = await listen<T>(event, (message) => callback(message.payload));
  } catch {
    // Outside the shell (a plain browser, or tests without event mocks) there is nothing to listen to.
    return () => {};
  }
  return () => {
    // Stopping must never throw: it runs while windows close and components unmount.
    try {
      void Promise.resolve(unlisten()).catch(() => {});
    } catch {
      // The event bridge is already gone.
    }
  };
}

/** Fired for changes made by this window, the `latch` CLI or another process: reload what is shown. */
export const onConnectionsChanged = (callback: () => void) => subscribe<null>("connections-changed", () => callback());
export const onSignInStarted = (callback: (started: SignInStarted) => void) =>
  subscribe<SignInStarted>("sign-in-started", callback);
/** A device sign-in (RFC 8628) is waiting for the user to enter this code on the provider's page. */
export const onDeviceCodeShown = (callback: (shown: DeviceCodeShown) => void) =>
  subscribe<DeviceCodeShown>("device-code-shown", callback);
/** The user chose Settings… in the tray menu. */
export const onOpenSettings = (callback: () => void) => subscribe<null>("open-settings", () => callback());
/** The user clicked Reconnect on a notification: the payload is the connection's id. */
export const onReconnectRequested = (callback: (id: string) => void) =>
  subscribe<string>("reconnect-requested", callback);
