import { describe, expect, it } from 'vitest';
import {
  epochToMs,
  parseDurationS,
  parsePmTime,
  parseUtcOffset,
  periodFromFileName,
} from '../../src/telecom/pm-time.js';

describe('parsePmTime', () => {
  it('reads every offset spelling 3GPP files use into the same UTC instant', () => {
    const expected = Date.UTC(2018, 9, 2, 10, 15);
    expect(parsePmTime('2018-10-02T12:15:00+02:00')).toBe(expected);
    expect(parsePmTime('2018-10-02T12:15:00+0200')).toBe(expected);
    expect(parsePmTime('2018-10-02T12:15:00+02')).toBe(expected);
    expect(parsePmTime('2018-10-02T11:15:00_0100')).toBe(expected);
    expect(parsePmTime('2018-10-02T10:15:00Z')).toBe(expected);
    expect(parsePmTime('2018-10-02T10:15:00 UTC')).toBe(expected);
    expect(parsePmTime('2018-10-02T06:45:00-03:30')).toBe(expected);
  });

  it('reads a time without an offset as UTC, with or without seconds, with a T or a space', () => {
    expect(parsePmTime('2018-10-02T10:15:00')).toBe(Date.UTC(2018, 9, 2, 10, 15));
    expect(parsePmTime('2018-10-02 10:15')).toBe(Date.UTC(2018, 9, 2, 10, 15));
    expect(parsePmTime('  2018-10-02T10:15Z  ')).toBe(Date.UTC(2018, 9, 2, 10, 15));
  });

  it('keeps fractions to the millisecond, written with a dot or a comma', () => {
    expect(parsePmTime('2018-10-02T10:15:00.5Z')).toBe(Date.UTC(2018, 9, 2, 10, 15, 0, 500));
    expect(parsePmTime('2018-10-02T10:15:00,25Z')).toBe(Date.UTC(2018, 9, 2, 10, 15, 0, 250));
    expect(parsePmTime('2018-10-02T11:15:00.123456+01:00')).toBe(Date.UTC(2018, 9, 2, 10, 15, 0, 123));
  });

  it('accepts 29 February in a leap year only', () => {
    expect(parsePmTime('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parsePmTime('2023-02-29T00:00:00Z')).toBeUndefined();
  });

  it('refuses dates and times that do not exist instead of rolling them over', () => {
    expect(parsePmTime('2023-02-30T00:00:00Z')).toBeUndefined();
    expect(parsePmTime('2023-13-01T00:00:00Z')).toBeUndefined();
    expect(parsePmTime('2023-04-31T00:00:00Z')).toBeUndefined();
    expect(parsePmTime('2023-04-01T24:00:00Z')).toBeUndefined();
    expect(parsePmTime('2023-04-01T12:60:00Z')).toBeUndefined();
  });

  it('refuses offsets beyond ±14:00 and text that is not a time', () => {
    expect(parsePmTime('2018-10-02T12:15:00+15:00')).toBeUndefined();
    expect(parsePmTime('2018-10-02T12:15:00+01:60')).toBeUndefined();
    expect(parsePmTime('2018-10-02')).toBeUndefined();
    expect(parsePmTime('yesterday')).toBeUndefined();
    expect(parsePmTime('')).toBeUndefined();
  });
});

describe('parseUtcOffset', () => {
  it('reads VES and 3GPP offset spellings as minutes east of UTC', () => {
    expect(parseUtcOffset('UTC+05.30')).toBe(330);
    expect(parseUtcOffset('UTC+05:00')).toBe(300);
    expect(parseUtcOffset('UTC-03:00')).toBe(-180);
    expect(parseUtcOffset('+0100')).toBe(60);
    expect(parseUtcOffset('_0100')).toBe(60);
    expect(parseUtcOffset('-03:00')).toBe(-180);
    expect(parseUtcOffset('+01')).toBe(60);
    expect(parseUtcOffset('+14:00')).toBe(840);
  });

  it('reads Z and a bare UTC as zero', () => {
    expect(parseUtcOffset('Z')).toBe(0);
    expect(parseUtcOffset('UTC')).toBe(0);
  });

  it('refuses offsets beyond ±14:00, minutes past 59, empty text and words', () => {
    expect(parseUtcOffset('+15:00')).toBeUndefined();
    expect(parseUtcOffset('+01:60')).toBeUndefined();
    expect(parseUtcOffset('')).toBeUndefined();
    expect(parseUtcOffset('CET')).toBeUndefined();
  });
});

describe('parseDurationS', () => {
  it('reads granularity periods in seconds', () => {
    expect(parseDurationS('PT900S')).toBe(900);
    expect(parseDurationS('PT15M')).toBe(900);
    expect(parseDurationS('PT1H')).toBe(3600);
    expect(parseDurationS('P1D')).toBe(86_400);
    expect(parseDurationS('P1DT1H30M')).toBe(91_800);
    expect(parseDurationS('pt60s')).toBe(60);
    expect(parseDurationS('PT1.5S')).toBe(1.5);
  });

  it('refuses zero, years and months, an empty time part and words', () => {
    expect(parseDurationS('PT0S')).toBeUndefined();
    expect(parseDurationS('P1Y')).toBeUndefined();
    expect(parseDurationS('P1M')).toBeUndefined();
    expect(parseDurationS('PT')).toBeUndefined();
    expect(parseDurationS('P')).toBeUndefined();
    expect(parseDurationS('some duration')).toBeUndefined();
    expect(parseDurationS('900')).toBeUndefined();
  });
});

describe('epochToMs', () => {
  const ms = Date.UTC(2018, 9, 2, 10, 0);

  it('tells seconds, milliseconds, microseconds and nanoseconds apart by size', () => {
    expect(epochToMs(ms / 1000)).toBe(ms);
    expect(epochToMs(ms)).toBe(ms);
    expect(epochToMs(ms * 1000)).toBe(ms);
    expect(epochToMs(ms * 1_000_000)).toBe(ms);
  });

  it('reads numeric strings and rounds a microsecond epoch to the millisecond', () => {
    expect(epochToMs(String(ms * 1000))).toBe(ms);
    expect(epochToMs(String(ms * 1000 + 600))).toBe(ms + 1);
  });

  it('refuses zero, negatives, empty text, words and numbers beyond any unit', () => {
    expect(epochToMs(0)).toBeUndefined();
    expect(epochToMs(-5)).toBeUndefined();
    expect(epochToMs('')).toBeUndefined();
    expect(epochToMs('soon')).toBeUndefined();
    expect(epochToMs(1e21)).toBeUndefined();
  });
});

describe('periodFromFileName', () => {
  it('reads a 32.432 name with offsets and a suffix', () => {
    expect(periodFromFileName('A20181002.0000-1000-0015-1000_5G.xml')).toEqual({
      beginMs: Date.UTC(2018, 9, 2, 10, 0),
      endMs: Date.UTC(2018, 9, 2, 10, 15),
    });
    expect(periodFromFileName('A20000626.2315+0200-2330+0200_NodeBId')).toEqual({
      beginMs: Date.UTC(2000, 5, 26, 21, 15),
      endMs: Date.UTC(2000, 5, 26, 21, 30),
    });
  });

  it('reads a name without offsets as UTC', () => {
    expect(periodFromFileName('C20190328.0000-0015.xml')).toEqual({
      beginMs: Date.UTC(2019, 2, 28, 0, 0),
      endMs: Date.UTC(2019, 2, 28, 0, 15),
    });
  });

  it('finds the period inside a longer collector name', () => {
    expect(periodFromFileName('PM202007171301+020024C202007171207+0200-1215+0200_45678.xml')).toEqual({
      beginMs: Date.UTC(2020, 6, 17, 10, 7),
      endMs: Date.UTC(2020, 6, 17, 10, 15),
    });
  });

  it('reads an underscore where a + was mangled', () => {
    expect(periodFromFileName('A20181002.1200_0100-1215_0100_x.xml')).toEqual({
      beginMs: Date.UTC(2018, 9, 2, 11, 0),
      endMs: Date.UTC(2018, 9, 2, 11, 15),
    });
  });

  it('moves an end before the begin to the next day, and reads an explicit end date', () => {
    const expected = { beginMs: Date.UTC(2018, 9, 2, 23, 45), endMs: Date.UTC(2018, 9, 3, 0, 0) };
    expect(periodFromFileName('A20181002.2345+0000-0000+0000_x.xml')).toEqual(expected);
    expect(periodFromFileName('A20181002.2345-20181003.0000_x.xml')).toEqual(expected);
  });

  it('gives nothing for a name without a period', () => {
    expect(periodFromFileName('ABigFile.xml')).toBeUndefined();
    expect(periodFromFileName('A_no_measdata.xml')).toBeUndefined();
    expect(periodFromFileName('A20181302.0000-0015.xml')).toBeUndefined();
  });
});
