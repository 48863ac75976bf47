import { describe, expect, it } from "vitest";
import type { Component } from "svelte";
import { Screen } from "$lib/screens.svelte";

describe("a screen in its own chunk", () => {
  it("is null until its chunk arrives, fetched once however often it is asked for", async () => {
    let fetches = 0;
    type Props = Record<string, unknown>;
    let arrive: (module: { default: Component<Props> }) => void = () => {};
    const Empty = (() => {}) as unknown as Component<Props>;
    const screen = new Screen<Props>(() => {
      fetches += 1;
      return new Promise((resolve) => (arrive = resolve));
    });
    expect(screen.get()).toBeNull();
    expect(screen.get()).toBeNull();
    const loading = screen.load();
    expect(fetches).toBe(1);
    arrive({ default: Empty });
    await loading;
    expect(screen.get()).toBe(Empty);
    expect(fetches).toBe(1);
  });
});
