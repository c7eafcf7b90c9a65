import type { Rng } from '../rng.js';

export type Activation = 'tanh' | 'linear';

/** A fully connected layer; weights are row-major [outputs × inputs], as ONNX Gemm takes them with transB. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float64Array;
  bias: Float64Array;
  activation: Activation;
}

/**
 * A dense autoencoder: tanh hidden layers, a linear bottleneck and a linear output, so the code and the
 * reconstruction are unbounded like z-scores.
 * Sizes: width → hidden… → bottleneck → …hidden reversed → width.
 */
export function buildAutoencoder(width: number, hidden: readonly number[], bottleneck: number, rng: Rng): DenseLayer[] {
  const sizes = [width, ...hidden, bottleneck, ...[...hidden].reverse(), width];
  const layers: DenseLayer[] = [];
  for (let i = 0; i < sizes.length - 1; i++) {
    const inputs = sizes[i] as number;
    const outputs = sizes[i + 1] as number;
    const isBottleneck = i === hidden.length;
    const isOutput = i === sizes.length - 2;
    const activation: Activation = isBottleneck || isOutput ? 'linear' : 'tanh';
    // Glorot uniform initialisation keeps tanh layers out of saturation at the start.
    const limit = Math.sqrt(6 / (inputs + outputs));
    const weights = new Float64Array(inputs * outputs);
    for (let j = 0; j < weights.length; j++) weights[j] = rng.uniform(-limit, limit);
    layers.push({ inputs, outputs, weights, bias: new Float64Array(outputs), activation });
  }
  return layers;
}

/** Activations of every layer for a batch: acts[0] is the input, acts[L] the reconstruction. */
export function forwardBatch(layers: readonly DenseLayer[], input: Float64Array, batch: number): Float64Array[] {
  const acts: Float64Array[] = [input];
  let x = input;
  for (const layer of layers) {
    const { inputs, outputs, weights, bias } = layer;
    const y = new Float64Array(batch * outputs);
    // Four rows at a time: each weight is loaded once for four dot products, which is what bounds speed here.
    let n = 0;
    for (; n + 4 <= batch; n += 4) {
      const x0 = n * inputs;
      const x1 = x0 + inputs;
      const x2 = x1 + inputs;
      const x3 = x2 + inputs;
      for (let o = 0; o < outputs; o++) {
        const b = bias[o] as number;
        let s0 = b;
        let s1 = b;
        let s2 = b;
        let s3 = b;
        const wo = o * inputs;
        for (let i = 0; i < inputs; i++) {
          const w = weights[wo + i] as number;
          s0 += w * (x[x0 + i] as number);
          s1 += w * (x[x1 + i] as number);
          s2 += w * (x[x2 + i] as number);
          s3 += w * (x[x3 + i] as number);
        }
        y[n * outputs + o] = s0;
        y[(n + 1) * outputs + o] = s1;
        y[(n + 2) * outputs + o] = s2;
        y[(n + 3) * outputs + o] = s3;
      }
    }
    for (; n < batch; n++) {
      const xo = n * inputs;
      for (let o = 0; o < outputs; o++) {
        let sum = bias[o] as number;
        const wo = o * inputs;
        for (let i = 0; i < inputs; i++) sum += (weights[wo + i] as number) * (x[xo + i] as number);
        y[n * outputs + o] = sum;
      }
    }
    if (layer.activation === 'tanh') for (let j = 0; j < y.length; j++) y[j] = Math.tanh(y[j] as number);
    acts.push(y);
    x = y;
  }
  return acts;
}

export interface Gradients {
  weights: Float64Array[];
  bias: Float64Array[];
}

export function zeroGradients(layers: readonly DenseLayer[]): Gradients {
  return {
    weights: layers.map((l) => new Float64Array(l.weights.length)),
    bias: layers.map((l) => new Float64Array(l.bias.length)),
  };
}

/**
 * Weighted mean-squared reconstruction loss of a batch and its gradients:
 * loss = (1/batch) Σ_n Σ_j w_j (y_nj − x_nj)², with the column weights w summing to 1.
 * Gradients are written into grads (overwritten). Returns the loss.
 */
export function lossAndGradients(
  layers: readonly DenseLayer[],
  input: Float64Array,
  batch: number,
  columnWeights: Float64Array,
  grads: Gradients,
): number {
  const acts = forwardBatch(layers, input, batch);
  const output = acts[acts.length - 1] as Float64Array;
  const width = columnWeights.length;
  let delta = new Float64Array(batch * width);
  let loss = 0;
  for (let n = 0; n < batch; n++) {
    for (let j = 0; j < width; j++) {
      const idx = n * width + j;
      const diff = (output[idx] as number) - (input[idx] as number);
      const w = columnWeights[j] as number;
      loss += w * diff * diff;
      delta[idx] = (2 * w * diff) / batch;
    }
  }

  for (let l = layers.length - 1; l >= 0; l--) {
    const layer = layers[l] as DenseLayer;
    const { inputs, outputs, weights } = layer;
    const out = acts[l + 1] as Float64Array;
    const prev = acts[l] as Float64Array;
    // Through the activation: d tanh(z)/dz = 1 − tanh(z)².
    if (layer.activation === 'tanh') {
      for (let i = 0; i < delta.length; i++) delta[i] = (delta[i] as number) * (1 - (out[i] as number) ** 2);
    }
    const gw = grads.weights[l] as Float64Array;
    const gb = grads.bias[l] as Float64Array;
    gw.fill(0);
    gb.fill(0);
    // The first layer's input gradient is never used, so it is not computed.
    const next = l > 0 ? new Float64Array(batch * inputs) : undefined;
    // Rows are taken four at a time so each weight and gradient cell is loaded once per four rows; the sums
    // still run in row order, so the result is the same to the bit as one row at a time.
    let n = 0;
    for (; n + 4 <= batch; n += 4) {
      const p0 = n * inputs;
      const p1 = p0 + inputs;
      const p2 = p1 + inputs;
      const p3 = p2 + inputs;
      for (let o = 0; o < outputs; o++) {
        const d0 = delta[n * outputs + o] as number;
        const d1 = delta[(n + 1) * outputs + o] as number;
        const d2 = delta[(n + 2) * outputs + o] as number;
        const d3 = delta[(n + 3) * outputs + o] as number;
        gb[o] = (gb[o] as number) + d0 + d1 + d2 + d3;
        const wo = o * inputs;
        for (let i = 0; i < inputs; i++) {
          let g = gw[wo + i] as number;
          g += d0 * (prev[p0 + i] as number);
          g += d1 * (prev[p1 + i] as number);
          g += d2 * (prev[p2 + i] as number);
          g += d3 * (prev[p3 + i] as number);
          gw[wo + i] = g;
        }
        if (!next) continue;
        for (let i = 0; i < inputs; i++) {
          const w = weights[wo + i] as number;
          next[p0 + i] = (next[p0 + i] as number) + d0 * w;
          next[p1 + i] = (next[p1 + i] as number) + d1 * w;
          next[p2 + i] = (next[p2 + i] as number) + d2 * w;
          next[p3 + i] = (next[p3 + i] as number) + d3 * w;
        }
      }
    }
    for (; n < batch; n++) {
      const po = n * inputs;
      for (let o = 0; o < outputs; o++) {
        const d = delta[n * outputs + o] as number;
        gb[o] = (gb[o] as number) + d;
        const wo = o * inputs;
        for (let i = 0; i < inputs; i++) gw[wo + i] = (gw[wo + i] as number) + d * (prev[po + i] as number);
        if (!next) continue;
        for (let i = 0; i < inputs; i++) next[po + i] = (next[po + i] as number) + d * (weights[wo + i] as number);
      }
    }
    if (next) delta = next;
  }
  return loss / batch;
}
