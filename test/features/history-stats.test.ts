import { describe, expect, it } from 'vitest';
import { HistoryStats, workingNormalization } from '../../src/features/history-stats.js';
import { contractFor, SMALL_LAYOUT } from '../helpers.js';

const HOUR = 3_600_000;
const options = { minHistoryRows: 40, refreshRows: 10, minRowsPerBucket: 5 };

function history(rows: number, value: (i: number) => number) {
  return Array.from({ length: rows }, (_, i) => ({
    timestampMs: i * HOUR,
    values: Float64Array.from([value(i), 2 * value(i), 7]),
  }));
}

describe('per-entity statistics from buffered history', () => {
  it('turns a global model into per-entity lookups that start empty', () => {
    const model = contractFor(SMALL_LAYOUT).normalization;
    const working = workingNormalization(model, ['site', 'sector']);
    expect(working).toMatchObject({ mode: 'per_entity', entityColumns: ['site', 'sector'], entities: {} });
    expect(model.mode).toBe('global');
  });

  it('keeps the model statistics until the entity has minHistoryRows, then writes its own', () => {
    const working = workingNormalization(contractFor(SMALL_LAYOUT).normalization, ['site', 'sector']);
    const stats = new HistoryStats(working, ['site', 'sector'], ['a', 'b', 'c'], 0, options);
    expect(
      stats.refresh(
        ['S1', '2'],
        history(39, (i) => i % 2),
      ),
    ).toBe(false);
    expect(working.entities).toEqual({});

    expect(
      stats.refresh(
        ['S1', '2'],
        history(40, (i) => i % 2),
      ),
    ).toBe(true);
    const own = working.entities['S1/2'];
    expect(own?.mean).toEqual([0.5, 1, 7]);
    expect(own?.std[0]).toBeCloseTo(0.50637, 4);
    expect(own?.std[2]).toBe(0);
    expect(stats.entitiesWithOwnStats).toBe(1);
  });

  it('with hourly seasonality, gives an hour its own statistics only when it has enough rows', () => {
    const normalization = { ...contractFor(SMALL_LAYOUT).normalization, seasonality: 'hour_of_day' as const };
    const working = workingNormalization(normalization, ['site']);
    const stats = new HistoryStats(working, ['site'], ['a', 'b', 'c'], 0, options);
    stats.refresh(
      ['S1'],
      history(24 * 5 + 3, (i) => i % 24),
    );
    expect(Object.keys(working.entities).length).toBe(24);
    expect(working.entities['S1@13']?.mean[0]).toBe(13);
    stats.refresh(
      ['S2'],
      history(24 * 4 + 3, (i) => i % 24),
    );
    expect(
      Object.keys(working.entities)
        .filter((k) => k.startsWith('S2@'))
        .sort(),
    ).toEqual(['S2@0', 'S2@1', 'S2@2']);
  });

  it('is due on the first row of an entity and then every refreshRows rows', () => {
    const working = workingNormalization(contractFor(SMALL_LAYOUT).normalization, ['site']);
    const stats = new HistoryStats(working, ['site'], ['a', 'b', 'c'], 0, options);
    const due: number[] = [];
    for (let i = 0; i < 25; i++) {
      if (stats.due('S1')) {
        due.push(i);
        stats.refresh(['S1'], []);
      }
    }
    expect(due).toEqual([0, 10, 20]);
  });
});
