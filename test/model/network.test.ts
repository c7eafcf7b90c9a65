import { describe, expect, it } from 'vitest';
import { buildAutoencoder, forwardBatch, lossAndGradients, zeroGradients } from '../../src/model/network.js';
import { Rng } from '../../src/rng.js';

describe('lossAndGradients', () => {
  // Central differences on every parameter of a small network: the analytic gradient must agree.
  it('matches a numerical gradient for every weight and bias', () => {
    const rng = new Rng(11);
    const width = 5;
    const batch = 4;
    const layers = buildAutoencoder(width, [4], 2, rng);
    for (const l of layers) for (let i = 0; i < l.bias.length; i++) l.bias[i] = rng.normal(0, 0.3);
    const input = Float64Array.from({ length: width * batch }, () => rng.normal(0, 1));
    const weights = Float64Array.from([0.3, 0.2, 0.2, 0.2, 0.1]);
    const grads = zeroGradients(layers);
    lossAndGradients(layers, input, batch, weights, grads);

    const eps = 1e-6;
    let worst = 0;
    let checked = 0;
    layers.forEach((layer, l) => {
      for (const [param, analytic] of [
        [layer.weights, grads.weights[l]],
        [layer.bias, grads.bias[l]],
      ] as const) {
        for (let i = 0; i < param.length; i++) {
          const original = param[i] as number;
          param[i] = original + eps;
          const up = lossAndGradients(layers, input, batch, weights, zeroGradients(layers));
          param[i] = original - eps;
          const down = lossAndGradients(layers, input, batch, weights, zeroGradients(layers));
          param[i] = original;
          const numeric = (up - down) / (2 * eps);
          const a = (analytic as Float64Array)[i] as number;
          worst = Math.max(worst, Math.abs(numeric - a) / Math.max(1e-8, Math.abs(numeric) + Math.abs(a)));
          checked++;
        }
      }
    });
    expect(checked).toBe(5 * 4 + 4 + 4 * 2 + 2 + 2 * 4 + 4 + 4 * 5 + 5);
    expect(worst).toBeLessThan(1e-6);
  });

  it('returns the weighted mean squared error of the reconstruction', () => {
    const layers = buildAutoencoder(2, [], 1, new Rng(1));
    const input = Float64Array.from([1, 2, -1, 0.5]);
    const out = forwardBatch(layers, input, 2).at(-1) as Float64Array;
    const weights = Float64Array.from([0.75, 0.25]);
    let expected = 0;
    for (let n = 0; n < 2; n++) {
      for (let j = 0; j < 2; j++)
        expected += (weights[j] as number) * ((out[n * 2 + j] as number) - (input[n * 2 + j] as number)) ** 2;
    }
    expect(lossAndGradients(layers, input, 2, weights, zeroGradients(layers))).toBeCloseTo(expected / 2, 12);
  });

  it('builds width → hidden → bottleneck → hidden → width with tanh only in hidden layers', () => {
    const layers = buildAutoencoder(10, [16, 8], 3, new Rng(2));
    expect(layers.map((l) => [l.inputs, l.outputs, l.activation])).toEqual([
      [10, 16, 'tanh'],
      [16, 8, 'tanh'],
      [8, 3, 'linear'],
      [3, 8, 'tanh'],
      [8, 16, 'tanh'],
      [16, 10, 'linear'],
    ]);
  });
});
