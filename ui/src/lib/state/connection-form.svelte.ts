import {
  IpcFailure,
  connectionCheck,
  connectionCreate,
  connectionUpdate,
  type ConnectionDraft,
  type ConnectionDto,
  type ConnectionSpec,
  type FieldError,
  type SecretInput,
} from "$lib/ipc";
import { draftForSending, newConnectionSpec, specOfConnection } from "$lib/connection-draft";
import { specForFlowType, flowTypeOf, needsAuthorizeUrl, needsTokenUrl, type FlowType } from "$lib/flow-type";
import { redirectUri } from "$lib/redirect-uri";

/** How long typing must pause before the engine checks the draft. */
export const CHECK_DELAY_MS = 150;

/**
 * The client secret as the form handles it. The saved secret itself is never loaded:
 * "saved" only knows that one exists in the keyring.
 */
export type SecretMode = "enter" | "saved" | "replace" | "remove";

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
  "refresh_url",
  "revoke_url",
  "info_url",
  "redirect_port",
  "redirect_path",
];

const MAIN_FIELDS = ["name", "flow", "pkce", "authorize_url", "token_url", "scopes", "client_id", "client_secret"];

/** An engine error for `field` itself or for an item inside it, such as "authorize_params[0].key". */
export function errorBelongsTo(error: FieldError, field: string): boolean {
  return error.field === field || error.field.startsWith(field + "[") || error.field.startsWith(field + ".");
}

export class ConnectionFormState {
  spec = $state<ConnectionSpec>(newConnectionSpec());
  secretMode = $state<SecretMode>("enter");
  secretValue = $state("");
  portMode = $state<"automatic" | "fixed">("automatic");
  portText = $state("");
  advancedOpen = $state(false);

  engineErrors = $state<FieldError[]>([]);
  checking = $state(false);
  checkedOnce = $state(false);
  /** False until the user changes something in a new form, so a blank form is not covered in red. */
  touched = $state(false);
  saving = $state(false);
  failure = $state<IpcFailure | null>(null);

  #clientAuthChosen: boolean;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #checkNumber = 0;

  constructor(readonly existing: ConnectionDto | null) {
    this.#clientAuthChosen = existing !== null;
    if (existing) {
      this.spec = specOfConnection(existing);
      this.secretMode = existing.has_client_secret ? "saved" : "enter";
      if (existing.redirect_port) {
        this.portMode = "fixed";
        this.portText = String(existing.redirect_port);
      }
    }
  }

  get flowType(): FlowType {
    return flowTypeOf(this.spec.flow, this.spec.pkce);
  }

  set flowType(flowType: FlowType) {
    Object.assign(this.spec, specForFlowType(flowType));
  }

  get showsAuthorizeUrl() {
    return needsAuthorizeUrl(this.spec.flow);
  }

  get showsTokenUrl() {
    return needsTokenUrl(this.spec.flow);
  }

  setSecret(value: string) {
    this.secretValue = value;
    // A confidential client usually sends its secret in the body (RFC 6749 §2.3.1) — unless the user chose.
    if (!this.#clientAuthChosen) this.spec.client_auth = value === "" ? "none" : "body";
  }

  chooseClientAuth(value: ConnectionSpec["client_auth"]) {
    this.#clientAuthChosen = true;
    this.spec.client_auth = value;
  }

  secretInput = $derived.by((): SecretInput => {
    if (this.secretMode === "remove") return { kind: "remove" };
    if (this.secretMode === "saved" || this.secretValue === "") return { kind: "keep" };
    return { kind: "set", value: this.secretValue };
  });

  redirectPort = $derived(this.portMode === "fixed" ? Number.parseInt(this.portText, 10) || 0 : 0);
  redirectUri = $derived(redirectUri(this.redirectPort, this.spec.redirect_path));

  draft = $derived.by((): ConnectionDraft => {
    const draft = draftForSending($state.snapshot(this.spec) as ConnectionSpec, this.secretInput);
    draft.redirect_port = this.redirectPort;
    return draft;
  });

  /** Problems the form can see before the engine does (an unreadable port number). */
  localErrors = $derived.by((): FieldError[] => {
    if (this.portMode !== "fixed") return [];
    const port = Number(this.portText);
    if (this.portText.trim() === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return [{ field: "redirect_port", message: "Enter a port number from 1 to 65535, or choose Automatic." }];
    }
    return [];
  });

  errors = $derived([
    ...this.localErrors,
    ...this.engineErrors.filter((error) => !this.localErrors.some((local) => local.field === error.field)),
  ]);

  showErrors = $derived(this.touched || this.existing !== null);
  visibleErrors = $derived(this.showErrors ? this.errors : []);
  canSave = $derived(!this.saving && !this.checking && this.checkedOnce && this.errors.length === 0);

  errorsFor(field: string): FieldError[] {
    return this.visibleErrors.filter((error) => errorBelongsTo(error, field));
  }

  /** Errors for fields this form has no place for (or that the chosen flow hides): shown as a list. */
  unplacedErrors = $derived(
    this.visibleErrors.filter((error) => {
      const placed = [...MAIN_FIELDS, ...ADVANCED_FIELDS].find((field) => errorBelongsTo(error, field));
      if (!placed) return true;
      if (placed === "authorize_url") return !this.showsAuthorizeUrl;
      if (placed === "token_url") return !this.showsTokenUrl;
      return false;
    }),
  );

  hasAdvancedErrors = $derived(
    this.visibleErrors.some((error) => ADVANCED_FIELDS.some((field) => errorBelongsTo(error, field))),
  );

  /** Asks the engine about the current draft once typing pauses; older answers are ignored. */
  scheduleCheck() {
    this.checking = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), CHECK_DELAY_MS);
  }

  async #check() {
    this.#timer = null;
    const number = ++this.#checkNumber;
    try {
      const errors = await connectionCheck(this.draft, this.existing?.id ?? null);
      if (number !== this.#checkNumber) return;
      this.engineErrors = errors;
      if (this.failure?.code === "validation") this.failure = null;
    } catch (rejection) {
      if (number !== this.#checkNumber) return;
      this.failure = IpcFailure.from(rejection);
    } finally {
      if (number === this.#checkNumber && this.#timer === null) {
        this.checking = false;
        this.checkedOnce = true;
      }
    }
  }

  dispose() {
    if (this.#timer) clearTimeout(this.#timer);
    this.#checkNumber++;
  }

  async save(): Promise<ConnectionDto | null> {
    if (!this.canSave) return null;
    this.saving = true;
    this.failure = null;
    try {
      return this.existing
        ? await connectionUpdate(this.existing.id, this.draft)
        : await connectionCreate(this.draft);
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      if (failure.code === "validation" && failure.fields.length > 0) {
        this.engineErrors = failure.fields;
        this.touched = true;
      } else {
        this.failure = failure;
      }
      return null;
    } finally {
      this.saving = false;
    }
  }
}
