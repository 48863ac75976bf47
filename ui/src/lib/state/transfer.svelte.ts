import {
  IpcFailure,
  connectionsExport,
  connectionsImport,
  importChoose,
  type ImportChoice,
  type ImportedDto,
  type ImportFileDto,
} from "$lib/ipc";
import { listInWords } from "$lib/list-in-words";

export type ConflictAction = "keep_both" | "replace" | "skip";
/** The user's answer for one name in the file that is taken here; `name` is the new name for "keep both". */
export type ConflictAnswer = { action: ConflictAction; name: string };

const quoted = (names: string[]) => listInWords(names.map((name) => `“${name}”`));

/**
 * What the user ticks to import a connection that needs their trust: it names every host the connection sends the
 * sign-in and tokens to.
 */
export function trustSentence(hosts: string[]): string {
  return `I trust ${listInWords(hosts)} with this connection's sign-in and tokens`;
}

/** What an import did, in sentences. */
export function importSummary(result: ImportedDto): string[] {
  const lines: string[] = [];
  const names = result.connections.map((connection) => connection.name);
  lines.push(
    names.length === 0
      ? "Nothing was imported."
      : `Imported ${names.length === 1 ? "one connection" : `${names.length} connections`}: ${quoted(names)}.`,
  );
  if (result.replaced.length > 0) lines.push(`Replaced ${quoted(result.replaced)}; the old sign-in and secret are gone.`);
  if (result.skipped.length > 0) lines.push(`Skipped ${quoted(result.skipped)}, as you chose.`);
  if (result.need_secret.length > 0) {
    lines.push(
      `${quoted(result.need_secret)} ${result.need_secret.length === 1 ? "needs its" : "need their"} client secret ` +
        "(exports never hold secrets): open it, click Edit and enter it before you connect.",
    );
  }
  return lines;
}

/** Import (choose a file, answer for taken names, import) and export through native file dialogs. */
export class TransferState {
  file = $state<ImportFileDto | null>(null);
  answers = $state<Record<string, ConflictAnswer>>({});
  /** Per connection that needs it (by its name in the file): the user ticked that they trust its hosts. */
  trusted = $state<Record<string, boolean>>({});
  result = $state<ImportedDto | null>(null);
  busy = $state(false);
  failure = $state<IpcFailure | null>(null);
  /** After an export: where the file went. */
  exportedTo = $state<string | null>(null);

  taken = $derived(this.file?.connections.filter((candidate) => candidate.name_taken) ?? []);

  /** Connections that are imported only once the user says they trust their hosts (a skipped one is not imported). */
  needTrust = $derived(
    this.file?.connections.filter(
      (candidate) => candidate.needs_confirmation && !(candidate.name_taken && this.answers[candidate.name]?.action === "skip"),
    ) ?? [],
  );

  /** Every answer complete: "keep both" needs a new name, and every connection that needs trust has it. */
  canImport = $derived(
    !this.busy &&
      this.file !== null &&
      this.taken.every((candidate) => {
        const answer = this.answers[candidate.name];
        return answer && (answer.action !== "keep_both" || answer.name.trim() !== "");
      }) &&
      this.needTrust.every((candidate) => this.trusted[candidate.name] === true),
  );

  async choose(): Promise<void> {
    this.failure = null;
    this.result = null;
    this.exportedTo = null;
    try {
      const file = await importChoose();
      if (!file) return;
      this.answers = Object.fromEntries(
        file.connections
          .filter((candidate) => candidate.name_taken)
          .map((candidate) => [candidate.name, { action: "keep_both", name: candidate.suggested_name }]),
      );
      // Trust is never assumed: each connection that needs it starts unticked.
      this.trusted = Object.fromEntries(
        file.connections.filter((candidate) => candidate.needs_confirmation).map((candidate) => [candidate.name, false]),
      );
      this.file = file;
    } catch (rejection) {
      this.failure = IpcFailure.from(rejection);
    }
  }

  choices(): ImportChoice[] {
    return this.taken.map((candidate) => {
      const answer = this.answers[candidate.name];
      const resolution =
        answer.action === "keep_both" ? { action: "keep_both" as const, name: answer.name.trim() } : { action: answer.action };
      return { name: candidate.name, resolution };
    });
  }

  async confirm(): Promise<ImportedDto | null> {
    if (!this.file || !this.canImport) return null;
    this.busy = true;
    this.failure = null;
    try {
      const accepted = this.needTrust.filter((candidate) => this.trusted[candidate.name]).map((candidate) => candidate.name);
      this.result = await connectionsImport(this.file.path, this.file.digest, this.choices(), accepted);
      this.file = null;
      return this.result;
    } catch (rejection) {
      this.failure = IpcFailure.from(rejection);
      return null;
    } finally {
      this.busy = false;
    }
  }

  close() {
    this.file = null;
    this.trusted = {};
    this.result = null;
    this.failure = null;
  }

  /** Exports `ids` (every connection when empty) to a file the user picks. */
  async export(ids: string[]): Promise<void> {
    this.failure = null;
    this.exportedTo = null;
    try {
      this.exportedTo = await connectionsExport(ids);
    } catch (rejection) {
      this.failure = IpcFailure.from(rejection);
    }
  }
}
