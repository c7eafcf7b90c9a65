import { describe, expect, it } from 'vitest';
import { isCellwatchError } from '../../src/errors.js';
import { formatTimestamp, parseTimestampMs } from '../../src/io/timestamp.js';

describe('parseTimestampMs', () => {
  it('reads a UTC timestamp with Z', () => {
    expect(parseTimestampMs('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
  });

  it('treats a timestamp without a zone as UTC, whatever the process time zone', () => {
    expect(parseTimestampMs('2026-03-01T12:00:00')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseTimestampMs('2026-03-01 12:00')).toBe(Date.UTC(2026, 2, 1, 12));
  });

  it('applies offsets written with and without a colon', () => {
    expect(parseTimestampMs('2026-03-01T13:00:00+01:00')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseTimestampMs('2026-03-01T06:30:00-0530')).toBe(Date.UTC(2026, 2, 1, 12));
  });

  it('keeps fractional seconds', () => {
    expect(parseTimestampMs('2026-03-01T12:00:00.250Z')).toBe(Date.UTC(2026, 2, 1, 12, 0, 0, 250));
  });

  it('rejects text that is not a timestamp with INPUT_TIMESTAMP and the line', () => {
    try {
      parseTimestampMs('yesterday', 7);
      expect.unreachable();
    } catch (err) {
      expect(isCellwatchError(err, 'INPUT_TIMESTAMP')).toBe(true);
      expect((err as { details: { line: number } }).details.line).toBe(7);
    }
  });

  it('rejects an impossible date', () => {
    expect(() => parseTimestampMs('2026-02-30T00:00:00Z')).toThrow(/invalid date/);
  });

  it('formats back to ISO 8601 without milliseconds when they are zero', () => {
    expect(formatTimestamp(Date.UTC(2026, 2, 1, 12))).toBe('2026-03-01T12:00:00Z');
  });
});

describe('parseTimestampMs field checks', () => {
  it.each([
    '2026-13-10T03:00:00Z',
    '2026-00-10',
    '2026-04-31T00:00:00Z',
    '2025-02-29T00:00:00Z',
    '2026-01-10T03:00:99Z',
    '2026-01-10T24:59:00Z',
    '2026-01-10T03:60:00Z',
    '2026-01-10T03:00:00+99:99',
  ])('refuses %s instead of rolling it over', (text) => {
    expect(() => parseTimestampMs(text)).toThrow(expect.objectContaining({ code: 'INPUT_TIMESTAMP' }) as Error);
  });

  it('keeps leap days and years before 100 as written', () => {
    expect(parseTimestampMs('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(new Date(parseTimestampMs('0050-01-01T00:00:00Z')).getUTCFullYear()).toBe(50);
  });
});
