import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { framePainted } from "$lib/first-frame";

describe("waiting for the window's next frame to be painted", () => {
  let frames: FrameRequestCallback[] = [];
  beforeEach(() => {
    frames = [];
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    vi.spyOn(window, "requestAnimationFrame").mockImplementation((callback) => frames.push(callback));
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const settled = (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => (done = true));
    return async () => {
      await vi.advanceTimersByTimeAsync(0);
      return done;
    };
  };

  it("resolves in the task after the frame, not before it", async () => {
    const isDone = settled(framePainted());
    expect(await isDone()).toBe(false);
    for (const frame of frames.splice(0)) frame(performance.now());
    expect(await isDone()).toBe(true);
  });

  it("resolves after the fallback time in a window that paints no frames (started hidden, at login)", async () => {
    const isDone = settled(framePainted(100));
    await vi.advanceTimersByTimeAsync(99);
    expect(await isDone()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await isDone()).toBe(true);
    expect(frames).toHaveLength(1);
  });
});
