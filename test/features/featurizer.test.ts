import { describe, expect, it } from 'vitest';
import { Featurizer } from '../../src/features/featurizer.js';
import { StatsAccumulator, zScore } from '../../src/features/stats.js';
import type { KpiRow } from '../../src/io/table.js';
import type { Layout, Normalization } from '../../src/model/contract.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC

function row(hour: number, values: number[], entity = ['S1', '1']): KpiRow {
  return { line: hour + 2, timestampMs: T0 + hour * HOUR, entity, values: Float64Array.from(values) };
}

const NORM: Normalization = {
  mode: 'per_entity',
  entityColumns: ['site', 'sector'],
  seasonality: 'none',
  fallback: { mean: [0, 0], std: [1, 1], count: [9, 9] },
  fallbackByHour: [],
  entities: { 'S1/1': { mean: [10, 100], std: [2, 10], count: [9, 9] } },
};

function layout(overrides: Partial<Layout> = {}): Layout {
  return {
    kpis: ['a', 'b'],
    window: 1,
    frozenShare: false,
    timeFeatures: [],
    utcOffsetMinutes: 0,
    maxFillRows: 2,
    ...overrides,
  };
}

describe('Featurizer', () => {
  it('z-scores with the entity statistics and falls back to the fleet statistics for an unknown entity', () => {
    const f = new Featurizer(layout(), NORM, ['site', 'sector']);
    const known = f.push(row(0, [12, 90]));
    const unknown = f.push(row(0, [12, 90], ['S9', '4']));
    expect(known.status === 'ok' && Array.from(known.vector)).toEqual([1, -1]);
    expect(unknown.status === 'ok' && Array.from(unknown.vector)).toEqual([12, 90]);
  });

  it('forward-fills a gap up to maxFillRows, then calls the row incomplete', () => {
    const f = new Featurizer(layout({ maxFillRows: 2 }), NORM, ['site', 'sector']);
    const statuses = [
      f.push(row(0, [10, 100])),
      f.push(row(1, [Number.NaN, 110])),
      f.push(row(2, [Number.NaN, 120])),
      f.push(row(3, [Number.NaN, 130])),
      f.push(row(4, [14, 140])),
    ];
    expect(statuses.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'incomplete', 'ok']);
    expect(Array.from(statuses[2]?.filled ?? [])).toEqual([10, 120]);
    expect(Number.isNaN(statuses[3]?.filled[0])).toBe(true);
  });

  it('never fills a KPI that was never observed', () => {
    const f = new Featurizer(layout(), NORM, ['site', 'sector']);
    expect(f.push(row(0, [Number.NaN, 100])).status).toBe('incomplete');
  });

  it('stacks the window with the current row first and waits for it to fill', () => {
    const f = new Featurizer(layout({ window: 3 }), NORM, ['site', 'sector']);
    const results = [0, 1, 2, 3].map((h) => f.push(row(h, [10 + 2 * h, 100])));
    expect(results.map((r) => r.status)).toEqual(['warmup', 'warmup', 'ok', 'ok']);
    const last = results[3];
    expect(last?.status === 'ok' && Array.from(last.vector)).toEqual([3, 0, 2, 0, 1, 0]);
  });

  it('keeps one window per series, so interleaved entities do not mix', () => {
    const f = new Featurizer(layout({ window: 2 }), NORM, ['site', 'sector']);
    f.push(row(0, [10, 100]));
    f.push(row(0, [50, 50], ['S2', '4']));
    const r = f.push(row(1, [12, 100]));
    expect(r.status === 'ok' && Array.from(r.vector)).toEqual([1, 0, 0, 0]);
  });

  it('refuses a row that is not newer than the last one of its series', () => {
    const f = new Featurizer(layout(), NORM, ['site', 'sector']);
    f.push(row(5, [10, 100]));
    expect(f.push(row(5, [10, 100])).status).toBe('out_of_order');
    expect(f.push(row(4, [10, 100])).status).toBe('out_of_order');
  });

  it('adds the share of readings that repeat the previous reading exactly', () => {
    const f = new Featurizer(layout({ frozenShare: true }), NORM, ['site', 'sector']);
    f.push(row(0, [10, 100]));
    const half = f.push(row(1, [10, 101]));
    const all = f.push(row(2, [10, 101]));
    const afterGap = f.push(row(3, [Number.NaN, 101]));
    expect(half.status === 'ok' && half.vector[2]).toBe(0.5);
    expect(all.status === 'ok' && all.vector[2]).toBe(1);
    // A filled value is not a reading: only b is comparable, and it repeats.
    expect(afterGap.status === 'ok' && afterGap.vector[2]).toBe(1);
  });

  it('encodes hour of day and day of week as sine and cosine in local time', () => {
    const f = new Featurizer(layout({ timeFeatures: ['hour_of_day', 'day_of_week'], utcOffsetMinutes: 360 }), NORM, [
      'site',
      'sector',
    ]);
    const r = f.push(row(0, [10, 100])); // 00:00 UTC Monday = 06:00 local Monday
    expect(r.status).toBe('ok');
    const v = r.status === 'ok' ? Array.from(r.vector) : [];
    expect(v[2]).toBeCloseTo(1, 6); // sin(2π · 6/24)
    expect(v[3]).toBeCloseTo(0, 6);
    expect(v[4]).toBeCloseTo(Math.sin((2 * Math.PI * 0.25) / 7), 6);
  });
});

describe('StatsAccumulator', () => {
  it('skips missing readings and gives a constant KPI zero spread without dividing by zero', () => {
    const acc = new StatsAccumulator(2);
    for (const v of [
      [1, 5],
      [2, 5],
      [Number.NaN, 5],
      [3, 5],
    ]) {
      acc.add(v);
    }
    const stats = acc.result();
    expect(stats.mean).toEqual([2, 5]);
    expect(stats.std[0]).toBeCloseTo(1, 12);
    expect(stats.std[1]).toBe(0);
    expect(stats.count).toEqual([3, 4]);
    expect(zScore(5, 5, 0)).toBe(0);
    expect(zScore(7, 5, 0)).toBe(2);
  });
});

describe('Featurizer with hourly seasonality', () => {
  const hourly: Normalization = {
    ...NORM,
    seasonality: 'hour_of_day',
    fallbackByHour: Array.from({ length: 24 }, (_, h) => ({ mean: [h, 0], std: [1, 1], count: [9, 9] })),
    entities: { 'S1/1@15': { mean: [100, 100], std: [10, 10], count: [9, 9] } },
  };

  it('compares a reading with its entity usual level at that local hour', () => {
    const f = new Featurizer(layout(), hourly, ['site', 'sector']);
    const at15 = f.push(row(15, [80, 100]));
    expect(at15.status === 'ok' && Array.from(at15.vector)).toEqual([-2, 0]);
  });

  it('falls back to the fleet statistics of the hour for a bucket the model does not hold', () => {
    const f = new Featurizer(layout({ utcOffsetMinutes: 120 }), hourly, ['site', 'sector']);
    const at3local = f.push(row(1, [5, 1])); // 01:00 UTC is 03:00 local
    expect(at3local.status === 'ok' && Array.from(at3local.vector)).toEqual([2, 1]);
  });
});
