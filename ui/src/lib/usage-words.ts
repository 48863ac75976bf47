// The record of use in plain words: what each hand-out of a credential was, for people who never saw the
// engine's `via` and `what` codes (see UsageEntry).
import type { UsageDto } from "$lib/ipc";

/** Through what a credential went out, as the Recent use filter groups it. */
export type UsageChannel = "app" | "terminal" | "helper" | "proxy" | "other";

/** The filter's choices, in the order they are offered. */
export const CHANNEL_LABELS: Record<UsageChannel, string> = {
  app: "In Latch",
  terminal: "From the terminal",
  helper: "git and kubectl",
  proxy: "Through the local proxy",
  other: "Other",
};

export function usageChannel(use: Pick<UsageDto, "via">): UsageChannel {
  switch (use.via) {
    case "app":
      return "app";
    // The agent answers the command line's requests (the app, or Latch running without a window).
    case "cli":
    case "agent":
    case "exec":
      return "terminal";
    case "helper":
      return "helper";
    case "proxy":
      return "proxy";
    default:
      return "other";
  }
}

/** One use in words: "Copied in Latch", "Given to git", "Given to a program from the terminal". */
export function usageWords(use: Pick<UsageDto, "via" | "what">): string {
  const { via, what } = use;
  if (via === "app") {
    if (what === "copy") return "Copied in Latch";
    if (what === "reveal") return "Revealed in Latch";
    if (what === "request") return "Test request in Latch";
    if (what === "copy-curl") return "Copied as curl in Latch";
    return "Used in Latch";
  }
  if (via === "helper") {
    if (what === "git-credential") return "Given to git";
    if (what === "kube-credential") return "Given to kubectl";
    return "Given to a helper program";
  }
  if (via === "proxy") return "Through the local proxy";
  if (via === "exec") {
    // The program was given the proxy's address (and its key), the credential stayed in Latch.
    if (what === "proxy-url") return "A program Latch started was sent through the local proxy";
    return "Given to a program Latch started";
  }
  if (via === "cli" || via === "agent") {
    if (what === "request") return "Request sent from the terminal";
    return "Given to a program from the terminal";
  }
  return "Handed out";
}

/** The program's details for its tooltip: "/usr/bin/curl, process 4242, started by process 4100". */
export function programDetails(use: Pick<UsageDto, "exe" | "pid" | "parent_pid">): string {
  const parts: string[] = [];
  if (use.exe) parts.push(use.exe);
  if (use.pid !== null) parts.push(`process ${use.pid}`);
  if (use.parent_pid !== null) parts.push(`started by process ${use.parent_pid}`);
  return parts.join(", ");
}
