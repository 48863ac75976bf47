import {
  IpcFailure,
  connectionConnect,
  connectionConnectCancel,
  connectionPasteSubmit,
  connectionDisconnect,
  connectionRefresh,
  connectionRemove,
  connectionsList,
  onConnectionsChanged,
  onDeviceCodeShown,
  onSignInStarted,
  onReconnectRequested,
  onOpenSettings,
  type ConnectionDto,
  type DeviceCodeShown,
  type DisconnectOutcome,
  type SignInStarted,
} from "$lib/ipc";

/** What the right-hand pane shows. */
export type View =
  | { kind: "nothing" }
  | { kind: "detail"; id: string }
  | { kind: "create" }
  | { kind: "edit"; id: string }
  | { kind: "settings" };

/**
 * A sign-in in progress. `started` arrives with the `sign-in-started` event (never for client credentials),
 * `device` with `device-code-shown` (device code flow only). `pasted` is set once the user submitted the
 * address in the paste flow.
 */
export type SignInProgress = {
  started: SignInStarted | null;
  device: DeviceCodeShown | null;
  startedHere: boolean;
  receivedAt: number;
  pasted?: boolean;
};

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
      onDeviceCodeShown((shown) => this.#deviceCodeShown(shown)),
      onReconnectRequested((id) => {
        this.show(id);
        void this.connect(id);
      }),
      onOpenSettings(() => (this.view = { kind: "settings" })),
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
        const until = progress.device?.deadline ?? progress.started?.deadline;
        // A paste sign-in has no deadline: it waits for the user.
        const deadline = until ? Date.parse(until) : progress.started?.paste ? Infinity : 0;
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
    this.signIns[id] = { started: null, device: null, startedHere: true, receivedAt: Date.now() };
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

  /** The paste flow: hands over the address the browser ended on; `connect` then finishes (or fails with why). */
  async submitPaste(id: string, address: string): Promise<void> {
    await connectionPasteSubmit(id, address.trim());
    const progress = this.signIns[id];
    if (progress) progress.pasted = true;
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
    this.signIns[started.id] = { started, device: null, startedHere: existing?.startedHere ?? false, receivedAt: Date.now() };
  }

  #deviceCodeShown(device: DeviceCodeShown) {
    const existing = this.signIns[device.id];
    this.signIns[device.id] = { started: null, device, startedHere: existing?.startedHere ?? false, receivedAt: Date.now() };
  }
}
