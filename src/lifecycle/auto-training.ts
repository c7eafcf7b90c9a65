import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SampleStore } from '../buffer/samples.js';
import { AUTO_MODEL } from '../config/schema.js';
import { CellwatchError, isCellwatchError } from '../errors.js';
import type { ModelStatePayload } from '../report/payloads.js';
import { entityValues } from '../agent/entity-key.js';
import { trainLocally } from './local-training.js';
import { makeBundle } from './make-bundle.js';
import type { ModelHost, ModelManager } from './model-manager.js';
import type { ModelStore } from './model-store.js';
import { probeModel } from './probe.js';

const HOUR_MS = 3_600_000;
/** Rows one training reads at most: a month of hourly rows for 100 cells. */
const MAX_TRAINING_ROWS = 100 * 24 * 31;
/** A failed training is tried again after this long, not on every batch. */
const RETRY_AFTER_MS = 10 * 60_000;
/** How often the buffer is looked at for a due training: a span query scans the pipeline's rows. */
const CHECK_EVERY_MS = 5_000;
const TRAINING_TIMEOUT_MS = 2 * HOUR_MS;

type TrainingState = NonNullable<ModelStatePayload['pipelines'][number]['training']>;

interface Slot {
  state: TrainingState['state'];
  baselineHours: number;
  neededHours: number;
  lastTrainedAt: string | null;
  /** Row time of the newest row the last training saw: retraining is due by row time, as the data goes. */
  lastTrainedRowMs: number | undefined;
  nextCheckMs: number;
}

export interface AutoTrainingServices {
  site: string;
  modelsDir: string;
  samples: SampleStore;
  store: ModelStore;
  manager: ModelManager;
  probeTimeoutMs: number;
  probeMaxRssMb: number;
  log: Logger;
}

/**
 * On-device training for pipelines with model: auto. Once a pipeline's buffer spans its baseline, the rows
 * (flagged ones left out) are trained on in a child process at low priority with the trainer of `cellwatch
 * train`, the result is probed like a pushed model and activated through the model manager (so it is
 * measured, put on probation and reported the same way). A pushed model always wins: a pipeline running one
 * is never trained for, and a training that finishes after a push is dropped.
 */
export class AutoTrainer {
  private readonly slots = new Map<string, Slot>();
  private readonly abort = new AbortController();

  constructor(
    hosts: Iterable<ModelHost>,
    private readonly services: AutoTrainingServices,
  ) {
    for (const host of hosts) {
      if (host.config.model !== AUTO_MODEL) continue;
      const local = host.active?.origin === 'local';
      this.slots.set(host.name, {
        state: host.active ? 'idle' : 'collecting',
        baselineHours: 0,
        neededHours: host.config.training.baselineHours,
        lastTrainedAt: local ? (host.active?.activatedAt ?? null) : null,
        lastTrainedRowMs: local ? Date.parse(host.active?.activatedAt ?? '') || undefined : undefined,
        nextCheckMs: 0,
      });
    }
  }

  /** The training part of model/state; null for a pipeline that is not model: auto. */
  state(pipeline: string): TrainingState | null {
    const slot = this.slots.get(pipeline);
    if (!slot) return null;
    return {
      state: slot.state,
      baselineHours: Math.round(slot.baselineHours * 10) / 10,
      neededHours: slot.neededHours,
      lastTrainedAt: slot.lastTrainedAt,
    };
  }

  /** After a batch: start a training when one is due. Cheap when none is. */
  check(host: ModelHost): void {
    const slot = this.slots.get(host.name);
    const nowMs = Date.now();
    if (!slot || slot.state === 'training' || nowMs < slot.nextCheckMs) return;
    slot.nextCheckMs = nowMs + CHECK_EVERY_MS;
    const { retrainEveryHours } = host.config.training;
    // A pushed model always wins; a local one is trained again only when retraining is configured.
    if (host.active && (host.active.origin !== 'local' || retrainEveryHours === 0)) return;
    const span = this.services.samples.span(host.name);
    if (!span) return;
    slot.baselineHours = (span.lastMs - span.firstMs) / HOUR_MS;
    const due = host.active
      ? retrainEveryHours > 0 && span.lastMs - (slot.lastTrainedRowMs ?? 0) >= retrainEveryHours * HOUR_MS
      : slot.baselineHours >= slot.neededHours;
    if (!due) return;
    slot.state = 'training';
    // Training runs beside the manager's queue (pushes and rollbacks go on meanwhile); only the activation
    // of its result waits for its turn in it.
    void this.train(host, slot, span.lastMs);
    this.publishState();
  }

  private publishState(): void {
    const { manager } = this.services;
    manager.enqueue(() => manager.publishState());
  }

  stop(): void {
    this.abort.abort();
  }

  private async train(host: ModelHost, slot: Slot, lastMs: number): Promise<void> {
    const { samples, store, manager, log } = this.services;
    const training = host.config.training;
    const started = performance.now();
    try {
      const sinceMs = host.active ? lastMs - training.windowHours * HOUR_MS : Number.NEGATIVE_INFINITY;
      const rows = samples.rowsSince(host.name, sinceMs, MAX_TRAINING_ROWS, { excludeFlagged: true });
      const version = Math.max(await store.highestVersion(host.name), host.active?.version ?? 0) + 1;
      log.info({ pipeline: host.name, rows: rows.length, version }, 'on-device training started');
      const result = await trainLocally(
        {
          rows: rows.map((r) => ({ timestampMs: r.timestampMs, entity: entityValues(r.entity), values: r.values })),
          entityColumns: host.config.entity.columns,
          features: host.features,
          modelId: `${this.services.site}-${host.name}-local`,
          modelVersion: version,
          maxEpochs: training.maxEpochs,
          utcOffsetMinutes: training.utcOffsetMinutes,
          nice: training.nice,
          workDir: join(this.services.modelsDir, '.training', host.name),
          timeoutMs: TRAINING_TIMEOUT_MS,
        },
        this.abort.signal,
      );
      await probeModel(result.onnx, { timeoutMs: this.services.probeTimeoutMs, maxRssMb: this.services.probeMaxRssMb });
      const { manifest } = await makeBundle(result.onnx, { pipeline: host.name, goldenRows: 0 });
      const { onnx, ...figures } = result;
      await manager.exclusive(async () => {
        slot.state = 'idle';
        if (host.active && host.active.origin === 'push') {
          log.info({ pipeline: host.name }, 'on-device model dropped: a pushed model arrived meanwhile');
          return;
        }
        slot.lastTrainedAt = new Date().toISOString();
        slot.lastTrainedRowMs = lastMs;
        const trainingS = Math.round((performance.now() - started) / 100) / 10;
        await manager.activate(host, { manifest, onnx, keyId: null, origin: 'local' }, { ...figures, trainingS });
      });
    } catch (err) {
      if (this.abort.signal.aborted) return; // the agent is stopping: not a failure to report
      slot.state = 'failed';
      slot.nextCheckMs = Date.now() + RETRY_AFTER_MS;
      const failure = isCellwatchError(err)
        ? err
        : new CellwatchError('MODEL_TRAIN', `on-device training failed: ${(err as Error).message}`);
      manager.refuse('local_training', { pipeline: host.name }, failure);
      this.publishState();
    }
  }
}
