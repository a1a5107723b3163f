import { describe, expect, it } from 'vitest';
import { parseResetTime } from '../../src/domain/resetTime.ts';

const at = (iso: string) => new Date(iso);
const reset = (text: string, now: string, defaultTimeZone?: string) => parseResetTime(text, at(now), { defaultTimeZone })?.toISOString() ?? null;

describe('a reset time as Claude Code prints it', () => {
  it('a time of day in a named zone, later today, is today', () => {
    expect(reset('Usage limit reached for this organization. Your limit resets at 4:35pm (UTC).', '2026-12-05T15:23:40Z')).toBe('2026-12-05T16:35:00.000Z');
  });

  it('a time of day already past today is tomorrow', () => {
    expect(reset('Your limit resets at 4:35pm (UTC).', '2026-12-05T17:00:00Z')).toBe('2026-12-06T16:35:00.000Z');
  });

  it('a zone is read at the reset: 3pm in Paris is 13:00 UTC in summer and 14:00 UTC in winter', () => {
    expect(reset("You've hit your session limit · resets 3pm (Europe/Paris)", '2026-07-01T10:00:00Z')).toBe('2026-07-01T13:00:00.000Z');
    expect(reset("You've hit your session limit · resets 3pm (Europe/Paris)", '2026-12-05T10:00:00Z')).toBe('2026-12-05T14:00:00.000Z');
  });

  it("tomorrow's reset across a DST change uses tomorrow's offset, not today's", () => {
    // Saturday 22:00 in Paris (CEST, +2); summer time ends that night; 9am Sunday is CET (+1).
    expect(reset('resets 9am (Europe/Paris)', '2026-10-24T20:00:00Z')).toBe('2026-10-25T08:00:00.000Z');
  });

  it('a dated reset more than a day away, in its zone, on the far side of a DST change', () => {
    expect(reset('resets Dec 8, 9am (America/New_York)', '2026-12-05T10:00:00Z')).toBe('2026-12-08T14:00:00.000Z');
    // New York springs forward on 2026-03-08: 9am that day is EDT (-4).
    expect(reset('resets Mar 8, 9am (America/New_York)', '2026-03-06T12:00:00Z')).toBe('2026-03-08T13:00:00.000Z');
  });

  it("a date without a year that already passed this year is next year's", () => {
    expect(reset('resets Jan 2, 9am (UTC)', '2026-12-31T10:00:00Z')).toBe('2027-01-02T09:00:00.000Z');
    expect(reset('resets Dec 8, 2027, 9:30am (UTC)', '2026-12-05T10:00:00Z')).toBe('2027-12-08T09:30:00.000Z');
  });

  it('a 24-hour time, 12am and 12pm', () => {
    expect(reset('resets at 16:35 (UTC)', '2026-12-05T10:00:00Z')).toBe('2026-12-05T16:35:00.000Z');
    expect(reset('resets at 12am (UTC)', '2026-12-05T10:00:00Z')).toBe('2026-12-06T00:00:00.000Z');
    expect(reset('resets at 12pm (UTC)', '2026-12-05T10:00:00Z')).toBe('2026-12-05T12:00:00.000Z');
  });

  it('an offset zone', () => {
    expect(reset('resets at 4:35pm (UTC+2)', '2026-12-05T10:00:00Z')).toBe('2026-12-05T14:35:00.000Z');
    expect(reset('resets at 4:35pm GMT-05:00', '2026-12-05T10:00:00Z')).toBe('2026-12-05T21:35:00.000Z');
  });

  it('a zone Intl does not know counts as the default zone (UTC)', () => {
    expect(reset('resets at 4:35pm (Mars/Olympus_Mons)', '2026-12-05T10:00:00Z')).toBe('2026-12-05T16:35:00.000Z');
  });

  it("Claude Code's old Unix-time form", () => {
    expect(reset('Claude AI usage limit reached|1796487815', '2026-12-05T15:23:40Z')).toBe(new Date(1796487815 * 1000).toISOString());
  });
});

describe('a reset time as Codex prints it: local time, no zone', () => {
  it('"try again at 4:23 PM" is read in UTC unless told the host\'s zone', () => {
    const text = 'You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 4:23 PM.';
    expect(reset(text, '2026-12-05T15:23:40Z')).toBe('2026-12-05T16:23:00.000Z');
    // 07:23 in Los Angeles: 4:23 PM there is 00:23 UTC the next day.
    expect(reset(text, '2026-12-05T15:23:40Z', 'America/Los_Angeles')).toBe('2026-12-06T00:23:00.000Z');
  });

  it('a time of day already past is tomorrow, unless it passed within the minute it was printed to', () => {
    expect(reset('try again at 3:35 AM.', '2026-12-05T15:23:40Z')).toBe('2026-12-06T03:35:00.000Z');
    // Codex floors 16:23:35 to "4:23 PM": read at 16:23:50, that is the reset just passed, not tomorrow's.
    expect(reset('try again at 4:23 PM.', '2026-12-05T16:23:50Z')).toBe('2026-12-05T16:23:00.000Z');
  });

  it('"try again at Dec 8 4:23 PM" and "Dec 8, 2027 4:23 PM" (a date when not today)', () => {
    expect(reset('or try again at Dec 8 4:23 PM.', '2026-12-05T15:23:40Z')).toBe('2026-12-08T16:23:00.000Z');
    expect(reset('or try again at Dec 8, 2027 4:23 PM.', '2026-12-05T15:23:40Z')).toBe('2027-12-08T16:23:00.000Z');
  });
});

describe('relative waits, instants and Retry-After', () => {
  const now = '2026-12-05T12:00:00Z';

  it('"Try again in 2 hours 5 minutes", "retry in 30s", "try again in 1.5s"', () => {
    expect(reset('Try again in 2 hours 5 minutes.', now)).toBe('2026-12-05T14:05:00.000Z');
    expect(reset('Rate limited; retry in 30s', now)).toBe('2026-12-05T12:00:30.000Z');
    expect(reset('Please try again in 1.5s.', now)).toBe('2026-12-05T12:00:01.500Z');
    expect(reset('resets in 1h 20m', now)).toBe('2026-12-05T13:20:00.000Z');
  });

  it('an ISO instant, with Z or an offset', () => {
    expect(reset('limit resets_at 2026-12-05T16:00:00Z', now)).toBe('2026-12-05T16:00:00.000Z');
    expect(reset('available again at 2026-12-05T16:00:00+01:00', now)).toBe('2026-12-05T15:00:00.000Z');
  });

  it('retry-after in seconds or as an HTTP date', () => {
    expect(reset('retry-after: 120', now)).toBe('2026-12-05T12:02:00.000Z');
    expect(reset('Retry-After: Sat, 05 Dec 2026 16:00:00 GMT', now)).toBe('2026-12-05T16:00:00.000Z');
  });
});

describe('text that names no reset', () => {
  it.each([
    'API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.',
    'exceeded retry limit, last status: 429 Too Many Requests, request id: req_1',
    'resets 3 times a day',
    'resets at 13pm (UTC)',
    'The run took 4:35 minutes',
    '',
  ])('%j → null', (text) => {
    expect(reset(text, '2026-12-05T12:00:00Z')).toBeNull();
  });
});

describe('times that are not resets', () => {
  it("a log line's own ISO timestamp is not a reset time", () => {
    expect(reset('2026-12-05T15:23:35.123Z ERROR codex_core::client: usage limit reached', '2026-12-05T15:24:00Z')).toBeNull();
  });
});
