import { describe, expect, it } from 'vitest';
import { fitAutoencoder, type FitOptions } from '../../src/model/trainer.js';
import { Rng } from '../../src/rng.js';

/** Rows on a 2-D plane inside 4-D space plus a little noise: an autoencoder with 2 units can learn it. */
function planeData(rows: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(rows * 4);
  for (let n = 0; n < rows; n++) {
    const u = rng.normal();
    const v = rng.normal();
    data.set([u, v, 0.5 * u - v + rng.normal(0, 0.05), u + 0.5 * v + rng.normal(0, 0.05)], n * 4);
  }
  return data;
}

const OPTIONS: FitOptions = {
  hidden: [8],
  bottleneck: 2,
  learningRate: 0.01,
  batchSize: 32,
  maxEpochs: 40,
  patience: 5,
  validationFraction: 0.2,
  seed: 5,
  lossWeights: Float64Array.from([1, 1, 1, 1]),
};

describe('fitAutoencoder', () => {
  it('learns structured data: validation loss falls well below the variance it started from', () => {
    const result = fitAutoencoder(planeData(800, 1), 4, OPTIONS);
    const first = result.history[0]?.validationLoss ?? Number.NaN;
    expect(result.validationLoss).toBeLessThan(0.1);
    expect(result.validationLoss).toBeLessThan(first / 3);
    expect(result.validationIndex.length).toBe(160);
    expect(result.trainRows).toBe(640);
  });

  it('is deterministic for a seed and differs for another seed', () => {
    const data = planeData(300, 2);
    const a = fitAutoencoder(data, 4, { ...OPTIONS, maxEpochs: 3 });
    const b = fitAutoencoder(data, 4, { ...OPTIONS, maxEpochs: 3 });
    const c = fitAutoencoder(data, 4, { ...OPTIONS, maxEpochs: 3, seed: 6 });
    expect(Array.from(a.layers[0]?.weights ?? [])).toEqual(Array.from(b.layers[0]?.weights ?? []));
    expect(Array.from(a.layers[0]?.weights ?? [])).not.toEqual(Array.from(c.layers[0]?.weights ?? []));
  });

  it('stops after `patience` epochs without improvement and keeps the best epoch', () => {
    // Pure noise cannot be compressed: validation loss stalls early and training stops before maxEpochs.
    const rng = new Rng(3);
    const noise = Float32Array.from({ length: 400 * 4 }, () => rng.normal());
    const result = fitAutoencoder(noise, 4, { ...OPTIONS, bottleneck: 1, maxEpochs: 200, patience: 3 });
    expect(result.epochs).toBeLessThan(200);
    expect(result.epochs - result.bestEpoch).toBe(3);
    const best = result.history[result.bestEpoch - 1];
    expect(best?.validationLoss).toBe(result.validationLoss);
    expect(Math.min(...result.history.map((h) => h.validationLoss))).toBe(result.validationLoss);
  });

  it('refuses data with fewer than two rows', () => {
    expect(() => fitAutoencoder(new Float32Array(4), 4, OPTIONS)).toThrow(/at least 2/);
  });
});
