/**
 * When a provider says its limit lifts, read from the words the CLI printed. Pure: `now` comes in.
 *
 * Forms read (the first one found wins, in this order):
 * - an ISO instant after a reset word: `resets_at: 2026-12-05T16:00:00Z` (no offset: the default zone);
 * - a Unix time after a reset word: `resets_at: 1796487815`, Claude Code's old `…limit reached|1796487815`;
 * - `retry-after: 120` (seconds) or `retry-after: Sat, 05 Dec 2026 16:00:00 GMT`;
 * - a relative wait: `Try again in 2 hours 5 minutes`, `retry in 30s`, `resets in 1h 20m`;
 * - a wall-clock time after a reset word, with an optional date and zone, as Claude Code prints it
 *   (`resets 3pm (Europe/Paris)`, `resets at 4:35pm (UTC)`, `resets Dec 8, 9am (America/New_York)`,
 *   `resets Dec 8, 2027, 9am (…)`) and as Codex does (`try again at 4:23 PM.`, `try again at Dec 8 4:23 PM`,
 *   `try again at Dec 8, 2027 4:23 PM`).
 *
 * Zones: an IANA name (`Europe/Paris`), `UTC`/`GMT`/`Z`, or an offset (`UTC+2`, `GMT-05:00`, `+02:00`).
 * A time with no zone is in `defaultTimeZone` (UTC unless told): Codex prints its host's local time
 * without naming the zone, and Vigil's workers run in UTC. A zone Intl does not know (`PST`, a typo)
 * also counts as the default zone: a reset a few hours off is retried and re-parked, while no reset
 * at all would spend the transient ladder on a wall.
 * DST: the offset is the zone's offset AT the reset, not now's. A time of day already past today
 * (in that zone) means tomorrow — unless it passed less than 2 minutes ago: the CLIs print resets
 * to the minute (a retry parked at "4:23 PM" may meet the wall again at 4:23:10), so that is the
 * reset just passed, not tomorrow's. A date without a year already past means next year.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 3600 * 1000;
/** A time of day this recently past is today's (just passed), not tomorrow's. */
const JUST_PASSED_MS = 2 * MINUTE_MS;

export interface ResetTimeOptions {
  /** The zone of a time printed without one. Default `UTC`. */
  defaultTimeZone?: string;
}

/** The reset instant the text names, or null when it names none. */
export function parseResetTime(text: string, now: Date, options: ResetTimeOptions = {}): Date | null {
  if (!text) return null;
  const defaultZone = knownZone(options.defaultTimeZone) ?? 'UTC';
  return (
    isoInstant(text, defaultZone) ??
    unixReset(text) ??
    retryAfter(text, now) ??
    relativeWait(text, now) ??
    wallClockReset(text, now, defaultZone)
  );
}

// --- ISO instants -------------------------------------------------------------------------------

// After a reset word: a log line's own timestamp is not a reset.
const ISO = /\b(?:resets?|reset_at|resets_at|retry|again|until|after|available)\b[^\d\n]{0,20}(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?/i;

function isoInstant(text: string, defaultZone: Zone): Date | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, offset] = m;
  if (offset !== undefined) {
    const parsed = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${offset === 'Z' ? 'Z' : normalizeOffset(offset)}`);
    return Number.isNaN(parsed) ? null : new Date(parsed);
  }
  return zonedInstant({ year: +y, month: +mo, day: +d, hour: +h, minute: +mi, second: s ? +s : 0 }, defaultZone);
}

function normalizeOffset(offset: string): string {
  return offset.includes(':') ? offset : `${offset.slice(0, 3)}:${offset.slice(3)}`;
}

// --- Unix times and Retry-After -----------------------------------------------------------------

function unixReset(text: string): Date | null {
  const m = /(?:resets?_?at|reset_time|limit reached)["']?\s*[|:=]\s*(\d{10})(?!\d)/i.exec(text);
  return m ? new Date(Number(m[1]) * 1000) : null;
}

function retryAfter(text: string, now: Date): Date | null {
  const seconds = /retry[-_ ]after["']?\s*[:=]\s*["']?(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?\b(?!\s*[:/-])/i.exec(text);
  if (seconds) return new Date(now.getTime() + Math.round(Number(seconds[1]) * 1000));
  const httpDate = /retry[-_ ]after["']?\s*[:=]\s*["']?((?:mon|tue|wed|thu|fri|sat|sun), \d{1,2} [a-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT)/i.exec(text);
  if (httpDate) {
    const parsed = Date.parse(httpDate[1]);
    return Number.isNaN(parsed) ? null : new Date(parsed);
  }
  return null;
}

// --- Relative waits -----------------------------------------------------------------------------

const UNIT_MS: Array<[RegExp, number]> = [
  [/^d(?:ays?)?$/i, DAY_MS],
  [/^h(?:ours?|rs?)?$/i, 3600_000],
  [/^m(?:in(?:ute)?s?)?$/i, MINUTE_MS],
  [/^s(?:ec(?:ond)?s?)?$/i, 1000],
  [/^ms$/i, 1],
];
const DURATION_PART = String.raw`(\d+(?:\.\d+)?)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s|ms)\b`;
const RELATIVE = new RegExp(
  String.raw`\b(?:try again|retry|resets?|reset|wait|available(?: again)?|again)\s+(?:in|after)\s+((?:${DURATION_PART}(?:\s*,?\s*(?:and\s+)?)?)+)`,
  'i',
);

function relativeWait(text: string, now: Date): Date | null {
  const m = RELATIVE.exec(text);
  if (!m) return null;
  let total = 0;
  for (const part of m[1].matchAll(new RegExp(DURATION_PART, 'gi'))) {
    const unit = UNIT_MS.find(([pattern]) => pattern.test(part[2]));
    if (unit) total += Number(part[1]) * unit[1];
  }
  return total > 0 ? new Date(now.getTime() + Math.round(total)) : null;
}

// --- Wall-clock times ---------------------------------------------------------------------------

const WALL_CLOCK = new RegExp(
  String.raw`\b(?:resets?|reset(?:s)? at|try again at|again at|available (?:again )?at|until)\s+(?:at\s+|on\s+)?` +
    // an optional date: "Dec 8", "Dec 8,", "Dec 8, 2027,", "Dec 8 2027", then optionally "at"
    String.raw`(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?,?\s+(?:at\s+)?)?` +
    // the time: "3pm", "4:35pm", "4:23 PM", "16:35"
    String.raw`(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?(?![\d:])` +
    // the zone: "(Europe/Paris)", " UTC", " GMT+2"
    String.raw`(?:\s*\(([^)]{1,64})\)|\s+(UTC|GMT|Z)(?![a-z])([+-]\d{1,2}(?::?\d{2})?)?)?`,
  'i',
);

function wallClockReset(text: string, now: Date, defaultZone: Zone): Date | null {
  const m = WALL_CLOCK.exec(text);
  if (!m) return null;
  const [, monthName, dayText, yearText, hourText, minuteText, meridiem, zoneInParens, bareZone, bareOffset] = m;
  let hour = Number(hourText);
  const minute = minuteText !== undefined ? Number(minuteText) : 0;
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    const pm = meridiem[0].toLowerCase() === 'p';
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (minuteText === undefined || hour > 23) {
    // "resets 3" is not a time; a 24-hour time needs its minutes.
    return null;
  }
  if (minute > 59) return null;

  const zone = zoneInParens !== undefined ? parseZone(zoneInParens) ?? defaultZone : bareZone !== undefined ? parseZone(`${bareZone}${bareOffset ?? ''}`) ?? defaultZone : defaultZone;
  const today = wallClockOf(now, zone);

  if (monthName !== undefined) {
    const month = MONTHS.indexOf(monthName.toLowerCase()) + 1;
    const day = Number(dayText);
    if (day < 1 || day > 31) return null;
    const explicitYear = yearText !== undefined ? Number(yearText) : null;
    const at = (year: number) => zonedInstant({ year, month, day, hour, minute, second: 0 }, zone);
    const instant = at(explicitYear ?? today.year);
    // "Dec 8" read on Dec 31 is next year's.
    if (explicitYear === null && instant.getTime() < now.getTime() - DAY_MS) return at(today.year + 1);
    return instant;
  }

  const todayAt = zonedInstant({ year: today.year, month: today.month, day: today.day, hour, minute, second: 0 }, zone);
  // Printed to the minute (Codex floors its reset): a time a few minutes ago is the reset just passed.
  if (todayAt.getTime() > now.getTime() - JUST_PASSED_MS) return todayAt;
  // Already past today in that zone: tomorrow, at tomorrow's offset.
  const tomorrow = new Date(Date.UTC(today.year, today.month - 1, today.day + 1));
  return zonedInstant(
    { year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate(), hour, minute, second: 0 },
    zone,
  );
}

// --- Zones --------------------------------------------------------------------------------------

/** An IANA zone name, or a fixed offset from UTC in minutes. */
type Zone = string | { offsetMinutes: number };

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function knownZone(name: string | undefined): string | null {
  if (!name) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

function parseZone(raw: string): Zone | null {
  const text = raw.trim();
  const offset = /^(?:UTC|GMT|Z)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(text);
  if (offset) {
    const minutes = Number(offset[2]) * 60 + Number(offset[3] ?? 0);
    return minutes <= 14 * 60 ? { offsetMinutes: offset[1] === '-' ? -minutes : minutes } : null;
  }
  if (/^(?:UTC|GMT|Z)$/i.test(text)) return 'UTC';
  return knownZone(text);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** What a clock in `zone` shows at `instant`. */
function wallClockOf(instant: Date, zone: Zone): WallClock {
  if (typeof zone !== 'string') {
    const shifted = new Date(instant.getTime() + zone.offsetMinutes * MINUTE_MS);
    return {
      year: shifted.getUTCFullYear(),
      month: shifted.getUTCMonth() + 1,
      day: shifted.getUTCDate(),
      hour: shifted.getUTCHours(),
      minute: shifted.getUTCMinutes(),
      second: shifted.getUTCSeconds(),
    };
  }
  const parts: Record<string, number> = {};
  for (const part of formatterFor(zone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second };
}

/** The zone's offset from UTC at `instant`, in ms. */
function offsetAt(instant: number, zone: Zone): number {
  if (typeof zone !== 'string') return zone.offsetMinutes * MINUTE_MS;
  const wall = wallClockOf(new Date(instant), zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a clock in `zone` shows `wall`. The offset is looked up at the target itself (twice:
 * a guess from the naive offset can land on the other side of a DST change).
 */
function zonedInstant(wall: WallClock, zone: Zone): Date {
  const naive = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  const first = naive - offsetAt(naive, zone);
  const second = naive - offsetAt(first, zone);
  return new Date(second);
}
