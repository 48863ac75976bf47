import type { Copied } from "$lib/ipc";

/** What a Copy did, in words: a copied secret says when Latch takes it off the clipboard again. */
export function copiedWords(copied: Copied): string {
  return copied.clears_in_seconds === null ? "Copied" : `Copied — cleared in ${copied.clears_in_seconds} s`;
}
