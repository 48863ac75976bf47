import type { Component } from "svelte";
import { framePainted } from "$lib/first-frame";

/**
 * A screen the window does not show at start (a connection's detail, its form, the new-connection picker,
 * Settings), in its own chunk: the start parses and runs only the list's code, so the window paints sooner, and
 * the rest is fetched once the first frame is up (`preload`). `get()` is the component once it is there (null
 * until then, for the few milliseconds a click can beat the fetch) and starts the fetch if nothing did.
 */
export class Screen<Props extends Record<string, unknown>> {
  component = $state.raw<Component<Props> | null>(null);
  #loading: Promise<unknown> | null = null;
  #load: () => Promise<{ default: Component<Props> }>;

  constructor(load: () => Promise<{ default: Component<Props> }>) {
    this.#load = load;
  }

  get(): Component<Props> | null {
    if (this.component === null) void this.load();
    return this.component;
  }

  load(): Promise<unknown> {
    this.#loading ??= this.#load().then((module) => {
      this.component = module.default;
    });
    return this.#loading;
  }
}

export const screens = {
  detail: new Screen(() => import("$lib/components/ConnectionDetail.svelte")),
  form: new Screen(() => import("$lib/components/ConnectionForm.svelte")),
  create: new Screen(() => import("$lib/components/NewConnection.svelte")),
  settings: new Screen(() => import("$lib/components/Settings.svelte")),
};

/** Fetches every screen, after the window's first frame: by the time anyone clicks, they are there. */
export function preloadScreens(): Promise<unknown> {
  return framePainted().then(() => Promise.all(Object.values(screens).map((screen) => screen.load())));
}
