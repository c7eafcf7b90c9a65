/**
 * Times as performance files write them. 3GPP files carry ISO 8601 times with a UTC offset, but the offset
 * comes in several spellings (`+01:00`, `+0100`, `_0100` where a `+` was mangled on the way, `Z`); VES
 * headers give epochs in fields named "Microsec" that often hold milliseconds, and offsets as `UTC+05.30`.
 * Everything here returns UTC milliseconds (or minutes east of UTC), or undefined when the text is not a
 * time: callers decide what a missing time means.
 */

const MS_PER_MINUTE = 60_000;

// date, 'T' (or a space), time with optional fraction, then the offset in any of its spellings.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|UTC|[+\-_]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO 8601 date-time in UTC milliseconds. A time without an offset is read as UTC: 3GPP requires the
 * offset, and the files that leave it out in practice come from UTC-clocked collectors.
 */
export function parsePmTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second = '0', fraction = '0', zone] = m;
  const offsetMinutes = zone === undefined ? 0 : parseUtcOffset(zone);
  if (offsetMinutes === undefined) return undefined;

  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(+year!, +month! - 1, +day!, +hour!, +minute!, +second, ms);
  // Date.UTC rolls 2023-02-30 over into March: a date that does not round-trip is not a date.
  const check = new Date(local);
  if (
    check.getUTCMonth() !== +month! - 1 ||
    check.getUTCDate() !== +day! ||
    +hour! > 23 ||
    +minute! > 59 ||
    +second > 60
  ) {
    return undefined;
  }
  return local - offsetMinutes * MS_PER_MINUTE;
}

const OFFSET = /^(?:UTC|GMT)?\s*(?:(Z)|([+\-_])(\d{1,2})(?:[:.]?(\d{2}))?)?$/i;

/**
 * A UTC offset in minutes east of UTC: `Z`, `UTC`, `+01:00`, `+0100`, `+01`, `_0100` (read as +),
 * `UTC+05.30`, `UTC-03:00`. Offsets beyond ±14:00 are not offsets.
 */
export function parseUtcOffset(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const m = OFFSET.exec(trimmed);
  if (!m) return undefined;
  const [, zulu, sign, hours, minutes = '0'] = m;
  if (zulu !== undefined || sign === undefined) return 0;
  const total = Number(hours) * 60 + Number(minutes);
  if (Number(minutes) >= 60 || total > 14 * 60) return undefined;
  return sign === '-' ? -total : total;
}

const DURATION = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/**
 * An ISO 8601 duration (`PT900S`, `PT15M`, `PT1H`, `P1D`) in seconds. Years and months have no fixed length
 * and never appear as granularity periods, so they are not durations here; neither is zero.
 */
export function parseDurationS(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim().toUpperCase().endsWith('T')) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = m;
  const total = Number(days) * 86_400 + Number(hours) * 3_600 + Number(minutes) * 60 + Number(seconds);
  return total > 0 && Number.isFinite(total) ? total : undefined;
}

// Epochs in seconds, milliseconds, microseconds or nanoseconds since 1970, told apart by size: any date
// between 1973 and 5138 has a different number of digits in each unit.
const EPOCH_SCALES: ReadonlyArray<[limit: number, toMs: number]> = [
  [1e11, 1e3],
  [1e14, 1],
  [1e17, 1e-3],
  [1e20, 1e-6],
];

/**
 * An epoch number (or numeric string) in UTC milliseconds, whatever its unit. VES names its fields
 * `startEpochMicrosec`, yet collectors fill them with milliseconds as often as microseconds.
 */
export function epochToMs(value: number | string): number | undefined {
  const n = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0) return undefined;
  for (const [limit, toMs] of EPOCH_SCALES) if (n < limit) return Math.round(n * toMs);
  return undefined;
}

// TS 32.432 file names: <type><date>.<time><offset>-[<date>.]<time><offset>[_<rest>], e.g.
// A20000626.2315+0200-2330+0200_NodeBId; collectors drop the '.', the offsets, or write '_' for '+'.
const FILE_NAME = /([ABCD])(\d{8})\.?(\d{4})([+\-_]\d{4})?-(?:(\d{8})\.?)?(\d{4})([+\-_]\d{4})?/;

/**
 * The period a 3GPP file name states, as a fallback for content without usable times. Without an offset
 * the name is read as UTC; an end time before the begin time crosses midnight.
 */
export function periodFromFileName(name: string): { beginMs: number; endMs: number } | undefined {
  const m = FILE_NAME.exec(name);
  if (!m) return undefined;
  const [, , beginDate, beginTime, beginZone, endDate, endTime, endZone] = m;
  const beginMs = nameTime(beginDate!, beginTime!, beginZone);
  let endMs = nameTime(endDate ?? beginDate!, endTime!, endZone ?? beginZone);
  if (beginMs === undefined || endMs === undefined) return undefined;
  if (endDate === undefined && endMs <= beginMs) endMs += 86_400_000;
  return endMs > beginMs ? { beginMs, endMs } : undefined;
}

function nameTime(date: string, time: string, zone: string | undefined): number | undefined {
  const iso = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${time.slice(0, 2)}:${time.slice(2, 4)}`;
  return parsePmTime(`${iso}${zone ?? 'Z'}`);
}
