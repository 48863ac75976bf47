import { connectionsList, onConnectionsChanged, type ConnectionDto } from "$lib/ipc";

/**
 * The connection list asked for as the page starts (main.ts), before the app is mounted, and whether the engine
 * has said since that the list changed. The app's own listener exists only once it is mounted: a change in
 * between (the refresher renewing a token at login, a `latch` command) would otherwise wait for the next one.
 */
export interface EarlyList {
  /** The engine's answer; its failure is the app's to show, once mounted (ConnectionsState.load). */
  answer: Promise<ConnectionDto[]>;
  /** Stops watching, and says whether the list changed after `answer` was read. */
  changedSince(): Promise<boolean>;
}

export function askEarly(): EarlyList {
  let changed = false;
  // Watching starts before the list is read, so a change after the read is always seen.
  const watching = onConnectionsChanged(() => {
    changed = true;
  });
  const answer = watching.then(() => connectionsList());
  answer.catch(() => {});
  return {
    answer,
    async changedSince() {
      (await watching)();
      return changed;
    },
  };
}
