import { describe, expect, it } from 'vitest';
import { SummaryPeriod } from '../../src/report/summary.js';

describe('summary period', () => {
  it('counts rows, flags, skips and incidents, and gives exact percentiles for a small period', () => {
    const period = new SummaryPeriod(['a', 'b'], 1_000);
    period.addIn(12);
    period.addSkipped('warmup', 2);
    for (let i = 1; i <= 10; i++) period.addScore(i, i > 8, [i, 0]);
    period.addIncident();
    const taken = period.take(61_000);
    expect(taken).toEqual({
      periodStartMs: 1_000,
      rowsIn: 12,
      rowsScored: 10,
      rowsSkipped: { warmup: 2 },
      rowsFlagged: 2,
      incidentsOpened: 1,
      scoreP50: 5,
      scoreP95: 10,
      scoreMax: 10,
      meanErrorByKpi: { a: 5.5, b: 0 },
    });
  });

  it('starts afresh after take, with null figures when nothing was scored', () => {
    const period = new SummaryPeriod(['a'], 0);
    period.addScore(3, true, [1]);
    period.take(10);
    const empty = period.take(20);
    expect(empty).toMatchObject({ periodStartMs: 10, rowsScored: 0, scoreP50: null, scoreMax: null });
    expect(empty.meanErrorByKpi).toEqual({});
  });

  it('keeps percentiles close on a long period through its reservoir', () => {
    const period = new SummaryPeriod(['a'], 0);
    for (let i = 0; i < 100_000; i++) period.addScore(i / 100_000, false, [0]);
    const taken = period.take(1);
    expect(taken.scoreMax).toBeCloseTo(0.99999, 5);
    expect(Math.abs((taken.scoreP95 as number) - 0.95)).toBeLessThan(0.02);
    expect(Math.abs((taken.scoreP50 as number) - 0.5)).toBeLessThan(0.03);
  });
});
