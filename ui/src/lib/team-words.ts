// What the app says about a joined team's store, in one place for Settings → Team and the list's banner.
import type { TeamDto, TeamSyncDto } from "$lib/ipc";
import { sinceClock } from "$lib/relative-time";

/** "Team store unreachable since 10:42." — or null while the store answers. */
export function unreachableWords(team: Pick<TeamDto, "unreachable_since">, now: number): string | null {
  if (!team.unreachable_since) return null;
  return `Team store unreachable ${sinceClock(team.unreachable_since, now)}.`;
}

/** What Latch does meanwhile, said after `unreachableWords`. */
export const WHILE_UNREACHABLE = "Latch keeps using the tokens it has and tries again by itself.";

/** A chosen file's name without its folders ("team-ca.pem"), as the app shows a CA certificate file. */
export const fileName = (path: string) => path.split(/[\\/]/).pop() || path;

/** The section heading of a team's connections in the list. */
export const teamHeading = (name: string) => `Team: ${name}`;

const names = (list: string[]) => list.map((name) => `“${name}”`).join(", ");

/** What a join or a sync changed here, in one or two sentences. */
export function syncWords(sync: TeamSyncDto): string {
  const parts: string[] = [];
  if (sync.added.length) parts.push(`Added ${names(sync.added)}.`);
  if (sync.updated.length) parts.push(`Updated ${names(sync.updated)}.`);
  if (sync.removed.length) parts.push(`Removed ${names(sync.removed)}: no longer in the team.`);
  if (sync.skipped.length) parts.push(`Not shown here: ${sync.skipped.join("; ")}.`);
  return parts.length ? parts.join(" ") : "Up to date: nothing new in the team.";
}
