// Short, human times for expiry lines and badges: "in 12 min", "3 min ago", "in 2 h 5 min".

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A positive duration in words, rounded up so a countdown never says "0 min" while time is left. */
export function durationInWords(ms: number): string {
  if (ms < MINUTE) return "less than a minute";
  if (ms < HOUR) return `${Math.ceil(ms / MINUTE)} min`;
  if (ms < 10 * HOUR) {
    const hours = Math.floor(ms / HOUR);
    const minutes = Math.floor((ms % HOUR) / MINUTE);
    return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
  }
  if (ms < 2 * DAY) return `${Math.round(ms / HOUR)} h`;
  return `${Math.round(ms / DAY)} days`;
}

/** "in 12 min" for a future time, "3 min ago" for a past one, "just now" within a few seconds. */
export function relativeTime(iso: string, now: number): string {
  const diff = Date.parse(iso) - now;
  if (Number.isNaN(diff)) return "at an unknown time";
  if (Math.abs(diff) < 5_000) return "just now";
  return diff > 0 ? `in ${durationInWords(diff)}` : `${durationInWords(-diff)} ago`;
}

/** "4:05" — minutes and seconds left until `iso`, never negative. */
export function countdown(iso: string, now: number): string {
  const seconds = Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000));
  if (Number.isNaN(seconds)) return "0:00";
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
