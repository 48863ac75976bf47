import {
  IpcFailure,
  connectionCheck,
  connectionCreate,
  connectionDraft,
  connectionTemplate,
  connectionUpdate,
  oauth1PrivateKeyCheck,
  oauth1PrivateKeySet,
  type ConnectionDto,
  type Draft,
  type OAuth1ConnectionDraft,
  type OAuth1Draft,
  type SecretInput,
} from "$lib/ipc";
import { usesPrivateKey, type OAuth1Start } from "$lib/oauth1-starts";

/** The fields the engine's `validate::oauth1` names, plus the private key this form checks itself. */
export const OAUTH1_FIELDS = [
  "name",
  "request_token_url",
  "authorize_url",
  "access_token_url",
  "consumer_key",
  "client_secret",
  "private_key",
  "info_url",
  "revoke_url",
  "api_base_url",
  "allowed_hosts",
  "forward_caller_auth",
] as const;

/**
 * The OAuth 1.0a form's state: the draft, the consumer secret or private key typed (sent once, on Save, then kept in
 * the keyring), and the engine's errors per field. Every rule is the engine's (`connection_check`), except that an
 * RSA connection being made needs a key.
 */
export class OAuth1FormState {
  draft = $state() as OAuth1Draft;
  secret = $state("");
  pem = $state("");
  /** The file the key came from, when chosen rather than pasted. */
  pemFile = $state<string | null>(null);
  errors = $state<Record<string, string[]>>({});
  failure = $state<IpcFailure | null>(null);
  saving = $state(false);
  advancedOpen = $state(false);
  readonly #initial: string;

  constructor(
    start: OAuth1Draft,
    readonly existing: ConnectionDto | null,
  ) {
    this.draft = start;
    this.#initial = JSON.stringify(start);
  }

  get changed(): boolean {
    return JSON.stringify($state.snapshot(this.draft)) !== this.#initial || this.secret !== "" || this.pem !== "";
  }

  get usesKey(): boolean {
    return usesPrivateKey(this.draft.signature_method);
  }

  get secretSaved(): boolean {
    return this.existing?.has_client_secret ?? false;
  }

  get errorCount(): number {
    return Object.values(this.errors).reduce((sum, list) => sum + list.length, 0);
  }

  /** An error in a field under Advanced (the info and revoke URLs) opens it, so Save can take the user there. */
  get hasAdvancedErrors(): boolean {
    return (this.errors.info_url?.length ?? 0) + (this.errors.revoke_url?.length ?? 0) > 0;
  }

  #set(field: string, messages: string[]) {
    this.errors = { ...this.errors, [field]: messages };
  }

  #secretInput(): SecretInput {
    return !this.usesKey && this.secret !== "" ? { kind: "set", value: this.secret } : { kind: "keep" };
  }

  #connectionDraft(): OAuth1ConnectionDraft {
    const draft = $state.snapshot(this.draft);
    return { ...draft, name: draft.name.trim(), client_secret: this.#secretInput() };
  }

  /** The engine's check; `only` keeps the errors of the other fields as they are (a field is checked when left). */
  async check(only: string | null = null) {
    const found = await connectionCheck(this.#connectionDraft(), this.existing?.id ?? null);
    const fields = only ? [only] : OAUTH1_FIELDS.filter((f) => f !== "private_key");
    for (const field of fields) this.#set(field, found.filter((e) => e.field === field).map((e) => e.message));
    if (!only) {
      const known = new Set<string>(OAUTH1_FIELDS);
      this.#set("form", found.filter((e) => !known.has(e.field)).map((e) => e.message));
    }
  }

  /** An RSA connection being made needs a key the engine can read; a saved one keeps its key unless one is given. */
  async checkKey() {
    if (!this.usesKey) return this.#set("private_key", []);
    if (this.pem.trim() === "") {
      const needed = this.existing === null;
      return this.#set("private_key", needed ? ["Paste the private key (PEM) or choose its file. Its public key is what you gave the service."] : []);
    }
    const problem = await oauth1PrivateKeyCheck(this.pem);
    this.#set("private_key", problem ? [problem] : []);
  }

  /** Checks every field, then saves the connection and its key. "invalid" when something needs fixing. */
  async save(): Promise<ConnectionDto | "invalid" | null> {
    this.failure = null;
    this.saving = true;
    try {
      await Promise.all([this.check(), this.checkKey()]);
      if (this.errorCount > 0) return "invalid";
      const draft = this.#connectionDraft();
      const saved = this.existing ? await connectionUpdate(this.existing.id, draft) : await connectionCreate(draft);
      // Checked above with the same reading, so this fails only if the keyring does.
      if (this.usesKey && this.pem.trim() !== "") await oauth1PrivateKeySet(saved.id, this.pem);
      return saved;
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      if (failure.code === "validation") {
        const fields = failure.fields.length > 0 ? failure.fields : [{ field: "form", message: failure.message }];
        for (const error of fields) {
          const key = (OAUTH1_FIELDS as readonly string[]).includes(error.field) ? error.field : "form";
          this.#set(key, [...(this.errors[key] ?? []), error.message]);
        }
        return "invalid";
      }
      this.failure = failure;
      return null;
    } finally {
      this.saving = false;
    }
  }
}

/** The OAuth 1.0a form edits only OAuth 1.0a drafts. */
function oauth1Draft(draft: Draft): OAuth1Draft {
  if (draft.kind !== "oauth1") throw new IpcFailure("validation", `“${draft.name}” is not an OAuth 1.0a connection.`);
  return draft;
}

/** What the form starts from: the saved connection's draft, or the engine's defaults with a service's addresses. */
export async function loadOAuth1Start(existingId: string | null, service: OAuth1Start | null): Promise<OAuth1Draft> {
  if (existingId) return oauth1Draft(await connectionDraft(existingId));
  const draft = oauth1Draft((await connectionTemplate("oauth1")).draft);
  return service ? { ...draft, ...service.settings, name: service.name } : draft;
}
