/**
 * Resolves once the window has painted the frame it has pending: a requestAnimationFrame callback runs just
 * before that paint, and a task queued from it runs after. A window that paints no frames — Latch started at login
 * keeps its window hidden until asked for — resolves after `fallbackMs` instead, so what waits still happens.
 */
export function framePainted(fallbackMs = 100): Promise<void> {
  return new Promise((painted) => {
    const fallback = setTimeout(painted, fallbackMs);
    requestAnimationFrame(() =>
      setTimeout(() => {
        clearTimeout(fallback);
        painted();
      }, 0),
    );
  });
}
