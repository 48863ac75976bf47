/**
 * Leaving a screen that holds unsaved work: the screen decides what happens first. A changed connection form asks
 * "Discard changes?"; Settings saves what was changed. Whatever moves the right-hand pane elsewhere (a click in the
 * list, Add, the gear, the tray's Settings…, a notification's Sign in again) goes through `leave`.
 */

/** Called with the step that leaves; returns true when it takes over (asks, or saves first) and calls it later. */
export type BeforeLeave = (go: () => void) => boolean;

const guards = new Set<BeforeLeave>();

/** Registers a screen's guard while it is shown; returns the function that removes it. */
export function guardLeaving(beforeLeave: BeforeLeave): () => void {
  guards.add(beforeLeave);
  return () => guards.delete(beforeLeave);
}

/** Leaves at once, unless a screen with unsaved work takes over (it calls `go` itself once that is settled). */
export function leave(go: () => void) {
  for (const beforeLeave of guards) if (beforeLeave(go)) return;
  go();
}

/**
 * The question a changed form asks before its work is thrown away: `asking` holds the step that leaves while the
 * question is shown.
 */
export class DiscardQuestion {
  asking = $state<(() => void) | null>(null);

  constructor(private readonly changed: () => boolean) {}

  /** Leaves with `go` at once when nothing changed; otherwise asks first. */
  request(go: () => void): boolean {
    if (!this.changed()) return false;
    this.asking = go;
    return true;
  }

  /** Leave: the changes are thrown away. */
  discard() {
    const go = this.asking;
    this.asking = null;
    go?.();
  }

  /** Stay, with the changes as they are. */
  keep() {
    this.asking = null;
  }
}
