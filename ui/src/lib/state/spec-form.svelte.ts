import {
  IpcFailure,
  connectionCheck,
  specCreate,
  specParameterCheck,
  specValuesEdit,
  type ApiAccess,
  type ConnectionDto,
  type SpecConnectionDto,
  type SpecOpenedDto,
} from "$lib/ipc";
import { scopeChoices, specParameters, startValue, valueToSend, type FieldValue, type SpecParameter } from "$lib/spec-parameters";

/** The API fields the engine checks (the caller-header choice has no rule). */
const API_CHECKED = ["api_base_url", "allowed_hosts"];

/** A common key in words: "clientId" → "Client ID". */
export function commonLabel(key: string): string {
  const words = key
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .split(/\s+/)
    .map((w) => (/^(id|url|uri|api)$/i.test(w) ? w.toUpperCase() : w.toLowerCase()));
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The form made from an opened spec: its parameters, scopes and common data. Errors are the engine's: a field's
 * when it is left (or on Save), the rest from Save.
 *
 * With `saved` (Change values… of a spec connection) it starts from the connection's values and saves through
 * `spec_edit`: the secret parts (password parameters, the app's details) are never shown and start empty, and
 * empty keeps what is saved; a plain parameter emptied is cleared.
 */
export class SpecFormState {
  readonly parameters: SpecParameter[];
  readonly scopes: { scope: string; label: string }[];
  name = $state("");
  values = $state<Record<string, FieldValue>>({});
  common = $state<Record<string, string>>({});
  chosenScopes = $state<string[]>([]);
  /** The API address, allowed hosts and caller-header choice (empty for a new one: the spec's own base). */
  api = $state<ApiAccess>({ api_base_url: null, allowed_hosts: [], forward_caller_auth: false });
  confirmedHosts = $state(false);
  advancedOpen = $state(false);
  /** Errors by field: "name", "param:NAME", "common", "hosts", "api_base_url", "allowed_hosts", "form". */
  errors = $state<Record<string, string[]>>({});
  saving = $state(false);
  failure = $state<IpcFailure | null>(null);
  #start: string;

  constructor(
    readonly opened: SpecOpenedDto,
    readonly saved: SpecConnectionDto | null = null,
  ) {
    this.parameters = specParameters(opened.document.parameters);
    this.scopes = scopeChoices(opened.document.scopeList, opened.document.defaultScope);
    this.name = saved?.name ?? opened.document.name ?? "";
    const savedValue = (p: SpecParameter) =>
      saved && p.type !== "password" && p.name in saved.parameters ? startValue({ ...p, default: saved.parameters[p.name] }) : null;
    this.values = Object.fromEntries(
      this.parameters.map((p) => [p.name, savedValue(p) ?? (saved && p.type === "password" ? "" : startValue(p))]),
    );
    this.common = Object.fromEntries(opened.common.map((c) => [c.key, ""]));
    // A saved connection with no scopes of its own asks for the spec's default ones (SpecSettings.scopes).
    this.chosenScopes = [...(saved && saved.scopes.length > 0 ? saved.scopes : opened.document.defaultScope)];
    if (saved) {
      this.api = {
        api_base_url: saved.api_base_url,
        allowed_hosts: [...saved.allowed_hosts],
        forward_caller_auth: saved.forward_caller_auth,
      };
    }
    this.#start = this.snapshot();
  }

  /** A password parameter of a saved connection left empty: the saved one stays, nothing to check. */
  keepsSaved(p: SpecParameter): boolean {
    return this.saved !== null && p.type === "password" && valueToSend(p, $state.snapshot(this.values[p.name])) === undefined;
  }

  private snapshot(): string {
    return JSON.stringify([this.name, this.values, this.common, this.chosenScopes, this.confirmedHosts, this.api]);
  }

  get changed(): boolean {
    return this.snapshot() !== this.#start;
  }

  get errorCount(): number {
    return Object.values(this.errors).reduce((n, list) => n + list.length, 0);
  }

  get hasAdvancedErrors(): boolean {
    return this.parameters.some((p) => p.advanced && (this.errors[`param:${p.name}`]?.length ?? 0) > 0);
  }

  #set(field: string, messages: string[]) {
    const next = { ...this.errors };
    if (messages.length > 0) next[field] = messages;
    else delete next[field];
    this.errors = next;
  }

  /** The engine's check of the name (empty, too long, already taken) and of the API fields. */
  async checkName() {
    await this.#checkDraft(["name", ...API_CHECKED]);
  }

  /** The engine's check of the API address and allowed hosts (left, or on Save). */
  async checkApi() {
    await this.#checkDraft(API_CHECKED);
  }

  async #checkDraft(fields: string[]) {
    const document = $state.snapshot(this.opened.document);
    const found = await connectionCheck(
      {
        name: this.saved?.name ?? this.name.trim(),
        kind: "spec",
        spec: document,
        parameters: {},
        scopes: [],
        redirect_uri_override: null,
        redirect_port: 0,
        ...$state.snapshot(this.api),
        client_secret: { kind: "keep" },
      },
      this.saved?.id ?? null,
    );
    for (const field of fields) this.#set(field, found.filter((e) => e.field === field).map((e) => e.message));
  }

  /** The engine's check of one parameter's value. */
  async checkParameter(p: SpecParameter) {
    if (this.keepsSaved(p)) return this.#set(`param:${p.name}`, []);
    const message = await specParameterCheck($state.snapshot(this.opened.document.parameters).find((d) => d.name === p.name) ?? {}, valueToSend(p, $state.snapshot(this.values[p.name])));
    this.#set(`param:${p.name}`, message ? [message] : []);
  }

  /** What the hosts line needs: the user's yes, when the spec sends a secret elsewhere. */
  checkHosts() {
    const needed = this.opened.secret_hosts.length > 0 && !this.confirmedHosts;
    this.#set("hosts", needed ? ["Tick the box to confirm you trust where this file sends your secret, or choose another file."] : []);
  }

  /** Checks every field, then saves. "invalid" when something needs fixing (the errors say what). */
  async save(): Promise<ConnectionDto | "invalid" | null> {
    this.failure = null;
    this.saving = true;
    try {
      this.#set("common", []);
      this.#set("form", []);
      if (!this.saved) this.checkHosts();
      await Promise.all([this.saved ? this.checkApi() : this.checkName(), ...this.parameters.map((p) => this.checkParameter(p))]);
      if (this.errorCount > 0) return "invalid";
      if (this.saved) return await this.#saveValues(this.saved);
      const parameters: Record<string, unknown> = {};
      for (const p of this.parameters) {
        const value = valueToSend(p, $state.snapshot(this.values[p.name]));
        if (value !== undefined) parameters[p.name] = value;
      }
      const common = Object.fromEntries(Object.entries(this.common).filter(([, v]) => v.trim() !== "").map(([k, v]) => [k, v.trim()]));
      return await specCreate({
        source: $state.snapshot(this.opened.source),
        name: this.name.trim(),
        parameters,
        common,
        scopes: $state.snapshot(this.chosenScopes),
        accepted_secret_hosts: this.confirmedHosts ? $state.snapshot(this.opened.secret_hosts) : [],
        ...$state.snapshot(this.api),
      });
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      if (failure.code === "validation") {
        const fields = failure.fields.length > 0 ? failure.fields : [{ field: "form", message: failure.message }];
        for (const error of fields) {
          const key = ["name", "common", ...API_CHECKED].includes(error.field) ? error.field : "form";
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

  /** Change values…: what changed goes to `spec_edit`, under the engine's rules for what is left out. */
  async #saveValues(saved: SpecConnectionDto): Promise<ConnectionDto> {
    const parameters: Record<string, unknown> = {};
    for (const p of this.parameters) {
      const value = valueToSend(p, $state.snapshot(this.values[p.name]));
      if (value !== undefined) parameters[p.name] = value;
      // Emptied: cleared (null), unless it is a secret one, which empty keeps.
      else if (p.type !== "password" && p.name in saved.parameters) parameters[p.name] = null;
    }
    const common = Object.fromEntries(Object.entries(this.common).filter(([, v]) => v.trim() !== "").map(([k, v]) => [k, v.trim()]));
    return specValuesEdit(saved.id, {
      parameters,
      common,
      scopes: $state.snapshot(this.chosenScopes),
      api: $state.snapshot(this.api),
    });
  }
}
