import { getContext, hasContext, setContext } from "svelte";
import {
  IpcFailure,
  connectionDisconnect,
  connectionRefresh,
  connectionRemove,
  connectionsList,
  onConnectionsChanged,
  onOpenSettings,
  onOpenTeamSettings,
  onReconnectRequested,
  onSignIn,
  onTeamsChanged,
  settingsGet,
  settingsSave,
  signInCancel,
  signInStart,
  signInSubmitAddress,
  teamsList,
  type ConnectionDto,
  type DisconnectOutcome,
  type SignInEvent,
  type SignInEventDto,
  type SignInOutcome,
  type TeamDto,
} from "$lib/ipc";
import type { EarlyList } from "$lib/early-list";
import { statusWords } from "$lib/status-badge";
import { leave } from "$lib/state/leave-guard.svelte";

/** What the right-hand pane shows. */
export type View =
  | { kind: "nothing" }
  | { kind: "detail"; id: string; changeValues?: string }
  | { kind: "create" }
  | { kind: "edit"; id: string; focus?: string }
  /** `section`: scrolled to on opening (the team notification's button opens Settings → Team). */
  | { kind: "settings"; section?: "team" };

type Stage<S extends SignInEvent["stage"]> = Omit<Extract<SignInEvent, { stage: S }>, "stage">;
/** A browser sign-in's link, where it returns, and until when it waits (the `started` event). */
export type SignInStartedStage = Stage<"started">;
/** A device sign-in's code and the page to enter it on (the `device_code` event). */
export type DeviceCodeStage = Stage<"device_code">;

/**
 * A sign-in in progress, followed by its session's events alone. `session` is null only from a click on
 * Connect until the engine answers with the session (or its first event arrives, whichever is first).
 * `started` comes with a browser sign-in, `device` with a device sign-in (neither for client credentials);
 * `pasted` once the address from the browser was handed over in the paste sign-in.
 */
export type SignInProgress = {
  session: string | null;
  started: SignInStartedStage | null;
  device: DeviceCodeStage | null;
  pasted: boolean;
};

const waiting = (session: string | null): SignInProgress => ({ session, started: null, device: null, pasted: false });

/**
 * Where the app remembers that it asked about starting at login (this window's storage: the question is the
 * app's, not a setting of the engine's). Asked once, whatever the answer.
 */
export const START_AT_LOGIN_ASKED = "latch.start-at-login-asked";

/** Whether `connection` has ever worked: it holds, or held until it needed a sign-in, tokens. */
const everConnected = (connection: ConnectionDto) =>
  connection.status !== "new" && (connection.access_issued_at !== null || connection.has_refresh_token);

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The connection list, what is selected, and the long-running actions on connections. */
export class ConnectionsState {
  /**
   * Replaced whole, never changed in place: `$state.raw` keeps each row the plain object IPC delivered, where
   * `$state` would wrap every row and every field read in its own proxy and signal (with 1,000 connections,
   * megabytes of the web process for nothing: a row changes only by a new copy from the engine).
   */
  connections = $state.raw<ConnectionDto[]>([]);
  /** The teams this Latch has joined, each with whether its store answers (for the list's team sections). */
  teams = $state<TeamDto[]>([]);
  loaded = $state(false);
  loadFailure = $state<IpcFailure | null>(null);
  view = $state<View>({ kind: "nothing" });
  /** The current sign-in session of each connection that has one, by connection id. */
  signIns = $state<Record<string, SignInProgress>>({});
  connectFailures = $state<Record<string, IpcFailure>>({});
  lastDisconnect = $state<{ id: string; outcome: DisconnectOutcome } | null>(null);
  /** A sentence for screen readers about what just happened (a sign-in ended); the app's live region reads it. */
  announcement = $state("");
  /** The last connection deleted here, and the one in the list the focus goes to after it (null: none left). */
  removed = $state<{ name: string; neighbourId: string | null } | null>(null);
  /**
   * The offer after the first connect ever: Latch renews only while it runs, so start it at login? "asking"
   * while the question is shown, "saving" while the answer is saved, "on" once it is.
   */
  startAtLogin = $state<{ stage: "asking" | "saving" | "on"; failure: IpcFailure | null } | null>(null);

  selectedId = $derived(this.view.kind === "detail" || this.view.kind === "edit" ? this.view.id : null);
  selected = $derived(this.connections.find((connection) => connection.id === this.selectedId) ?? null);

  /**
   * Sessions that are over here: finished (with how), or replaced by a newer session of their connection
   * (null). Their late events change nothing.
   */
  #over = new Map<string, SignInOutcome | null>();
  /** The status words screen readers last had for each connection, by id: each change is told once. */
  #told = new Map<string, string>();
  /** How many reads of the list have been asked for: the number of the latest. */
  #reads = 0;
  /** Connect clicks still waiting for the engine's answer, so Cancel can wait for the session. */
  #starting = new Map<string, Promise<string | null>>();

  /**
   * Loads the list and follows changes from this app, the CLI and other processes. Returns a stop function.
   * `firstList`: the list asked for before the app was mounted (main.ts asks as the page starts, so the engine
   * reads it while WebKit paints the first frame); the first load takes its answer, and the list is read again
   * once this state listens if it changed in between.
   */
  start(firstList?: EarlyList): () => void {
    let stopped = false;
    const unlisteners = [
      onConnectionsChanged(() => void this.load()),
      onTeamsChanged(() => void this.loadTeams()),
      onSignIn((event) => this.#signInEvent(event)),
      // The tray and the notifications move the pane like a click in the window does: a screen with unsaved
      // work has its say first (see leave-guard), and "Keep editing" leaves everything, sign-in included, as is.
      onReconnectRequested((id) =>
        leave(() => {
          this.show(id);
          void this.connect(id);
        }),
      ),
      onOpenSettings(() => leave(() => (this.view = { kind: "settings" }))),
      onOpenTeamSettings(() => leave(() => (this.view = { kind: "settings", section: "team" }))),
    ];
    void this.load(firstList?.answer);
    if (firstList) {
      void Promise.all(unlisteners).then(async () => {
        if ((await firstList.changedSince()) && !stopped) void this.load();
      });
    }
    return () => {
      if (stopped) return;
      stopped = true;
      for (const unlisten of unlisteners) void unlisten.then((stop) => stop());
    };
  }

  /** Reads the joined teams again (a store stopped or started answering, one was joined or left). */
  async loadTeams(): Promise<void> {
    try {
      this.teams = await teamsList();
    } catch {
      // The list still shows every connection; only the team banners wait for the next change.
    }
  }

  /**
   * Reads the list from the engine — or takes `answer`, the engine's answer to a request already made. Answers
   * can come back out of order; only the latest read asked for is shown.
   */
  async load(answer?: Promise<ConnectionDto[]>): Promise<void> {
    void this.loadTeams();
    const read = ++this.#reads;
    try {
      const connections = await (answer ?? connectionsList());
      if (read !== this.#reads) return;
      this.connections = connections;
      this.loadFailure = null;
      this.#announceChanges(connections);
      if (this.view.kind === "detail" || this.view.kind === "edit") {
        const id = this.view.id;
        if (!connections.some((connection) => connection.id === id)) this.view = { kind: "nothing" };
      }
    } catch (rejection) {
      if (read !== this.#reads) return;
      this.loadFailure = IpcFailure.from(rejection);
    } finally {
      if (read === this.#reads) this.loaded = true;
    }
  }

  /**
   * Tells screen readers, through the app's polite live region, when a connection's state changed — by the
   * refresher, a sign-in, the CLI — in the badge's words: "Team Drive: Needs sign-in." The first load and new
   * connections are what is on screen, not changes.
   */
  #announceChanges(connections: ConnectionDto[]) {
    const news: string[] = [];
    for (const connection of connections) {
      const words = statusWords(connection);
      if (words === null) continue;
      const told = this.#told.get(connection.id);
      if (told !== undefined && told !== words) news.push(`${connection.name}: ${words}.`);
      this.#told.set(connection.id, words);
    }
    if (news.length > 0) this.announcement = news.join(" ");
  }

  show(id: string) {
    this.view = { kind: "detail", id };
  }

  /**
   * Opens a connection's settings to change, the cursor in `focus` when given (an error's button names the field).
   * A spec connection's are changed in its detail (Change values…).
   */
  edit(id: string, focus?: string) {
    const spec = this.connections.find((connection) => connection.id === id)?.kind === "spec";
    this.view = spec ? { kind: "detail", id, changeValues: focus ?? "" } : { kind: "edit", id, focus };
  }

  /** The connection a person knows by this name (errors' actions name connections as the user sees them). */
  byName(name: string): ConnectionDto | null {
    return this.connections.find((connection) => connection.name === name) ?? null;
  }

  /** Puts a fresh copy from a command's answer into the list, without waiting for the change event. */
  upsert(connection: ConnectionDto) {
    const known = this.connections.some((candidate) => candidate.id === connection.id);
    this.connections = known
      ? this.connections.map((candidate) => (candidate.id === connection.id ? connection : candidate))
      : [...this.connections, connection];
  }

  /**
   * Starts a sign-in. The engine answers at once with the session; everything after that (the link, the
   * device code, the outcome) arrives as events, possibly before the answer itself.
   */
  async connect(id: string): Promise<void> {
    // The engine cancels the connection's running session, if any: its last words change nothing here.
    const previous = this.signIns[id]?.session;
    if (previous) this.#over.set(previous, null);
    this.signIns[id] = waiting(null);
    delete this.connectFailures[id];
    const starting = signInStart(id).then((started) => started.session);
    const session = starting.catch(() => null);
    this.#starting.set(id, session);
    try {
      this.#answered(id, await starting);
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      if (this.signIns[id]?.session === null) delete this.signIns[id];
      if (failure.code !== "cancelled") this.connectFailures[id] = failure;
    } finally {
      if (this.#starting.get(id) === session) this.#starting.delete(id);
    }
  }

  /** Cancels the connection's current session; its `finished` event then ends the waiting. */
  async cancelConnect(id: string): Promise<void> {
    const entry = this.signIns[id];
    if (!entry) return;
    const session = entry.session ?? (await this.#starting.get(id)) ?? null;
    if (!session) return;
    const cancelled = await signInCancel(session);
    // Nothing was running any more: no event will come to end the waiting.
    if (!cancelled && this.signIns[id]?.session === session) delete this.signIns[id];
  }

  /** The paste sign-in: hands over the address the browser ended on; the session's events say how it went. */
  async submitPaste(id: string, address: string): Promise<void> {
    const session = this.signIns[id]?.session;
    if (!session) {
      throw new IpcFailure("validation", "This sign-in is no longer waiting for an address. Sign in again to start over.");
    }
    await signInSubmitAddress(session, address.trim());
    const entry = this.signIns[id];
    if (entry?.session === session) entry.pasted = true;
  }

  /** Yes to starting at login: saved with the other settings, as the Settings screen saves it. */
  async acceptStartAtLogin(): Promise<void> {
    this.startAtLogin = { stage: "saving", failure: null };
    try {
      const settings = await settingsGet();
      await settingsSave({ ...settings, start_at_login: true });
      this.startAtLogin = { stage: "on", failure: null };
    } catch (rejection) {
      this.startAtLogin = { stage: "asking", failure: IpcFailure.from(rejection) };
    }
  }

  dismissStartAtLogin() {
    this.startAtLogin = null;
  }

  /**
   * After a connect: if it is the first connection ever to work here and Latch does not start at login yet,
   * ask once whether it should — a connection stays alive only while Latch runs.
   */
  async #offerStartAtLogin(id: string): Promise<void> {
    const store = storage();
    if (!store || store.getItem(START_AT_LOGIN_ASKED) !== null) return;
    const firstEver = !this.connections.some((connection) => connection.id !== id && everConnected(connection));
    if (!firstEver) {
      store.setItem(START_AT_LOGIN_ASKED, "not first");
      return;
    }
    let settings;
    try {
      settings = await settingsGet();
    } catch {
      return; // Asked another time, when the settings can be read.
    }
    store.setItem(START_AT_LOGIN_ASKED, settings.start_at_login ? "already on" : "asked");
    if (!settings.start_at_login) this.startAtLogin = { stage: "asking", failure: null };
  }

  async refresh(id: string): Promise<void> {
    this.upsert(await connectionRefresh(id));
  }

  async disconnect(id: string): Promise<DisconnectOutcome> {
    const outcome = await connectionDisconnect(id);
    this.lastDisconnect = { id, outcome };
    await this.load();
    return outcome;
  }

  async remove(id: string): Promise<DisconnectOutcome> {
    const outcome = await connectionRemove(id);
    const at = this.connections.findIndex((connection) => connection.id === id);
    const name = this.connections[at]?.name ?? "the connection";
    this.connections = this.connections.filter((connection) => connection.id !== id);
    if (this.selectedId === id) this.view = { kind: "nothing" };
    // The button that asked is gone with the detail: the keyboard carries on from the row that took the deleted
    // one's place (the one before it at the end of the list); the app moves the focus there (or to Add).
    const neighbour = this.connections[Math.min(at, this.connections.length - 1)] ?? null;
    this.removed = { name, neighbourId: neighbour?.id ?? null };
    this.announcement = `Deleted ${name}.`;
    return outcome;
  }

  /** The engine's answer to Connect: fills in the session, unless the events already tell a newer story. */
  #answered(id: string, session: string) {
    const entry = this.signIns[id];
    if (this.#over.has(session)) {
      // It ended before its answer arrived.
      if (entry?.session === null) {
        delete this.signIns[id];
        this.#ended(id, this.#over.get(session) ?? null);
      }
      return;
    }
    if (!entry) this.signIns[id] = waiting(session);
    else if (entry.session === null) entry.session = session;
    // Otherwise the events follow another session already: they are the truth.
  }

  #signInEvent({ session, id, event }: SignInEventDto) {
    if (this.#over.has(session)) return;
    const entry = this.signIns[id];
    if (event.stage === "finished") {
      this.#over.set(session, event.outcome);
      // A session waiting for its answer may be this one: the answer settles it (see #answered).
      if (entry && entry.session !== session) return;
      delete this.signIns[id];
      this.#ended(id, event.outcome);
      return;
    }
    let current = entry;
    if (!current || current.session === null) {
      // Started elsewhere, or this window's own session whose answer has not arrived yet.
      if (!current) this.signIns[id] = waiting(session);
      else current.session = session;
      current = this.signIns[id];
    } else if (current.session !== session) {
      // A newer session of the same connection: the engine cancelled the one shown.
      this.#over.set(current.session, null);
      this.signIns[id] = waiting(session);
      current = this.signIns[id];
    }
    switch (event.stage) {
      case "started": {
        const { authorize_url, redirect_uri, deadline, browser_error, paste } = event;
        current.started = { authorize_url, redirect_uri, deadline, browser_error, paste };
        break;
      }
      case "device_code": {
        const { user_code, verification_uri, verification_uri_complete, deadline, browser_error } = event;
        current.device = { user_code, verification_uri, verification_uri_complete, deadline, browser_error };
        break;
      }
      case "address_received":
        current.pasted = true;
        break;
      case "requesting":
        break;
    }
  }

  /** How a session of `id` ended. The engine records it too; the list reloads through `connections-changed`. */
  #ended(id: string, outcome: SignInOutcome | null) {
    const name = this.connections.find((connection) => connection.id === id)?.name ?? "The connection";
    if (outcome?.result === "failed") {
      this.announcement = `${name}: ${outcome.message}`;
      this.connectFailures[id] = new IpcFailure(
        outcome.code,
        outcome.message,
        [],
        outcome.details,
        outcome.action,
        outcome.provider,
      );
    } else if (outcome?.result === "connected") {
      delete this.connectFailures[id];
      this.announcement = `${name} is connected.`;
      // Said now: the reload that follows must not say it again.
      this.#told.set(id, statusWords({ status: "connected" }) ?? "");
      void this.#offerStartAtLogin(id);
    }
    // Cancelled (or replaced): the user's own choice, nothing to report.
  }
}

const CONTEXT = Symbol("connections");

/** Makes the app's connections reachable from deep inside (an error's action button), without passing it down. */
export function setConnectionsContext(connections: ConnectionsState) {
  setContext(CONTEXT, connections);
}

/** The app's connections, or null where there are none (a component shown on its own). */
export function connectionsContext(): ConnectionsState | null {
  return hasContext(CONTEXT) ? getContext<ConnectionsState>(CONTEXT) : null;
}

/** For tests that render a component inside the app's context: `render(C, { context: new Map([[CONNECTIONS_CONTEXT, state]]) })`. */
export const CONNECTIONS_CONTEXT = CONTEXT;
