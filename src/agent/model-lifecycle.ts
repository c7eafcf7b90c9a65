import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SampleStore } from '../buffer/samples.js';
import type { Config, PipelineConfig } from '../config/schema.js';
import { AutoTrainer } from '../lifecycle/auto-training.js';
import { initialModel } from '../lifecycle/initial-model.js';
import { ModelManager } from '../lifecycle/model-manager.js';
import { ModelStore } from '../lifecycle/model-store.js';
import { PushInbox } from '../lifecycle/push-inbox.js';
import { modelsTrust } from '../lifecycle/models-config.js';
import type { TrustOptions } from '../lifecycle/signing.js';
import type { ModelResultPayload, ModelStatePayload, PayloadBody } from '../report/payloads.js';
import type { ErrorCounter } from './error-counter.js';
import type { LoadedModel, Pipeline } from './pipeline.js';
import type { ScorerServices } from './scorer.js';

const TRAINING_CHECK_MS = 10_000;

export interface LifecycleServices {
  scorer: ScorerServices & { samples: SampleStore };
  publishResult(body: PayloadBody<ModelResultPayload>): void;
  publishState(body: PayloadBody<ModelStatePayload>): void;
}

/**
 * The agent's side of the model lifecycle: the model store, the trusted keys, the manager that takes pushes
 * and rollbacks, and on-device training. Made before the pipelines (they start with the store's models),
 * attached to them once they run.
 */
export class ModelLifecycle {
  private manager: ModelManager | undefined;
  private trainer: AutoTrainer | undefined;
  private trainingTimer: NodeJS.Timeout | undefined;
  private readonly inbox: PushInbox;

  private constructor(
    private readonly config: Readonly<Config>,
    readonly store: ModelStore,
    private readonly trust: TrustOptions,
    private readonly errors: ErrorCounter,
    private readonly log: Logger,
  ) {
    this.inbox = new PushInbox(join(config.models.dir as string, '.inbox'));
  }

  /** Read the trusted keys (a bad key file stops the start, as a bad config does) and open the store. */
  static async create(config: Readonly<Config>, errors: ErrorCounter, log: Logger): Promise<ModelLifecycle> {
    const { models } = config;
    const trust = await modelsTrust(config);
    if (models.allowUnsigned) log.warn({ setting: 'models.allowUnsigned' }, 'unsigned model bundles are accepted');
    const store = new ModelStore(models.dir as string, models.keepVersions, (err) => {
      errors.count(err.code);
      log.error({ code: err.code, err: err.message, ...err.details }, 'model store fault');
    });
    return new ModelLifecycle(config, store, trust, errors, log);
  }

  /** The model a pipeline starts with: the store's active one, else the configured file, else none. */
  initial(pipeline: PipelineConfig): Promise<LoadedModel | undefined> {
    return initialModel(pipeline, this.store, this.log, (name) => this.describe(name));
  }

  private async describe(pipeline: string) {
    const active = await this.store.active(pipeline);
    if (!active) return undefined;
    const state = await this.store.state(pipeline);
    const version = active.manifest.version;
    const at = [...state.history].reverse().find((h) => h.version === version)?.at;
    return {
      modelId: active.manifest.modelId,
      version,
      origin: active.origin,
      keyId: active.keyId,
      sha256: active.manifest.onnxSha256,
      activatedAt: at ?? null,
    };
  }

  /** Take commands and watch new models once the pipelines run; publishes the first model/state. */
  attach(pipelines: readonly Pipeline[], services: LifecycleServices): void {
    const hosts = new Map(pipelines.map((p) => [p.name, p]));
    const { models } = this.config;
    const manager = new ModelManager(models, hosts, {
      store: this.store,
      trust: this.trust,
      scorer: services.scorer,
      publishResult: (body) => services.publishResult(body),
      publishState: (body) => services.publishState(body),
      trainingState: (name) => this.trainer?.state(name) ?? null,
      describe: (name) => this.describe(name),
      errors: this.errors,
      log: this.log,
    });
    this.manager = manager;
    this.trainer = new AutoTrainer(pipelines, {
      site: this.config.site,
      modelsDir: models.dir as string,
      samples: services.scorer.samples,
      store: this.store,
      manager,
      probeTimeoutMs: models.probeTimeoutS * 1000,
      probeMaxRssMb: models.probeMaxRssMb,
      log: this.log,
    });
    manager.enqueue(() => manager.publishState());
    // Pushes an earlier run took and did not answer (it was killed while checking them) are answered now.
    for (const { path, payload } of this.inbox.pending()) {
      manager.handle('model/push', payload, () => this.inbox.release(path));
    }
    // A baseline can be complete before the trainer exists (a backlog read at start) or while no rows come
    // (a source that ended): besides after each batch, training is looked for now and every 10 s.
    const trainer = this.trainer;
    const checkAll = () => pipelines.forEach((p) => trainer.check(p));
    checkAll();
    this.trainingTimer = setInterval(checkAll, TRAINING_CHECK_MS).unref();
  }

  /** Called from the MQTT message handler: a push is on disk before the broker is told it arrived. */
  handle(name: string, payload: Buffer): void {
    const manager = this.manager;
    if (!manager) return;
    // An oversize bundle is refused unread; it is not worth a write.
    const kept = name === 'model/push' && payload.length <= this.trust.maxBytes ? this.inbox.keep(payload) : undefined;
    manager.handle(name, payload, () => this.inbox.release(kept));
  }

  /** After every scored batch of a pipeline. */
  afterBatch(pipeline: Pipeline): void {
    this.manager?.afterBatch(pipeline);
    this.trainer?.check(pipeline);
  }

  /** Stop a training in progress, then let a push or rollback in hand finish (bounded by the probe timeout). */
  async stop(): Promise<void> {
    clearInterval(this.trainingTimer);
    this.trainer?.stop();
    await this.manager?.idle();
  }
}
