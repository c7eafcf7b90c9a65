import { CellwatchError } from '../errors.js';

// ISO 8601 date-time: a date, 'T' or a space, a time with optional fraction, and an optional zone.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parse an ISO 8601 timestamp into epoch milliseconds. A value without a zone is UTC, never local time:
 * a site controller's zone setting must not change which hour a KPI belongs to.
 */
export function parseTimestampMs(text: string, line?: number): number {
  const m = ISO_8601.exec(text.trim());
  const fail = (why: string) => new CellwatchError('INPUT_TIMESTAMP', `${why}: "${text}"`, { line, value: text });
  if (!m) throw fail('not an ISO 8601 timestamp');
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map((v) => Number(v));
  // Date.UTC would roll month 13 into next year and second 99 into the next minute: check the fields first.
  const daysInMonth = new Date(Date.UTC(2000, month as number, 0)).getUTCDate();
  const leapFeb = month === 2 && day === 29 && isLeap(year as number);
  const dayOk = (day as number) >= 1 && ((day as number) <= daysInMonth - (month === 2 ? 1 : 0) || leapFeb);
  if ((month as number) < 1 || (month as number) > 12 || !dayOk) throw fail('invalid date');
  if ((hour as number) > 23 || (minute as number) > 59 || (second as number) > 59) throw fail('invalid time');
  const offsetMin = zoneOffsetMinutes(zone);
  if (offsetMin === undefined) throw fail('invalid time zone offset');
  const date = new Date(Date.UTC(2000, (month as number) - 1, day, hour, minute, second));
  date.setUTCFullYear(year as number); // Date.UTC maps years 0-99 to 1900-1999
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  return date.getTime() + ms - offsetMin * 60_000;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Offset east of UTC in minutes, or undefined when out of range (beyond ±14:00, or minutes over 59). */
function zoneOffsetMinutes(zone: string): number | undefined {
  if (zone.toUpperCase() === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hours > 14 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
