import {
  IpcFailure,
  clientCertificateCheck,
  clientCertificateChoose,
  clientIdentitySet,
  connectionCheck,
  connectionCreate,
  connectionUpdate,
  issuerDiscover,
  type ClientAuth,
  type OAuth2ConnectionDraft,
  type ConnectionDto,
  type OAuth2Template,
  type OAuth2Draft,
  type FieldError,
  type PresetDto,
  type SecretInput,
} from "$lib/ipc";
import { draftForSending } from "$lib/connection-draft";
import { specForFlowType, flowTypeOf, type FlowType } from "$lib/flow-type";
import { listInWords } from "$lib/list-in-words";
import { redirectUri } from "$lib/redirect-uri";
import { flowFields } from "$lib/state/template";

/** How long typing must pause before the engine checks the draft. */
export const CHECK_DELAY_MS = 150;

/**
 * The client secret as the form handles it. The saved secret itself is never loaded:
 * "saved" only knows that one exists in the keyring.
 */
export type SecretMode = "enter" | "saved" | "replace" | "remove";

/**
 * With `private_key_jwt` (RFC 7523), where the client secret would be: Latch makes a key when the form is saved (in
 * Rust; the key never reaches this page), or the user pastes their own PEM.
 */
export type KeyMode = "generate" | "paste";

/** Fields shown only inside the Advanced section; an error on one of them opens it. */
export const ADVANCED_FIELDS = [
  "scope_separator",
  "authorize_params",
  "token_params",
  "refresh_params",
  "custom_headers",
  "token_placement",
  "token_name",
  "query_param",
  "client_auth",
  "client_certificate",
  "refresh_url",
  "revoke_url",
  "info_url",
  "redirect_port",
  "redirect_path",
  "redirect_uri_override",
  "token_request_format",
  "expires_in_unit",
  "revoke_style",
  "resource",
  "par",
  "par_url",
  "dpop",
];

/** The provider's endpoints: in the main section for a custom provider, inside Advanced when a preset filled them. */
export const ENDPOINT_FIELDS = ["issuer", "flow", "pkce", "authorize_url", "token_url", "device_url"];

const MAIN_FIELDS = ["name", "scopes", "client_id", "client_secret", "api_base_url", "allowed_hosts", "forward_caller_auth"];

/** Every field the form has a place for. */
const PLACED_FIELDS = [...MAIN_FIELDS, ...ENDPOINT_FIELDS, ...ADVANCED_FIELDS];

/** The form field an engine error belongs to, or null for one the form has no place for. */
export function placedField(error: FieldError): string | null {
  return PLACED_FIELDS.find((field) => errorBelongsTo(error, field)) ?? null;
}

/** "1 thing needs fixing", "2 things need fixing". */
export function thingsToFix(count: number): string {
  return count === 1 ? "1 thing needs fixing" : `${count} things need fixing`;
}

/** The endpoint fields a flow can require, as the form labels them. */
export const ENDPOINT_LABELS: Record<string, string> = {
  authorize_url: "Authorize URI",
  token_url: "Token URI",
  device_url: "Device authorization URI",
};

/** A scope the user can pick with one click: a preset's (with what it allows) or one the server lists. */
export type ScopeOption = { name: string; description: string | null; required: boolean };

/** An engine error for `field` itself or for an item inside it, such as "authorize_params[0].key". */
export function errorBelongsTo(error: FieldError, field: string): boolean {
  return error.field === field || error.field.startsWith(field + "[") || error.field.startsWith(field + ".");
}

export class ConnectionFormState {
  /** The name and settings as the user edits them; starts as the engine's draft. */
  draft = $state<OAuth2Draft>() as OAuth2Draft;
  secretMode = $state<SecretMode>("enter");
  secretValue = $state("");
  /** A new connection's "Keep in": "" for just me, else the joined team's name (it is then kept in the team's store). */
  keepIn = $state("");
  keyMode = $state<KeyMode>("generate");
  /** The kind of key Latch makes, as the engine names it: "es256" or "ed25519". */
  keyAlgorithm = $state("es256");
  portMode = $state<"automatic" | "fixed">("automatic");
  portText = $state("");
  advancedOpen = $state(false);

  /**
   * Mutual TLS (RFC 8705): the certificate and key (PEM) pasted or read from a file, kept only until Save sends them to
   * the keyring; never shown again. The draft's `client_certificate` says what the certificate is.
   */
  certificatePem = $state("");
  /** The file the certificate came from, when it was chosen rather than pasted. */
  certificateFile = $state<string | null>(null);
  /** Why the pasted or chosen certificate cannot be used, in the engine's words. */
  certificateProblem = $state<string | null>(null);

  engineErrors = $state<FieldError[]>([]);
  checking = $state(false);
  /**
   * The fields the user has left (or chose in, for a list or a choice): their errors show from then on, as they
   * change. A field not reached yet stays quiet until Save.
   */
  visited = $state<Record<string, boolean>>({});
  /** Save was pressed: every error shows. */
  submitted = $state(false);
  saving = $state(false);
  failure = $state<IpcFailure | null>(null);

  /** The issuer typed in the "Issuer or provider address" field. */
  issuerText = $state("");
  discovering = $state(false);
  discoverFailure = $state<IpcFailure | null>(null);
  /** After a successful Discover: what it filled in, as a sentence. */
  discovered = $state<string | null>(null);
  /** Scopes the server lists (`scopes_supported`), offered as chips. */
  discoveredScopes = $state<string[]>([]);
  /** The server can bind tokens to this computer (DPoP): said beside the choice, not chosen. */
  discoveredDpop = $state(false);

  #clientAuthChosen: boolean;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #checkNumber = 0;
  /** The engine's check under way, if any. */
  #inflight: Promise<void> | null = null;
  /** The form as it started, to tell whether leaving would lose anything. */
  #start = $state("");

  /**
   * `template` holds the engine's rules for each flow; `start` is the engine's draft the form starts from:
   * the connection's own (`connection_draft`), a preset's (`preset_draft`) or the template's defaults.
   */
  constructor(
    readonly template: OAuth2Template,
    start: OAuth2Draft,
    readonly existing: ConnectionDto | null = null,
    readonly preset: PresetDto | null = null,
  ) {
    this.#clientAuthChosen = existing !== null;
    this.draft = start;
    this.issuerText = start.issuer ?? "";
    if (start.redirect_port) {
      this.portMode = "fixed";
      this.portText = String(start.redirect_port);
    }
    if (existing) this.secretMode = existing.has_client_secret ? "saved" : "enter";
    this.#start = this.#snapshot();
  }

  /** Starts the provider address with what the user typed in the provider search (a new custom connection). */
  startIssuer(address: string) {
    this.issuerText = address;
    this.#start = this.#snapshot();
  }

  #snapshot(): string {
    return JSON.stringify([this.draft, this.secretMode, this.secretValue, this.keyMode, this.keyAlgorithm, this.portMode, this.portText, this.issuerText]);
  }

  /** Something was typed or chosen since the form opened: leaving would throw it away. */
  changed = $derived(this.#snapshot() !== this.#start);

  /** What the chosen flow needs and ignores, as the engine says. */
  flowFields = $derived(flowFields(this.template.flows, this.draft.flow));

  /**
   * A field is shown unless the chosen flow never uses it, or it does not apply to the choices made: the token
   * name goes with the header, the query parameter name with the address.
   */
  shows(field: string): boolean {
    if (field === "token_name" && this.draft.token_placement === "query") return false;
    if (field === "query_param" && this.draft.token_placement === "header") return false;
    return !this.flowFields.unused.includes(field);
  }

  requires(field: string): boolean {
    return this.flowFields.required.includes(field);
  }

  /** "the Authorize URI and the Token URI": the addresses the chosen flow needs, for its explanation. */
  neededAddresses = $derived(
    listInWords(this.flowFields.required.filter((field) => field in ENDPOINT_LABELS).map((field) => `the ${ENDPOINT_LABELS[field]}`)),
  );

  /** The resource indicators as the textarea shows them: one per line (the engine drops blank lines). */
  get resourceText(): string {
    return this.draft.resource.join("\n");
  }

  set resourceText(text: string) {
    this.draft.resource = text.split(/\r?\n/);
  }

  /** Where the endpoint fields are shown: inside Advanced once a preset has filled them. */
  get endpointsInAdvanced() {
    return this.preset !== null;
  }

  get advancedFields(): string[] {
    return this.endpointsInAdvanced ? [...ADVANCED_FIELDS, ...ENDPOINT_FIELDS] : ADVANCED_FIELDS;
  }

  /** The scopes to offer as chips: the preset's with descriptions, then any the server listed. */
  scopeOptions = $derived.by((): ScopeOption[] => {
    const options: ScopeOption[] = (this.preset?.scopes ?? []).map((scope) => ({
      name: scope.name,
      description: scope.description,
      required: scope.required,
    }));
    for (const name of this.discoveredScopes) {
      if (!options.some((option) => option.name === name)) options.push({ name, description: null, required: false });
    }
    return options;
  });

  toggleScope(name: string) {
    const option = this.scopeOptions.find((candidate) => candidate.name === name);
    if (this.draft.scopes.includes(name)) {
      if (!option?.required) this.draft.scopes = this.draft.scopes.filter((scope) => scope !== name);
    } else {
      this.draft.scopes = [...this.draft.scopes, name];
    }
  }

  /**
   * Fills the endpoints from the issuer's metadata (the engine checks that the document names
   * exactly this issuer). On failure nothing in the form changes; the reason is shown.
   */
  async discover(): Promise<void> {
    const issuer = this.issuerText.trim();
    this.discoverFailure = null;
    this.discovered = null;
    if (issuer === "") {
      this.discoverFailure = new IpcFailure(
        "validation",
        "Enter the provider's address first, e.g. https://accounts.example.com.",
      );
      return;
    }
    this.discovering = true;
    try {
      const found = await issuerDiscover(issuer, $state.snapshot(this.draft) as OAuth2Draft);
      if (found.draft.kind !== "oauth2") return;
      this.draft = found.draft;
      this.issuerText = found.draft.issuer ?? issuer;
      this.discoveredScopes = found.scopes_supported;
      this.discoveredDpop = found.dpop_supported;
      const filled = [
        found.draft.authorize_url && "sign-in",
        found.draft.token_url && "token",
        found.draft.revoke_url && "revoke",
        found.draft.info_url && "account info",
        found.draft.device_url && "device",
      ].filter((part): part is string => typeof part === "string");
      const addresses = filled.length === 1 ? "address" : "addresses";
      this.discovered =
        (filled.length > 0
          ? `Found ${found.draft.issuer}; filled in the ${listInWords(filled)} ${addresses}.`
          : `Found ${found.draft.issuer}, but it lists none of the addresses Latch needs. Enter them below.`) +
        (found.scopes_supported.length > 0 ? " Pick the scopes you need below." : "");
    } catch (rejection) {
      this.discoverFailure = IpcFailure.from(rejection);
    } finally {
      this.discovering = false;
    }
  }

  get flowType(): FlowType {
    return flowTypeOf(this.draft.flow, this.draft.pkce);
  }

  set flowType(flowType: FlowType) {
    Object.assign(this.draft, specForFlowType(flowType));
  }

  /** The redirect settings: only for flows that sign in through the browser. */
  get showsRedirect() {
    return this.shows("redirect_port") || this.shows("redirect_path");
  }

  setSecret(value: string) {
    this.secretValue = value;
    // A confidential client usually sends its secret in the body (RFC 6749 §2.3.1) — unless the user chose,
    // or the preset knows how this provider wants it. A key stays a key, even while its field is empty.
    if (!this.#clientAuthChosen && !this.usesPrivateKey) {
      this.draft.client_auth = value === "" ? "none" : (this.preset?.settings.client_auth ?? "body");
    }
  }

  /** The client signs its requests with a private key (`private_key_jwt`): the secret field holds the key. */
  get usesPrivateKey(): boolean {
    return this.draft.client_auth === "private_key_jwt";
  }

  chooseClientAuth(value: ClientAuth) {
    const wasKey = this.usesPrivateKey;
    this.#clientAuthChosen = true;
    this.draft.client_auth = value;
    if (wasKey === this.usesPrivateKey) return;
    // A secret is no key and a key no secret: what was typed for one is not sent as the other, and one saved for
    // the connection's old method is replaced (going back to that method keeps it again).
    this.secretValue = "";
    if (this.existing?.has_client_secret && this.secretMode !== "remove") {
      this.secretMode = this.keySaved === this.usesPrivateKey ? "saved" : "replace";
    }
  }

  /** The client authenticates with a TLS certificate (mutual TLS, RFC 8705) instead of a secret. */
  get usesClientCertificate(): boolean {
    return this.draft.client_auth === "tls_client_auth" || this.draft.client_auth === "self_signed_tls_client_auth";
  }

  /** A pasted certificate and key: the engine reads them, and the draft names the certificate. */
  async pasteCertificate(pem: string) {
    this.certificatePem = pem;
    this.certificateFile = null;
    this.certificateProblem = null;
    if (pem.trim() === "") {
      this.draft.client_certificate = this.#savedCertificate();
    } else {
      try {
        this.draft.client_certificate = await clientCertificateCheck(pem);
      } catch (rejection) {
        this.draft.client_certificate = this.#savedCertificate();
        this.certificateProblem = IpcFailure.from(rejection).message;
      }
    }
    this.visit(["client_certificate"]);
    this.scheduleCheck();
  }

  /** A certificate file (PEM, or PKCS#12 opened with `password`), read by the shell. */
  async chooseCertificateFile(password: string | null) {
    this.certificateProblem = null;
    try {
      const chosen = await clientCertificateChoose(password);
      if (!chosen) return;
      this.certificatePem = chosen.pem;
      this.certificateFile = chosen.file_name;
      this.draft.client_certificate = chosen.certificate;
    } catch (rejection) {
      this.certificateProblem = IpcFailure.from(rejection).message;
    }
    this.visit(["client_certificate"]);
    this.scheduleCheck();
  }

  #savedCertificate() {
    return this.existing?.kind === "oauth2" ? this.existing.client_certificate : null;
  }

  /** What the keyring holds for this connection is a private key (it was saved with `private_key_jwt`). */
  get keySaved(): boolean {
    return this.existing?.kind === "oauth2" && this.existing.has_client_secret && this.existing.client_auth === "private_key_jwt";
  }

  secretInput = $derived.by((): SecretInput => {
    if (this.secretMode === "remove") return { kind: "remove" };
    if (this.secretMode === "saved") return { kind: "keep" };
    if (this.usesPrivateKey && this.keyMode === "generate") return { kind: "generate_key", algorithm: this.keyAlgorithm };
    if (this.secretValue === "") return { kind: "keep" };
    return { kind: "set", value: this.secretValue };
  });

  redirectPort = $derived(this.portMode === "fixed" ? Number.parseInt(this.portText, 10) || 0 : 0);
  // A cleared Hosted redirect URI field holds "": the loopback address then.
  redirectUri = $derived(this.draft.redirect_uri_override || redirectUri(this.redirectPort, this.draft.redirect_path));

  /** The draft as it goes to the engine: with the client secret and the port as chosen, the name trimmed. */
  toSend = $derived.by((): OAuth2ConnectionDraft => {
    const draft = draftForSending($state.snapshot(this.draft) as OAuth2Draft, this.secretInput);
    draft.name = draft.name.trim();
    draft.redirect_port = this.redirectPort;
    return draft;
  });

  /** Problems the form can see before the engine does (an unreadable port number). */
  localErrors = $derived.by((): FieldError[] => {
    const errors: FieldError[] = [];
    if (this.portMode === "fixed") {
      const port = Number(this.portText);
      if (this.portText.trim() === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
        errors.push({ field: "redirect_port", message: "Enter a port number from 1 to 65535, or choose Automatic." });
      }
    }
    // The engine cannot know the provider insists on a secret; the preset does.
    if (this.preset?.client_secret_required && this.secretInput.kind === "keep" && this.secretMode === "enter") {
      errors.push({
        field: "client_secret",
        message: `${this.preset.name} needs your app's client secret. Copy it from the page where you registered the app.`,
      });
    }
    return errors;
  });

  errors = $derived([
    ...this.localErrors,
    ...this.engineErrors.filter((error) => !this.localErrors.some((local) => local.field === error.field)),
  ]);

  /** The user left these fields (or chose in them): their errors show from now on. */
  visit(fields: string[]) {
    for (const field of fields) if (!this.visited[field]) this.visited[field] = true;
  }

  /**
   * Whether an error is shown yet: after Save, or once the user has left its field. An error on a field that the
   * chosen flow or placement hides shows once the user made that choice.
   */
  #shown(error: FieldError): boolean {
    if (this.submitted) return true;
    const field = placedField(error);
    if (field === null) return false;
    if (this.visited[field]) return true;
    if (!this.shows(field)) return this.visited.flow || this.visited.token_placement || false;
    return false;
  }

  visibleErrors = $derived(this.errors.filter((error) => this.#shown(error)));

  errorsFor(field: string): FieldError[] {
    return this.visibleErrors.filter((error) => errorBelongsTo(error, field));
  }

  /** Errors for fields this form has no place for (or that the chosen flow hides): shown as a list. */
  unplacedErrors = $derived(
    this.visibleErrors.filter((error) => {
      const placed = placedField(error);
      return !placed || !this.shows(placed);
    }),
  );

  hasAdvancedErrors = $derived(
    this.visibleErrors.some((error) => this.advancedFields.some((field) => errorBelongsTo(error, field))),
  );

  /** Asks the engine about the current draft once typing pauses; older answers are ignored. */
  scheduleCheck() {
    this.checking = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => (this.#inflight = this.#check()), CHECK_DELAY_MS);
  }

  /** Waits for the engine's word on the draft as it is now (checking at once if a check was waiting). */
  async settle(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#inflight = this.#check();
    }
    while (this.#inflight) {
      const running = this.#inflight;
      await running;
      if (running === this.#inflight) this.#inflight = null;
    }
  }

  async #check() {
    this.#timer = null;
    const number = ++this.#checkNumber;
    try {
      const errors = await connectionCheck(this.toSend, this.existing?.id ?? null);
      if (number !== this.#checkNumber) return;
      this.engineErrors = errors;
      if (this.failure?.code === "validation") this.failure = null;
    } catch (rejection) {
      if (number !== this.#checkNumber) return;
      this.failure = IpcFailure.from(rejection);
    } finally {
      if (number === this.#checkNumber && this.#timer === null) this.checking = false;
    }
  }

  dispose() {
    if (this.#timer) clearTimeout(this.#timer);
    this.#checkNumber++;
  }

  /**
   * Save: waits for the engine's check, then saves — or, while something needs fixing, saves nothing, shows every
   * error (opening Advanced when one is inside) and answers "invalid" so the form can take the user there.
   */
  async save(): Promise<ConnectionDto | "invalid" | null> {
    if (this.saving) return null;
    this.saving = true;
    this.submitted = true;
    this.failure = null;
    const name = this.draft.name.trim();
    if (name !== this.draft.name) this.draft.name = name;
    try {
      await this.settle();
      if (this.errors.length > 0) return this.#invalid();
      const pem = this.usesClientCertificate ? this.certificatePem : "";
      // An edit saves the new certificate first: only the keyring's certificate counts for the saved connection.
      if (this.existing && pem) await clientIdentitySet(this.existing.id, pem);
      const saved = this.existing
        ? await connectionUpdate(this.existing.id, this.toSend)
        : await connectionCreate(this.toSend, this.keepIn || null);
      if (!this.existing && pem) await clientIdentitySet(saved.id, pem);
      this.certificatePem = "";
      return saved;
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      if (failure.code === "validation" && failure.fields.length > 0) {
        this.engineErrors = failure.fields;
        return this.#invalid();
      }
      this.failure = failure;
      return null;
    } finally {
      this.saving = false;
    }
  }

  #invalid(): "invalid" {
    if (this.hasAdvancedErrors) this.advancedOpen = true;
    return "invalid";
  }
}
