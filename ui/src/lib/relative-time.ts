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

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A moment on the wall clock, local time, for sentences such as "Latch tries again at 14:05":
 * "at 14:05" today, "tomorrow at 09:30", otherwise "on 3 May at 14:05".
 */
export function atClock(iso: string, now: number): string {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "at an unknown time";
  const time = `${String(when.getHours()).padStart(2, "0")}:${String(when.getMinutes()).padStart(2, "0")}`;
  const today = new Date(now);
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  const sameDay = (a: Date, b: Date) =>
    a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (sameDay(when, today)) return `at ${time}`;
  if (sameDay(when, tomorrow)) return `tomorrow at ${time}`;
  return `on ${when.getDate()} ${MONTHS[when.getMonth()]} at ${time}`;
}

/** "since 10:42" for a moment today, otherwise "since 3 May at 10:42" (local time). */
export function sinceClock(iso: string, now: number): string {
  const at = atClock(iso, now);
  if (at === "at an unknown time") return "for a while";
  return at.startsWith("at ") ? `since ${at.slice(3)}` : `since ${at.replace(/^on /, "")}`;
}
