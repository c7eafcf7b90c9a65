import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { trainLocally, type LocalTrainingRequest, type TrainingRow } from '../../src/lifecycle/local-training.js';
import { ModelSession } from '../../src/model/session.js';
import { Rng } from '../../src/rng.js';
import { rejection, scratchDir } from '../helpers.js';

const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2026, 2, 1);
const HOURS = 72;
const ENTITIES = ['c1', 'c2'];
/** Rows (hour index, entity index) with a missing reading of feature b. */
const MISSING = new Set(['5:0', '30:1', '31:1', '60:0']);

/** Three days of hourly rows for two cells: a daily sine per feature plus noise, a few values missing. */
function hourlyRows(): TrainingRow[] {
  const rng = new Rng(17);
  const rows: TrainingRow[] = [];
  for (let h = 0; h < HOURS; h++) {
    ENTITIES.forEach((cell, e) => {
      const phase = (2 * Math.PI * (h % 24)) / 24;
      const a = 50 + 20 * Math.sin(phase) + rng.normal(0, 2) + 10 * e;
      const b = MISSING.has(`${h}:${e}`) ? Number.NaN : 5 + 2 * Math.cos(phase) + rng.normal(0, 0.3);
      const c = 0.3 + 0.1 * Math.sin(phase + 1) + rng.normal(0, 0.02);
      rows.push({ timestampMs: START_MS + h * HOUR_MS, entity: [cell], values: [a, b, c] });
    });
  }
  return rows;
}

/** Training processes started by this test worker that are still there (Linux /proc; none elsewhere). */
function trainChildren(): number[] {
  if (process.platform !== 'linux') return [];
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('train-child');
      } catch {
        return false; // ended while being read
      }
    })
    .map(Number);
}

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await scratchDir());
});
afterEach(async () => {
  expect(trainChildren()).toEqual([]);
  await cleanup();
});

function request(overrides: Partial<LocalTrainingRequest> = {}): LocalTrainingRequest {
  return {
    rows: hourlyRows(),
    entityColumns: ['cell'],
    features: ['a', 'b', 'c'],
    modelId: 'cells-local',
    modelVersion: 7,
    maxEpochs: 3,
    utcOffsetMinutes: 0,
    nice: 10,
    workDir: join(dir, 'training'),
    timeoutMs: 120_000,
    ...overrides,
  };
}

describe('trainLocally', () => {
  it('trains a model in a child process that loads with the requested id, version and features', async () => {
    const req = request();
    expect(req.rows).toHaveLength(HOURS * ENTITIES.length);
    const result = await trainLocally(req, new AbortController().signal);

    const session = await ModelSession.fromBytes(result.onnx);
    try {
      const { contract } = session.info;
      expect(contract.modelId).toBe('cells-local');
      expect(contract.modelVersion).toBe(7);
      expect(contract.layout.kpis).toEqual(['a', 'b', 'c']);
      expect(contract.normalization).toMatchObject({ mode: 'per_entity', entityColumns: ['cell'] });
      // Per cell and hour: 3 readings each, under the 10 a bucket needs for statistics of its own.
      expect(Object.keys(contract.normalization.entities)).toHaveLength(result.normalizationBuckets);
      expect(result.normalizationBuckets).toBe(0);
      expect(contract.scoring.threshold).toBe(result.threshold);
      // The model scores: a batch of zeros (means, in z-scores) gives finite scores.
      const { score } = await session.run(new Float32Array(2 * session.width), 2);
      expect([...score].every(Number.isFinite)).toBe(true);
    } finally {
      await session.close();
    }

    expect(result.rows).toBe(HOURS * ENTITIES.length);
    expect(result.entities).toBe(2);
    expect(result.epochs).toBeGreaterThanOrEqual(1);
    expect(result.epochs).toBeLessThanOrEqual(3);
    expect(result.threshold).toBeGreaterThan(0);
    expect(Number.isFinite(result.validationLoss)).toBe(true);
    expect(result.durationS).toBeGreaterThan(0);
    // The baseline CSV and the model file went with the work folder.
    expect(existsSync(req.workDir)).toBe(false);
  });

  it('refuses to start when the signal is already aborted, and leaves no work folder', async () => {
    const req = request();
    const error = await rejection(() => trainLocally(req, AbortSignal.abort()));
    expect(error.code).toBe('MODEL_TRAIN');
    expect(error.message).toMatch(/the agent is stopping/);
    expect(existsSync(req.workDir)).toBe(false);
  });

  it('stops the training process when the signal aborts mid-way', async () => {
    const req = request({ maxEpochs: 50 });
    const controller = new AbortController();
    const outcome = rejection(() => trainLocally(req, controller.signal));
    await vi.waitFor(() => expect(trainChildren()).toHaveLength(1), { timeout: 10_000, interval: 5 });
    expect(existsSync(join(req.workDir, 'baseline.csv'))).toBe(true);
    controller.abort();
    const error = await outcome;
    expect(error.code).toBe('MODEL_TRAIN');
    expect(error.message).toMatch(/the agent is stopping/);
    expect(existsSync(req.workDir)).toBe(false);
  });

  it("keeps the trainer's own code when there are too few rows", async () => {
    const req = request({ rows: hourlyRows().slice(0, 2) });
    const error = await rejection(() => trainLocally(req, new AbortController().signal));
    expect(error.code).toBe('MODEL_TRAIN');
    expect(error.message).toMatch(/^on-device training failed: /);
    expect(error.details.cause).toBe('TRAIN_CONFIG');
    expect(existsSync(req.workDir)).toBe(false);
  });

  it('gives up on a training that takes longer than its timeout', async () => {
    const req = request({ timeoutMs: 50 });
    const error = await rejection(() => trainLocally(req, new AbortController().signal));
    expect(error.code).toBe('MODEL_TRAIN');
    expect(error.details).toEqual({ timeoutMs: 50 });
    expect(existsSync(req.workDir)).toBe(false);
  });
});
