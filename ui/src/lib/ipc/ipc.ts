// The one module that talks to the Rust shell. Components import from "$lib/ipc",
// never from "@tauri-apps/api", so every failure arrives as an IpcFailure with a stable code.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  Action,
  ApiConnectionDto,
  ApiRequestDto,
  ApiResponseDto,
  ConnectionDraft,
  ConnectionDto,
  ConnectionTemplate,
  Copied,
  DisconnectOutcome,
  Discovered,
  Draft,
  ErrorKind,
  FieldError,
  ImportChoice,
  ImportedDto,
  ImportFileDto,
  KindSettings,
  PresetDto,
  PrivateKeyFileDto,
  ClientCertificate,
  ClientIdentityFileDto,
  ProviderError,
  ProxyStateDto,
  RequestPreview,
  SettingsDto,
  SignInEventDto,
  SignInStartedDto,
  SpecCreateDto,
  SpecOpenedDto,
  StepReport,
  TeamDto,
  TeamJoinDto,
  TeamSyncDto,
  UsageDto,
} from "./types";

/** The engine's error codes, plus `internal` for failures that never reached the engine (the IPC bridge itself). */
export type IpcErrorCode = ErrorKind | "internal";

export class IpcFailure extends Error {
  readonly code: IpcErrorCode;
  readonly fields: FieldError[];
  readonly details: string | null;
  /** The next step that fixes it, for a button (see ErrorAction). */
  readonly action: Action | null;
  /** What the provider itself said, when it said something. */
  readonly provider: ProviderError | null;

  constructor(
    code: IpcErrorCode,
    message: string,
    fields: FieldError[] = [],
    details: string | null = null,
    action: Action | null = null,
    provider: ProviderError | null = null,
  ) {
    super(message);
    this.name = "IpcFailure";
    this.code = code;
    this.fields = fields;
    this.details = details;
    this.action = action;
    this.provider = provider;
  }

  /** Builds a failure from whatever `invoke` rejected with: the shell's IpcError, a string, or anything else. */
  static from(rejection: unknown): IpcFailure {
    if (rejection instanceof IpcFailure) return rejection;
    if (isIpcErrorShape(rejection)) {
      return new IpcFailure(
        rejection.code as IpcErrorCode,
        rejection.message,
        Array.isArray(rejection.fields) ? rejection.fields : [],
        typeof rejection.details === "string" ? rejection.details : null,
        isObject(rejection.action) ? (rejection.action as Action) : null,
        isObject(rejection.provider) ? (rejection.provider as ProviderError) : null,
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

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null;

function isIpcErrorShape(
  value: unknown,
): value is { code: string; message: string; fields?: unknown; details?: unknown; action?: unknown; provider?: unknown } {
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
/** What a new connection's form starts from: the engine's defaults, and which fields each flow needs or ignores. */
export const connectionTemplate = (kind: KindSettings["kind"]) => call<ConnectionTemplate>("connection_template", { kind });
/** An existing connection's name and settings, as its edit form starts them. */
export const connectionDraft = (id: string) => call<Draft>("connection_draft", { id });
export const connectionCheck = (draft: ConnectionDraft, id: string | null) =>
  call<FieldError[]>("connection_check", { draft, id });
/** Saves a new connection; with `team`, it is kept in that joined team (its secrets in the team's OpenBao store). */
export const connectionCreate = (draft: ConnectionDraft, team: string | null = null) =>
  call<ConnectionDto>("connection_create", { draft, team });
/**
 * A connection from nothing but an API address: Latch finds where the API signs in and, where the service allows,
 * registers itself there. Saved at once; what was found comes along, for the words after it.
 */
export const connectionCreateFromApi = (url: string, name: string) =>
  call<ApiConnectionDto>("connection_create_from_api", { url, name });
export const connectionUpdate = (id: string, draft: ConnectionDraft) =>
  call<ConnectionDto>("connection_update", { id, draft });
export const connectionRemove = (id: string) => call<DisconnectOutcome>("connection_remove", { id });
/**
 * Starts a sign-in and answers at once with its session; how it goes arrives as `sign-in` events (onSignIn).
 * A second sign-in of the same connection cancels the first.
 */
export const signInStart = (id: string) => call<SignInStartedDto>("sign_in_start", { id });
/** True when the session was still running and is now cancelled. */
export const signInCancel = (session: string) => call<boolean>("sign_in_cancel", { session });
/** For the paste sign-in: the address the browser ended on after the user approved. */
export const signInSubmitAddress = (session: string, address: string) =>
  call<null>("sign_in_submit_address", { session, address });
export const connectionRefresh = (id: string) => call<ConnectionDto>("connection_refresh", { id });
export const connectionDisconnect = (id: string) => call<DisconnectOutcome>("connection_disconnect", { id });
/** Only on an explicit Reveal click: this is the one call that returns a secret. */
export const accessTokenReveal = (id: string) => call<string>("access_token_reveal", { id });
/**
 * Copy access token: the shell puts the token on the clipboard itself (a copy here, after awaiting IPC, is no
 * longer the user's gesture to WebKit), and takes it off again after `clears_in_seconds`. The token never comes here.
 */
export const accessTokenCopy = (id: string) => call<Copied>("access_token_copy", { id });
export const requestSend = (id: string, request: ApiRequestDto) =>
  call<ApiResponseDto>("request_send", { id, request });
export const requestPreview = (id: string, request: ApiRequestDto) =>
  call<RequestPreview>("request_preview", { id, request });
/** Copy as curl, put on the clipboard by the shell; without the token the command reads it from `$TOKEN`. */
export const requestCurlCopy = (id: string, request: ApiRequestDto, includeToken: boolean) =>
  call<Copied>("request_curl_copy", { id, request, includeToken });
export const presetsList = () => call<PresetDto[]>("presets_list");
/** A new connection's name and settings from a preset; only client ID, secret and scopes are left to choose. */
export const presetDraft = (id: string) => call<Draft>("preset_draft", { id });
/** Fills `draft` from the issuer's metadata (OpenID Connect Discovery / RFC 8414); rejects with the reason. */
export const issuerDiscover = (issuer: string, draft: Draft) => call<Discovered>("issuer_discover", { issuer, draft });
/** Asks where to save, then writes the settings of `ids` (every connection when empty). Null when cancelled. */
export const connectionsExport = (ids: string[]) => call<string | null>("connections_export", { ids });
/** Asks for an export file and previews it; nothing is imported yet. Null when cancelled. */
export const importChoose = () => call<ImportFileDto | null>("import_choose");
/**
 * Imports the previewed file: `digest` is the preview's (a file that changed since is refused), `accepted` the names
 * of the connections whose hosts the user said they trust.
 */
export const connectionsImport = (path: string, digest: string, choices: ImportChoice[], accepted: string[]) =>
  call<ImportedDto>("connections_import", { path, digest, choices, accepted });
/** The newest `limit` uses of one connection's credential, newest first (never the credential itself). */
export const connectionUsage = (idOrName: string, limit: number) =>
  call<UsageDto[]>("connection_usage", { idOrName, limit });
export const settingsGet = () => call<SettingsDto>("settings_get");
/** Saves every setting at once; resolves with what is now in effect. */
export const settingsSave = (settings: SettingsDto) => call<SettingsDto>("settings_save", { settings });
/** Where the local proxy answers, or why the one switched on does not run. Its key never comes here. */
export const proxyState = () => call<ProxyStateDto>("proxy_state");
/** Copy proxy key: the shell puts the running proxy's key on the clipboard and clears it after a while. */
export const proxyKeyCopy = () => call<Copied>("proxy_key_copy");
/** Asks for a spec file (or, with `folder`, a folder in Make's layout) and opens it; null when cancelled. */
export const specOpenFile = (folder: boolean) => call<SpecOpenedDto | null>("spec_open_file", { folder });
/** Opens pasted spec JSON: its problems, the hosts that would get a secret, its common keys. Nothing is saved. */
export const specOpenText = (text: string) => call<SpecOpenedDto>("spec_open_text", { text });
/** The engine's rule for one parameter's value: the message when it does not fit, else null. */
export const specParameterCheck = (definition: Record<string, unknown>, value: unknown) =>
  call<string | null>("spec_parameter_check", { definition, value: value ?? null });
export const specCreate = (input: SpecCreateDto) => call<ConnectionDto>("spec_create", { input });
/** Replaces a spec connection's spec with edited JSON; an invalid one is refused and the working one stays. */
export const specEdit = (id: string, text: string, acceptedSecretHosts: string[]) =>
  call<ConnectionDto>("spec_edit", { id, text, acceptedSecretHosts });
/**
 * Change values…: a spec connection's parameter values (null clears one), its app's common data and scopes;
 * what is left out (common values, password parameters) keeps what is saved. The sign-in stays.
 */
export const specValuesEdit = (
  id: string,
  values: { parameters: Record<string, unknown>; common: Record<string, string>; scopes: string[]; api?: ApiAccess },
) => call<ConnectionDto>("spec_edit", { id, text: null, acceptedSecretHosts: [], ...values });

/** A connection's API base URL, allowed hosts and caller-header choice: the same three fields in every kind. */
export type ApiAccess = Pick<SpecCreateDto, "api_base_url" | "allowed_hosts" | "forward_caller_auth">;
/** Runs a spec step on demand: `info` checks the account, `refresh` renews now. Secrets come masked. */
export const specStepRun = (id: string, step: "info" | "refresh") => call<StepReport>("spec_step_run", { id, step });
/** The spec JSON schema (docs/latch-spec.schema.json), for the editor's inline errors. */
export const specSchema = () => call<string>("spec_schema");
/** The engine's reading of an RSA private key (PEM): null when it can sign with it, else what is wrong. */
export const oauth1PrivateKeyCheck = (pem: string) => call<string | null>("oauth1_private_key_check", { pem });
/** Asks for a PEM file and reads it; null when the user closed the dialog. */
export const oauth1PrivateKeyChoose = () => call<PrivateKeyFileDto | null>("oauth1_private_key_choose");
/** Saves an OAuth 1.0a connection's private key in the keyring. */
export const oauth1PrivateKeySet = (id: string, pem: string) => call<null>("oauth1_private_key_set", { id, pem });

/** What a pasted client certificate and key (PEM) say; rejects with the engine's sentence when they do not read. */
export const clientCertificateCheck = (pem: string) => call<ClientCertificate>("client_certificate_check", { pem });
/**
 * Asks for a certificate file (PEM with its key, or PKCS#12 opened with `password`) and reads it; null when the user
 * closed the dialog. The PEM is kept only until Save sends it to `clientIdentitySet`.
 */
export const clientCertificateChoose = (password: string | null) =>
  call<ClientIdentityFileDto | null>("client_certificate_choose", { password });
/** Saves an OAuth 2.0 connection's client certificate and key (mutual TLS) in the keyring. */
export const clientIdentitySet = (id: string, pem: string) => call<null>("client_identity_set", { id, pem });
/** The connection's client certificate (PEM, public), to register with the service. */
export const clientCertificatePem = (id: string) => call<string>("client_certificate_pem", { id });

/** The joined teams and whether each one's store answered the app's last call to it. Never the OpenBao token. */
export const teamsList = () => call<TeamDto[]>("teams_list");
/**
 * Joins a team. The secret in `join.sign_in` goes to the shell once, for the keyring; nothing that comes back
 * carries it. Resolves with the team's connections now here.
 */
export const teamJoin = (join: TeamJoinDto) => call<TeamSyncDto>("team_join", { join });
/** Fetches a team's connections now. */
export const teamSync = (name: string) => call<TeamSyncDto>("team_sync", { name });
/** Leaves a team: its connections go from this computer (nothing changes in the team's store). */
export const teamLeave = (name: string) => call<string[]>("team_leave", { name });
/** Asks for the team server's CA certificate file (PEM): its path, or null when the user closed the dialog. */
export const teamCaChoose = () => call<string | null>("team_ca_choose");

/** Opens a web page (a provider's page) in the system browser. */
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
/** A sign-in session moved on, wherever it was started (this window, a notification's Reconnect, the tray). */
export const onSignIn = (callback: (event: SignInEventDto) => void) => subscribe<SignInEventDto>("sign-in", callback);
/** A connection's credential was handed out (the payload is its id): its Recent use reads again. */
export const onConnectionUsed = (callback: (id: string) => void) => subscribe<string>("connection-used", callback);
/** A team's store stopped or started answering (the payload is the team's name): read the teams again. */
export const onTeamsChanged = (callback: (team: string) => void) => subscribe<string>("teams-changed", callback);
/** The user clicked Open team settings on a notification about a team's store. */
export const onOpenTeamSettings = (callback: () => void) => subscribe<null>("open-team-settings", () => callback());
/** The user chose Settings… in the tray menu. */
export const onOpenSettings = (callback: () => void) => subscribe<null>("open-settings", () => callback());
/** The user clicked Sign in again on a notification: the payload is the connection's id. */
export const onReconnectRequested = (callback: (id: string) => void) =>
  subscribe<string>("reconnect-requested", callback);
