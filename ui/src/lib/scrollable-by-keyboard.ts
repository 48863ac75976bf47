/**
 * A box whose content scrolls must be reachable from the keyboard, or only a mouse can read the rest of it
 * (WCAG 2.1.1; axe's "scrollable-region-focusable"). While `node`'s content overflows it takes a Tab stop,
 * with the region role and `label` so a screen reader says what it is; while it fits it stays out of the way.
 * Use as `<pre use:scrollableByKeyboard={"Response body"}>`.
 */
export function scrollableByKeyboard(node: HTMLElement, label: string) {
  const update = () => {
    const overflows = node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1;
    if (overflows) {
      node.tabIndex = 0;
      node.setAttribute("role", "region");
      node.setAttribute("aria-label", label);
    } else {
      node.removeAttribute("tabindex");
      node.removeAttribute("role");
      node.removeAttribute("aria-label");
    }
  };
  // The box overflows when the window narrows as well as when its text grows.
  const resized = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(update);
  resized?.observe(node);
  const changed = new MutationObserver(update);
  changed.observe(node, { childList: true, characterData: true, subtree: true });
  update();
  return {
    update(next: string) {
      label = next;
      update();
    },
    destroy() {
      resized?.disconnect();
      changed.disconnect();
    },
  };
}
