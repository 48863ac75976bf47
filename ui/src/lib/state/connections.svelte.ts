import {
  IpcFailure,
  connectionConnect,
  connectionConnectCancel,
  connectionDisconnect,
  connectionRefresh,
  connectionRemove,
  connectionsList,
  onConnectionsChanged,
  onSignInStarted,
  onReconnectRequested,
  type ConnectionDto,
  type DisconnectOutcome,
  type SignInStarted,
} from "$lib/ipc";

/** What the right-hand pane shows. */
export type View =
  | { kind: "nothing" }
  | { kind: "detail"; id: string }
  | { kind: "create" }
  | { kind: "edit"; id: string };

/** A sign-in in progress. `started` arrives with the `sign-in-started` event (never for client credentials). */
export type SignInProgress = { started: SignInStarted | null; startedHere: boolean; receivedAt: number };

/** The connection list, what is selected, and the long-running actions on connections. */
export class ConnectionsState {
  connections = $state<ConnectionDto[]>([]);
  loaded = $state(false);
  loadFailure = $state<IpcFailure | null>(null);
  view = $state<View>({ kind: "nothing" });
  signIns = $state<Record<string, SignInProgress>>({});
  connectFailures = $state<Record<string, IpcFailure>>({});
  lastDisconnect = $state<{ id: string; outcome: DisconnectOutcome } | null>(null);

  selectedId = $derived(this.view.kind === "detail" || this.view.kind === "edit" ? this.view.id : null);
  selected = $derived(this.connections.find((connection) => connection.id === this.selectedId) ?? null);

  /** Loads the list and follows changes from this app, the CLI and other processes. Returns a stop function. */
  start(): () => void {
    let stopped = false;
    const unlisteners = [
      onConnectionsChanged(() => void this.load()),
      onSignInStarted((started) => this.#signInStarted(started)),
      onReconnectRequested((id) => {
        this.show(id);
        void this.connect(id);
      }),
    ];
    void this.load();
    return () => {
      if (stopped) return;
      stopped = true;
      for (const unlisten of unlisteners) void unlisten.then((stop) => stop());
    };
  }

  async load(): Promise<void> {
    try {
      const connections = await connectionsList();
      this.connections = connections;
      this.loadFailure = null;
      // A sign-in started elsewhere (tray, notification) has no promise to wait for here:
      // it is over once new tokens arrive or its deadline passes.
      for (const [id, progress] of Object.entries(this.signIns)) {
        if (progress.startedHere) continue;
        const connection = connections.find((candidate) => candidate.id === id);
        const issuedAt = connection?.access_issued_at ? Date.parse(connection.access_issued_at) : 0;
        const deadline = progress.started ? Date.parse(progress.started.deadline) : 0;
        if (!connection || issuedAt >= progress.receivedAt || Date.now() > deadline) delete this.signIns[id];
      }
      if (this.view.kind === "detail" || this.view.kind === "edit") {
        const id = this.view.id;
        if (!connections.some((connection) => connection.id === id)) this.view = { kind: "nothing" };
      }
    } catch (rejection) {
      this.loadFailure = IpcFailure.from(rejection);
    } finally {
      this.loaded = true;
    }
  }

  show(id: string) {
    this.view = { kind: "detail", id };
  }

  /** Puts a fresh copy from a command's answer into the list, without waiting for the change event. */
  upsert(connection: ConnectionDto) {
    const index = this.connections.findIndex((candidate) => candidate.id === connection.id);
    if (index === -1) this.connections.push(connection);
    else this.connections[index] = connection;
  }

  async connect(id: string): Promise<void> {
    this.signIns[id] = { started: null, startedHere: true, receivedAt: Date.now() };
    delete this.connectFailures[id];
    try {
      this.upsert(await connectionConnect(id));
    } catch (rejection) {
      const failure = IpcFailure.from(rejection);
      // Cancelling is the user's own choice: nothing to report.
      if (failure.code !== "cancelled") this.connectFailures[id] = failure;
    } finally {
      delete this.signIns[id];
    }
  }

  async cancelConnect(id: string): Promise<void> {
    await connectionConnectCancel(id);
    if (this.signIns[id] && !this.signIns[id].startedHere) delete this.signIns[id];
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
    this.connections = this.connections.filter((connection) => connection.id !== id);
    if (this.selectedId === id) this.view = { kind: "nothing" };
    return outcome;
  }

  #signInStarted(started: SignInStarted) {
    const existing = this.signIns[started.id];
    this.signIns[started.id] = { started, startedHere: existing?.startedHere ?? false, receivedAt: Date.now() };
  }
}
