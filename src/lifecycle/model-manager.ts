import type { Logger } from 'pino';
import type { SampleStore } from '../buffer/samples.js';
import type { ModelsConfig, PipelineConfig } from '../config/schema.js';
import { CellwatchError, isCellwatchError } from '../errors.js';
import type { ActiveModelPayload, ModelResultPayload, ModelStatePayload, PayloadBody } from '../report/payloads.js';
import type { ErrorCounter } from '../agent/error-counter.js';
import type { LoadedModel } from '../agent/pipeline.js';
import { loadPipelineModel, type ScorerServices } from '../agent/scorer.js';
import { checkCalibration } from './calibration.js';
import type { ModelStore, PutOptions } from './model-store.js';
import type { Manifest } from './manifest.js';
import { probeModel } from './probe.js';
import { verifyBundle, type TrustOptions } from './signing.js';

/** The side of a pipeline the model lifecycle works with (implemented by Pipeline). */
export interface ModelHost {
  readonly name: string;
  readonly config: PipelineConfig;
  readonly features: readonly string[];
  readonly active: ActiveModelPayload | undefined;
  readonly modelCounters: { rowsScored: number; rowsFlagged: number; runFailures: number } | undefined;
  swap(next: LoadedModel): Promise<void>;
}

export interface ManagerServices {
  store: ModelStore;
  trust: TrustOptions;
  scorer: ScorerServices & { samples: SampleStore };
  publishResult(body: PayloadBody<ModelResultPayload>): void;
  publishState(body: PayloadBody<ModelStatePayload>): void;
  /** The training state of a model: auto pipeline, for model/state; null for the others. */
  trainingState(pipeline: string): ModelStatePayload['pipelines'][number]['training'];
  /** What model/state says of a pipeline's active model in the store. */
  describe(pipeline: string): Promise<ActiveModelPayload | undefined>;
  errors: ErrorCounter;
  log: Logger;
}

type Action = ModelResultPayload['action'];

/** A model that passed the checks that need no running agent, ready to be measured and activated. */
export interface Candidate extends PutOptions {
  manifest: Manifest;
  onnx: Uint8Array;
  origin: 'push' | 'local';
}

/** A model on probation: activated, not yet trusted by its own first rows. */
interface Probation {
  version: number;
  rows: number;
}

/**
 * Takes pushed bundles and rollback commands, one at a time: checks a bundle without running it (size,
 * format, hash, signature, agent version, pipeline, version), runs it in a child process, measures it on the
 * site's recent rows, then stores and activates it between two batches. A new model is on probation for its
 * first rows: failing at run time or flagging too many rows rolls it back. Every outcome is published.
 */
export class ModelManager {
  private queue: Promise<void> = Promise.resolve();
  private readonly probation = new Map<string, Probation>();

  constructor(
    private readonly config: ModelsConfig,
    private readonly hosts: ReadonlyMap<string, ModelHost>,
    private readonly services: ManagerServices,
  ) {}

  /** A command on <prefix>/<site>/command/model/<name> or the fleet-wide topic. */
  handle(name: string, payload: Buffer, answered: () => void = () => undefined): void {
    if (name === 'model/push') this.enqueue(() => this.push(payload).finally(answered));
    else if (name === 'model/rollback') this.enqueue(() => this.rollbackCommand(payload));
    else this.refuse('push', undefined, new CellwatchError('COMMAND_INVALID', `unknown model command "${name}"`));
  }

  /** Wait for the commands in hand: tests and shutdown. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Run a task after the ones in hand and wait for it; its failure is the caller's to report. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Run one lifecycle task after the ones before it; a failure is published by the task, never thrown. */
  enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => {
      this.services.log.error({ err: (err as Error).message }, 'model task failed');
    });
  }

  private async push(payload: Buffer): Promise<void> {
    const { store } = this.services;
    let named: { pipeline: string; modelId: string; version: number } | undefined;
    try {
      const bundle = verifyBundle(payload, this.services.trust);
      const { manifest } = bundle;
      named = { pipeline: manifest.pipeline, modelId: manifest.modelId, version: manifest.version };
      const host = this.hosts.get(manifest.pipeline);
      if (!host) {
        throw new CellwatchError('BUNDLE_PIPELINE', `this site runs no pipeline "${manifest.pipeline}"`, {
          pipelines: [...this.hosts.keys()],
        });
      }
      const highest = Math.max(await store.highestVersion(host.name), host.active?.version ?? 0);
      if (manifest.version <= highest) {
        throw new CellwatchError(
          'BUNDLE_REPLAY',
          `version ${manifest.version} is not newer than version ${highest} this pipeline runs or has run`,
          { highest },
        );
      }
      const probe = await probeModel(bundle.onnx, {
        golden: manifest.golden,
        timeoutMs: this.config.probeTimeoutS * 1000,
        maxRssMb: this.config.probeMaxRssMb,
      });
      checkKpis(host, probe.kpis);
      // The manifest is signed, the metadata is what runs: a bundle whose two disagree is refused whole.
      if (probe.modelId !== manifest.modelId || probe.modelVersion !== manifest.version) {
        throw new CellwatchError(
          'BUNDLE_FORMAT',
          `the manifest names ${manifest.modelId} v${manifest.version}, the model's own metadata ` +
            `${probe.modelId} v${probe.modelVersion}`,
          { modelId: probe.modelId, modelVersion: probe.modelVersion },
        );
      }
      const candidate = { manifest, onnx: bundle.onnx, keyId: bundle.keyId ?? null, origin: 'push' as const };
      await this.activate(host, candidate, { probe });
    } catch (err) {
      // A refusal changes nothing on disk (it is reported and counted): a flood of bad pushes costs no writes.
      this.refuse('push', named, err);
    }
  }

  /**
   * Load a probed model in this process and measure it on recent rows; then store it, make it active in the
   * store and in the pipeline, and put it on probation. Used for pushed and locally trained models. A model
   * refused here is never stored, so its version stays free for a corrected bundle.
   */
  async activate(host: ModelHost, candidate: Candidate, details: Record<string, unknown>): Promise<void> {
    const { store } = this.services;
    const { origin } = candidate;
    const session = await loadPipelineModel(host.config, candidate.onnx, host.features);
    const { modelId, modelVersion: version } = session.info.contract;
    let calibration;
    try {
      calibration = await checkCalibration(host.config, session, this.services.scorer, {
        rows: this.config.calibrationRows,
        minRows: this.config.minCalibrationRows,
        maxFactor: this.config.calibrationMaxFactor,
      });
      await store.put(candidate.manifest, candidate.onnx, candidate);
      await store.activate(host.name, version);
    } catch (err) {
      await session.close();
      throw err;
    }
    const active = await this.services.describe(host.name);
    if (!active) throw new CellwatchError('MODEL_STORE', `version ${version} vanished from the store`, { version });
    await host.swap({ session, active });
    this.probation.set(host.name, { version, rows: this.config.probationRows });
    this.services.log.info({ pipeline: host.name, modelId, version, origin, calibration }, 'model activated');
    const action: Action = origin === 'push' ? 'push' : 'local_training';
    this.services.publishResult({
      action,
      result: 'accepted',
      pipeline: host.name,
      modelId,
      version,
      message: `${modelId} v${version} is active`,
      details: { ...details, calibration },
    });
    await this.publishState();
  }

  private async rollbackCommand(payload: Buffer): Promise<void> {
    let pipeline: string | undefined;
    try {
      const parsed = JSON.parse(payload.toString('utf8')) as unknown;
      const name = (parsed as { pipeline?: unknown } | null)?.pipeline;
      if (typeof name !== 'string') {
        throw new CellwatchError('COMMAND_INVALID', 'a rollback command is {"pipeline": "<name>"}');
      }
      pipeline = name;
      await this.rollback(name, 'rollback', 'rolled back by command', {});
    } catch (err) {
      const reason = err instanceof SyntaxError ? new CellwatchError('COMMAND_INVALID', err.message) : err;
      this.refuse('rollback', pipeline === undefined ? undefined : { pipeline }, reason);
    }
  }

  /** Return a pipeline to the version its active one replaced. */
  private async rollback(
    pipeline: string,
    action: 'rollback' | 'auto_rollback',
    reason: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    const { store, log } = this.services;
    const host = this.hosts.get(pipeline);
    if (!host) throw new CellwatchError('BUNDLE_PIPELINE', `this site runs no pipeline "${pipeline}"`);
    const { from, to } = await store.rollback(pipeline);
    const active = await this.services.describe(pipeline);
    const path = (await store.active(pipeline))?.path;
    if (!active || path === undefined) throw new CellwatchError('MODEL_STORE', `version ${to} cannot be read`);
    const session = await loadPipelineModel(host.config, path, host.features);
    await host.swap({ session, active });
    this.probation.delete(pipeline);
    this.services.errors.count('MODEL_ROLLBACK');
    log.warn({ code: 'MODEL_ROLLBACK', pipeline, from, to, reason }, 'model rolled back');
    this.services.publishResult({
      action,
      result: 'rolled_back',
      pipeline,
      modelId: active.modelId,
      version: to,
      code: 'MODEL_ROLLBACK',
      message: `${reason}: version ${from} replaced by version ${to}`,
      details: { ...details, from, to },
    });
    await this.publishState();
  }

  /** After each scored batch: judge a model on probation by its first rows. */
  afterBatch(host: ModelHost): void {
    const probation = this.probation.get(host.name);
    const counters = host.modelCounters;
    if (!probation || !counters || host.active?.version !== probation.version) return;
    const limit = this.config.probationMaxFlaggedShare * probation.rows;
    let reason: string | undefined;
    if (counters.runFailures > 0) reason = 'the model failed at run time';
    else if (counters.rowsFlagged > limit) {
      reason = `the model flagged ${counters.rowsFlagged} of its first ${counters.rowsScored} rows`;
    }
    if (reason === undefined) {
      if (counters.rowsScored >= probation.rows) {
        this.probation.delete(host.name);
        this.services.log.info({ pipeline: host.name, version: probation.version, ...counters }, 'model trusted');
      }
      return;
    }
    this.probation.delete(host.name);
    const details = { ...counters, probationRows: probation.rows };
    this.enqueue(async () => {
      try {
        await this.rollback(host.name, 'auto_rollback', reason, details);
      } catch (err) {
        this.refuse('auto_rollback', { pipeline: host.name }, err);
      }
    });
  }

  /** The retained model/state message: every pipeline's active model and rollback targets. */
  async publishState(): Promise<void> {
    const pipelines: ModelStatePayload['pipelines'] = [];
    for (const host of this.hosts.values()) {
      const state = await this.services.store.state(host.name).catch(() => undefined);
      pipelines.push({
        pipeline: host.name,
        active: host.active ?? null,
        previous: state?.previous ?? [],
        training: this.services.trainingState(host.name),
      });
    }
    this.services.publishState({ pipelines });
  }

  /** Publish a refusal with its code; nothing else changes. */
  refuse(
    action: Action,
    named: { pipeline: string; modelId?: string; version?: number } | undefined,
    err: unknown,
  ): void {
    const code = isCellwatchError(err) ? err.code : 'MODEL_RUNTIME';
    const details = isCellwatchError(err) ? err.details : {};
    const message = (err as Error).message;
    this.services.errors.count(code);
    this.services.log.warn({ code, action, ...named, err: message }, 'model command refused');
    this.services.publishResult({
      action,
      result: 'rejected',
      pipeline: named?.pipeline ?? null,
      modelId: named?.modelId ?? null,
      version: named?.version ?? null,
      code,
      message,
      details,
    });
  }
}

/** A new model must take the pipeline's KPIs, in order: buffered rows are stored by position. */
function checkKpis(host: ModelHost, kpis: readonly string[]): void {
  const features = host.features;
  if (kpis.length !== features.length) {
    throw new CellwatchError(
      'MODEL_INPUT_WIDTH',
      `the model takes ${kpis.length} KPIs, pipeline ${host.name} has ${features.length}`,
      { modelKpis: kpis, features },
    );
  }
  if (kpis.join('\n') !== features.join('\n')) {
    throw new CellwatchError('BUNDLE_PIPELINE', `the model KPIs are not the features of pipeline ${host.name}`, {
      modelKpis: kpis,
      features,
    });
  }
}
