import { CellwatchError } from '../errors.js';

// ISO 8601 date-time: a date, 'T' or a space, a time with optional fraction, and an optional zone.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parse an ISO 8601 timestamp into epoch milliseconds. A value without a zone is UTC, never local time:
 * a site controller's zone setting must not change which hour a KPI belongs to.
 */
export function parseTimestampMs(text: string, line?: number): number {
  const m = ISO_8601.exec(text.trim());
  if (!m) throw new CellwatchError('INPUT_TIMESTAMP', `not an ISO 8601 timestamp: "${text}"`, { line, value: text });
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const offsetMin = zoneOffsetMinutes(zone);
  const result = utc - offsetMin * 60_000;
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (Number.isNaN(result) || check.getUTCDate() !== Number(d) || Number(h) > 24 || Number(mi) > 59) {
    throw new CellwatchError('INPUT_TIMESTAMP', `invalid date or time: "${text}"`, { line, value: text });
  }
  return result;
}

function zoneOffsetMinutes(zone: string): number {
  if (zone.toUpperCase() === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  return sign * (hours * 60 + minutes);
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
