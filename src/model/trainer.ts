import { CellwatchError } from '../errors.js';
import { Rng } from '../rng.js';
import { Adam, ADAM_DEFAULTS } from './adam.js';
import { buildAutoencoder, forwardBatch, lossAndGradients, zeroGradients, type DenseLayer } from './network.js';

export interface FitOptions {
  hidden: number[];
  bottleneck: number;
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  validationFraction: number;
  seed: number;
  /** Loss weight per input column; normalised to sum 1. Calendar columns get 0: they are context only. */
  lossWeights: Float64Array;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  validationLoss: number;
  improved: boolean;
}

export interface FitResult {
  layers: DenseLayer[];
  epochs: number;
  bestEpoch: number;
  trainLoss: number;
  validationLoss: number;
  trainRows: number;
  /** Row indices (into the matrix) held out for validation, for threshold calibration. */
  validationIndex: Uint32Array;
  history: EpochReport[];
}

/**
 * Fit a dense autoencoder with Adam on mini-batches, stopping early when the validation loss has not
 * improved for `patience` epochs and keeping the best weights. Deterministic for a given seed.
 */
export function fitAutoencoder(
  matrix: Float32Array,
  width: number,
  options: FitOptions,
  onEpoch: (report: EpochReport) => void = () => {},
): FitResult {
  const rows = matrix.length / width;
  if (!Number.isInteger(rows) || rows < 2) {
    throw new CellwatchError('TRAIN_CONFIG', `need at least 2 complete rows to train, have ${rows}`, { rows });
  }
  const rng = new Rng(options.seed);
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  rng.shuffle(order);
  const validationRows = Math.max(1, Math.round(rows * options.validationFraction));
  const validationIndex = order.slice(0, validationRows);
  const trainIndex = order.slice(validationRows);
  if (trainIndex.length === 0) throw new CellwatchError('TRAIN_CONFIG', 'no rows left for training', { rows });

  const weightSum = options.lossWeights.reduce((a, b) => a + b, 0);
  const lossWeights = options.lossWeights.map((w) => w / weightSum);
  const layers = buildAutoencoder(width, options.hidden, options.bottleneck, rng);
  const adam = new Adam(layers, { ...ADAM_DEFAULTS, learningRate: options.learningRate });
  const grads = zeroGradients(layers);
  const batchBuffer = new Float64Array(options.batchSize * width);

  let best = { loss: Number.POSITIVE_INFINITY, epoch: 0, train: Number.NaN, layers: cloneLayers(layers) };
  const history: EpochReport[] = [];
  let sinceBest = 0;
  for (let epoch = 1; epoch <= options.maxEpochs; epoch++) {
    rng.shuffle(trainIndex);
    let lossSum = 0;
    for (let start = 0; start < trainIndex.length; start += options.batchSize) {
      const batch = Math.min(options.batchSize, trainIndex.length - start);
      for (let n = 0; n < batch; n++) {
        const row = trainIndex[start + n] as number;
        for (let j = 0; j < width; j++) batchBuffer[n * width + j] = matrix[row * width + j] as number;
      }
      const input = batch === options.batchSize ? batchBuffer : batchBuffer.subarray(0, batch * width);
      const loss = lossAndGradients(layers, input, batch, lossWeights, grads);
      if (!Number.isFinite(loss)) throw new CellwatchError('TRAIN_DIVERGED', 'training loss is not finite', { epoch });
      lossSum += loss * batch;
      adam.update(grads);
    }
    const trainLoss = lossSum / trainIndex.length;
    const validationLoss = meanWeightedError(layers, matrix, width, validationIndex, lossWeights);
    const improved = validationLoss < best.loss;
    if (improved) {
      best = { loss: validationLoss, epoch, train: trainLoss, layers: cloneLayers(layers) };
      sinceBest = 0;
    } else {
      sinceBest++;
    }
    const report = { epoch, trainLoss, validationLoss, improved };
    history.push(report);
    onEpoch(report);
    if (sinceBest >= options.patience) break;
  }
  return {
    layers: best.layers,
    epochs: history.length,
    bestEpoch: best.epoch,
    trainLoss: best.train,
    validationLoss: best.loss,
    trainRows: trainIndex.length,
    validationIndex,
    history,
  };
}

/** Reconstruct the chosen rows in chunks and return the per-row, per-column squared errors. */
export function squaredErrors(
  layers: readonly DenseLayer[],
  matrix: Float32Array,
  width: number,
  index: Uint32Array,
): Float64Array {
  const errors = new Float64Array(index.length * width);
  const chunk = 4096;
  for (let start = 0; start < index.length; start += chunk) {
    const count = Math.min(chunk, index.length - start);
    const input = new Float64Array(count * width);
    for (let n = 0; n < count; n++) {
      const row = index[start + n] as number;
      for (let j = 0; j < width; j++) input[n * width + j] = matrix[row * width + j] as number;
    }
    const acts = forwardBatch(layers, input, count);
    const out = acts[acts.length - 1] as Float64Array;
    for (let i = 0; i < count * width; i++)
      errors[start * width + i] = ((out[i] as number) - (input[i] as number)) ** 2;
  }
  return errors;
}

function meanWeightedError(
  layers: readonly DenseLayer[],
  matrix: Float32Array,
  width: number,
  index: Uint32Array,
  weights: Float64Array,
): number {
  const errors = squaredErrors(layers, matrix, width, index);
  let sum = 0;
  for (let i = 0; i < errors.length; i++) sum += (errors[i] as number) * (weights[i % width] as number);
  return sum / index.length;
}

function cloneLayers(layers: readonly DenseLayer[]): DenseLayer[] {
  return layers.map((l) => ({ ...l, weights: l.weights.slice(), bias: l.bias.slice() }));
}
