import { fork } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { CellwatchError } from '../errors.js';
import { childLaunch, type ChildErrorReply } from './child-launch.js';

/** One buffered row to train on. */
export interface TrainingRow {
  timestampMs: number;
  entity: readonly string[];
  /** NaN for a missing value. */
  values: ArrayLike<number>;
}

export interface LocalTrainingRequest {
  rows: readonly TrainingRow[];
  entityColumns: readonly string[];
  features: readonly string[];
  modelId: string;
  modelVersion: number;
  maxEpochs: number;
  utcOffsetMinutes: number;
  /** Added niceness of the training process: 0 normal, 19 lowest. */
  nice: number;
  /** A folder of its own: the baseline CSV and the model are written there and removed afterwards. */
  workDir: string;
  timeoutMs: number;
}

/** What a local training reports besides the model. */
export interface TrainingFigures {
  durationS: number;
  rows: number;
  /** Distinct entities among the rows trained on. */
  entities: number;
  /** Normalisation buckets (entity, or entity and hour) with statistics of their own; the rest use the fleet's. */
  normalizationBuckets: number;
  epochs: number;
  threshold: number;
  validationLoss: number;
}

/** The trainer's figures, as train-child.ts sends them back (the model itself stays on disk). */
export type TrainChildFigures = Omit<TrainingFigures, 'entities'>;

export type TrainChildReply = { type: 'result'; figures: TrainChildFigures } | ChildErrorReply;

/** The child's one message: the trainer's options, with the baseline already written as a CSV file. */
export interface TrainChildRequest {
  input: string;
  output: string;
  entityColumns: string[];
  features: string[];
  modelId: string;
  modelVersion: number;
  maxEpochs: number;
  utcOffsetMinutes: number;
}

/**
 * Train a model on buffered rows with the trainer of `cellwatch train`, in a child process at lower
 * priority: training takes seconds to minutes of CPU, and in the agent's process it would stall sampling,
 * scoring and the MQTT keepalive. The rows go to the child as a CSV file (the format the trainer reads), so
 * the model is trained exactly as the same rows exported and given to `cellwatch train` would be.
 */
export async function trainLocally(
  request: LocalTrainingRequest,
  signal: AbortSignal,
): Promise<TrainingFigures & { onnx: Uint8Array }> {
  const { workDir } = request;
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  try {
    const input = join(workDir, 'baseline.csv');
    const output = join(workDir, 'model.onnx');
    await writeFile(input, baselineCsv(request));
    const figures = await runChild(
      {
        input,
        output,
        entityColumns: [...request.entityColumns],
        features: [...request.features],
        modelId: request.modelId,
        modelVersion: request.modelVersion,
        maxEpochs: request.maxEpochs,
        utcOffsetMinutes: request.utcOffsetMinutes,
      },
      request,
      signal,
    );
    const entities = new Set(request.rows.map((row) => JSON.stringify(row.entity))).size;
    return { ...figures, entities, onnx: await readFile(output) };
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function baselineCsv(request: LocalTrainingRequest): string {
  const header = ['timestamp', ...request.entityColumns, ...request.features];
  const records = request.rows.map((row) => [
    new Date(row.timestampMs).toISOString(),
    ...row.entity,
    // Missing stays an empty cell: the trainer forward-fills it as it does for any input file.
    ...Array.from(row.values, (v) => (Number.isFinite(v) ? v : '')),
  ]);
  return stringify([header, ...records]);
}

function trainFailure(message: string, details: Record<string, unknown> = {}): CellwatchError {
  return new CellwatchError('MODEL_TRAIN', `on-device training failed: ${message}`, details);
}

function runChild(
  message: TrainChildRequest,
  request: LocalTrainingRequest,
  signal: AbortSignal,
): Promise<TrainChildFigures> {
  const launch = childLaunch(import.meta.url, 'train-child');
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(trainFailure('the agent is stopping'));
      return;
    }
    const child = fork(launch.path, [], { execArgv: launch.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let decided: { figures: TrainChildFigures } | { error: CellwatchError } | undefined;
    let stderrTail = '';
    const decide = (outcome: NonNullable<typeof decided>): void => {
      if (decided) return;
      decided = outcome;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onAbort = (): void => decide({ error: trainFailure('the agent is stopping') });
    signal.addEventListener('abort', onAbort);
    const timer = setTimeout(
      () =>
        decide({ error: trainFailure(`no model within ${request.timeoutMs} ms`, { timeoutMs: request.timeoutMs }) }),
      request.timeoutMs,
    );
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, request.nice);
      } catch {
        // Lowering a child's priority needs no privilege; where it still fails, training runs at normal priority.
      }
    }
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    child.on('message', (reply: TrainChildReply) => {
      if (reply.type === 'result') decide({ figures: reply.figures });
      // The trainer's own coded error (too few rows, say) is kept in the details as the cause.
      else decide({ error: trainFailure(reply.message, { cause: reply.code, ...reply.details }) });
    });
    child.on('error', (err) => decide({ error: trainFailure(err.message) }));
    child.on('close', (exitCode, killedBy) => {
      decide({ error: trainFailure('the training process ended without a model', { exitCode, killedBy, stderrTail }) });
      if (decided && 'figures' in decided) resolve(decided.figures);
      else reject((decided as { error: CellwatchError }).error);
    });
    child.send(message);
  });
}
