import { createSubscriber } from "svelte/reactivity";

/**
 * The current time for countdowns. It ticks once a second, but only while something on screen
 * reads it: no timer runs when no countdown is visible.
 */
class Clock {
  #subscribe = createSubscriber((update) => {
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  });

  get now(): number {
    this.#subscribe();
    return Date.now();
  }
}

export const clock = new Clock();
