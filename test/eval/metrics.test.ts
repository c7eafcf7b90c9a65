import { describe, expect, it } from 'vitest';
import { confusionAt, precisionRecall, rocAuc } from '../../src/eval/metrics.js';
import { percentile } from '../../src/model/calibrate.js';

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one and 0.5 when every score ties', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5);
  });

  it('counts pairs: 5 of 6 positive-negative pairs ordered right gives 5/6', () => {
    // positives 0.35, 0.8; negatives 0.1, 0.4, 0.3 → pairs won: 0.35>{0.1,0.3}, 0.8>{all} = 5 of 6.
    expect(rocAuc([0.1, 0.35, 0.4, 0.3, 0.8], [0, 1, 0, 0, 1])).toBeCloseTo(5 / 6, 12);
  });

  it('is undefined (NaN) with a single class', () => {
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
  });
});

describe('precisionRecall', () => {
  it('gives average precision and the best F1 with its threshold', () => {
    // Sorted: 0.9 (1), 0.8 (0), 0.7 (1), 0.1 (0). AP = 1·0.5 + (2/3)·0.5.
    const r = precisionRecall([0.1, 0.7, 0.8, 0.9], [0, 1, 0, 1]);
    expect(r.prAuc).toBeCloseTo(0.5 + (2 / 3) * 0.5, 12);
    expect(r.bestF1).toBeCloseTo(0.8, 12);
    expect(r.bestF1Threshold).toBe(0.7);
    expect([r.bestF1Precision, r.bestF1Recall]).toEqual([2 / 3, 1]);
  });
});

describe('confusionAt', () => {
  it('flags scores strictly above the threshold', () => {
    expect(confusionAt([0.5, 1, 2], [0, 1, 1], 1)).toEqual({ precision: 1, recall: 0.5, f1: 2 / 3, flagged: 1 });
  });
});

describe('percentile', () => {
  it('interpolates linearly between ranks', () => {
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 12);
    expect(percentile([4, 1, 3, 2], 0)).toBe(1);
  });
});
