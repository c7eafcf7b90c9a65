import { describe, expect, it } from 'vitest';
import { scoresFromErrors, scoreWeights } from '../../src/model/calibrate.js';
import type { Layout } from '../../src/model/contract.js';

const LAYOUT: Layout = {
  kpis: ['a', 'b'],
  window: 2,
  frozenShare: true,
  timeFeatures: ['hour_of_day'],
  utcOffsetMinutes: 0,
  maxFillRows: 0,
};
// Columns: a, b, a@t-1, b@t-1, frozen_share, hour_sin, hour_cos.

describe('scoreWeights', () => {
  it('uniform: the plain mean over the current KPIs and the frozen share, nothing for lags or calendar', () => {
    expect(scoreWeights(LAYOUT, new Float64Array(), 'uniform')).toEqual([1 / 3, 1 / 3, 0, 0, 1 / 3, 0, 0]);
  });

  it('inverse_error: each column scaled by one over its mean validation error', () => {
    // Two validation rows; column a errs 0.5 on average, b 2, frozen share 1.
    const errors = Float64Array.from([0.4, 1, 9, 9, 1, 9, 9, 0.6, 3, 9, 9, 1, 9, 9]);
    const w = scoreWeights(LAYOUT, errors, 'inverse_error');
    expect(w[0]).toBeCloseTo(1 / 3 / 0.5, 12);
    expect(w[1]).toBeCloseTo(1 / 3 / 2, 12);
    expect(w[4]).toBeCloseTo(1 / 3, 12);
    expect([w[2], w[3], w[5], w[6]]).toEqual([0, 0, 0, 0]);
  });

  it('lag decay gives the earlier row half the weight of the current one', () => {
    const w = scoreWeights(LAYOUT, new Float64Array(), 'uniform', 0.5);
    const total = 2 + 2 * 0.5 + 1;
    expect(w.map((x) => x * total)).toEqual([1, 1, 0.5, 0.5, 1, 0, 0]);
  });
});

describe('scoresFromErrors', () => {
  it('sums weighted squared errors per row', () => {
    const scores = scoresFromErrors(Float64Array.from([1, 2, 3, 4]), [0.5, 0.25]);
    expect(Array.from(scores)).toEqual([1, 2.5]);
  });
});
