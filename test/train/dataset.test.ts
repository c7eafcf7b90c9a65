import { describe, expect, it } from 'vitest';
import type { KpiRow, TableSchema } from '../../src/io/table.js';
import { computeNormalization, normalisationColumns } from '../../src/train/dataset.js';

const SCHEMA: TableSchema = { timestampColumn: 'timestamp', entityColumns: ['site', 'sector'], features: ['x'] };
const HOUR = 3_600_000;

function rows(): KpiRow[] {
  const out: KpiRow[] = [];
  // Two days; sector 1 reads 10 + hour, sector 2 reads 100; sector 2 misses hour 5 both days.
  for (let t = 0; t < 48; t++) {
    const hour = t % 24;
    out.push({ line: 0, timestampMs: t * HOUR, entity: ['S', '1'], values: Float64Array.of(10 + hour) });
    out.push({ line: 0, timestampMs: t * HOUR, entity: ['S', '2'], values: Float64Array.of(hour === 5 ? NaN : 100) });
  }
  return out;
}

describe('computeNormalization', () => {
  it('keys statistics by entity and local hour and drops buckets with too few readings', () => {
    const n = computeNormalization(rows(), SCHEMA, {
      keyColumns: ['site', 'sector'],
      seasonality: 'hour_of_day',
      utcOffsetMinutes: 60,
      minRowsPerBucket: 2,
    });
    expect(n.seasonality).toBe('hour_of_day');
    expect(n.entities['S/1@1']).toEqual({ mean: [10], std: [0], count: [2] }); // 00:00 UTC is 01:00 local
    expect(n.entities['S/2@6']).toBeUndefined(); // 05:00 UTC, never read
    expect(Object.keys(n.entities)).toHaveLength(24 + 23);
    expect(n.fallbackByHour).toHaveLength(24);
    expect(n.fallbackByHour[1]).toEqual({
      mean: [55],
      std: [Number((45 * Math.sqrt(4 / 3)).toPrecision(5))],
      count: [4],
    });
  });

  it('keys by entity only without seasonality, and globally with no key columns', () => {
    const perEntity = computeNormalization(rows(), SCHEMA, {
      keyColumns: ['site', 'sector'],
      seasonality: 'none',
      utcOffsetMinutes: 0,
      minRowsPerBucket: 2,
    });
    expect(Object.keys(perEntity.entities)).toEqual(['S/1', 'S/2']);
    expect(perEntity.entities['S/1']?.mean).toEqual([21.5]);
    expect(perEntity.fallbackByHour).toEqual([]);
    const global = computeNormalization(rows(), SCHEMA, {
      keyColumns: [],
      seasonality: 'none',
      utcOffsetMinutes: 0,
      minRowsPerBucket: 2,
    });
    expect(global.mode).toBe('global');
    expect(global.entities).toEqual({});
    expect(global.fallback.count).toEqual([94]);
  });
});

describe('normalisationColumns', () => {
  it('keys on the entity columns up to the chosen one', () => {
    expect(normalisationColumns(SCHEMA, 'sector')).toEqual(['site', 'sector']);
    expect(normalisationColumns(SCHEMA, 'site')).toEqual(['site']);
    expect(normalisationColumns(SCHEMA, undefined)).toEqual(['site', 'sector']);
    expect(() => normalisationColumns(SCHEMA, 'cell')).toThrow(/not among site, sector/);
  });
});
