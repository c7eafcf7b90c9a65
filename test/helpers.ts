import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_VERSION, inputWidth, type Layout, type ModelContract } from '../src/model/contract.js';
import { buildAutoencoder, type DenseLayer } from '../src/model/network.js';
import { buildOnnxModel, encodeModel, roundToFloat32 } from '../src/model/onnx-export.js';
import { Rng } from '../src/rng.js';

/** A scratch folder on disk, removed by the returned cleanup. */
export async function scratchDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cellwatch-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const SMALL_LAYOUT: Layout = {
  kpis: ['a', 'b', 'c'],
  window: 2,
  frozenShare: true,
  timeFeatures: ['hour_of_day'],
  utcOffsetMinutes: 0,
  maxFillRows: 1,
};

export function contractFor(layout: Layout, overrides: Partial<ModelContract> = {}): ModelContract {
  const k = layout.kpis.length;
  const width = inputWidth(layout);
  const stats = {
    mean: new Array<number>(k).fill(0),
    std: new Array<number>(k).fill(1),
    count: new Array<number>(k).fill(10),
  };
  return {
    contractVersion: CONTRACT_VERSION,
    modelId: 'test-model',
    modelVersion: 1,
    layout,
    normalization: {
      mode: 'global',
      entityColumns: [],
      seasonality: 'none',
      fallback: stats,
      fallbackByHour: [],
      entities: {},
    },
    scoring: {
      weights: Array.from({ length: width }, (_, j) => (j < k ? 1 / k : 0)),
      threshold: 1,
      thresholdPercentile: 95,
    },
    ...overrides,
  };
}

/** A randomly initialised autoencoder for a layout, exported to ONNX bytes, with its float32 layers. */
export function randomModel(layout: Layout, seed = 3, contract = contractFor(layout)) {
  const layers: DenseLayer[] = roundToFloat32(buildAutoencoder(inputWidth(layout), [5], 2, new Rng(seed)));
  const proto = buildOnnxModel(layers, contract, 'test');
  return { layers, proto, bytes: encodeModel(proto) };
}

/** The error a function throws, for assertions on its code and message. */
export interface Thrown {
  code?: string;
  message: string;
  details: Record<string, unknown>;
}

export function thrown(fn: () => unknown): Thrown {
  try {
    fn();
  } catch (err) {
    return err as Thrown;
  }
  throw new Error('expected the call to throw');
}

/** The error an async call rejects with; fails when it resolves. */
export async function rejection(fn: () => Promise<unknown>): Promise<Thrown> {
  try {
    await fn();
  } catch (err) {
    return err as Thrown;
  }
  throw new Error('expected the call to reject');
}
