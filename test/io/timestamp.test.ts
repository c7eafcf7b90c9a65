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
