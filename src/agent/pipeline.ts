import type { PipelineConfig } from '../config/schema.js';
import { isCellwatchError } from '../errors.js';
import type { PipelineHealth } from '../report/payloads.js';
import { SummaryPeriod } from '../report/summary.js';
import { createSource, type SourceServices } from '../sources/create.js';
import type { Sample, Source, SourceIssue, SourceSink } from '../sources/source.js';
import { entityKey } from './entity-key.js';
import type { ModelSession } from '../model/session.js';
import type { ActiveModelPayload } from '../report/payloads.js';
import { pipelineError } from './pipeline-error.js';
import { PipelineScorer, type ScorerServices } from './scorer.js';

const FUTURE_TOLERANCE_MS = 86_400_000;

const DROPPED_ROW_CODES: ReadonlySet<string> = new Set([
  'INPUT_TIMESTAMP',
  'INPUT_FIELD_COUNT',
  'INPUT_JSON',
  'INPUT_COLUMNS',
]);

/** What a pipeline shares with the rest of the agent. */
export type PipelineServices = ScorerServices &
  SourceServices & {
    /** Called after every scored batch: the model lifecycle watches a new model's first rows. */
    afterBatch?(pipeline: Pipeline): void;
  };

/** A model ready to score, with what the central side is told about it. */
export interface LoadedModel {
  session: ModelSession;
  active: ActiveModelPayload;
}

/**
 * One data path: a source, the buffer, the model. Rows are buffered first, then featurised and scored in
 * the order they arrived; the source waits for each batch, so a backlog slows the source instead of
 * growing in memory.
 */
export class Pipeline implements SourceSink {
  private source: Source | undefined;
  private scorer: PipelineScorer | undefined;
  private activeModel: ActiveModelPayload | undefined;
  /** Rows scored by models this pipeline ran before the current one. */
  private rowsScoredBefore = 0;
  private summary: SummaryPeriod;
  private lastRowWallMs: number | undefined;
  private rowsIn = 0;
  private sourceEnded = false;
  private issuesLogged = 0;
  /** Batches run one after another, whoever calls: the featurizer's per-entity state needs row order. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private progressAtMs = Date.now();

  constructor(
    readonly config: PipelineConfig,
    private readonly services: PipelineServices,
  ) {
    this.summary = new SummaryPeriod(config.features ?? [], Date.now());
  }

  get name(): string {
    return this.config.name;
  }

  /** Only a replayed file ever ends; every other source runs until the agent stops. */
  get finite(): boolean {
    return this.config.source.type === 'file' && this.config.source.mode === 'replay';
  }

  get ended(): boolean {
    return this.sourceEnded;
  }

  get features(): readonly string[] {
    return this.scorer?.features ?? this.config.features ?? [];
  }

  /** The model scoring this pipeline's rows, as reported in model/state; undefined while it has none. */
  get active(): ActiveModelPayload | undefined {
    return this.activeModel;
  }

  /** What the current model has done since it was activated. */
  get modelCounters(): { rowsScored: number; rowsFlagged: number; runFailures: number } | undefined {
    const scorer = this.scorer;
    return (
      scorer && { rowsScored: scorer.rowsScored, rowsFlagged: scorer.rowsFlagged, runFailures: scorer.runFailures }
    );
  }

  /** Take the initial model, score what an earlier run left unscored, then start the source. */
  async start(initial?: LoadedModel): Promise<void> {
    const { config, services } = this;
    if (initial) {
      const scorer = this.install(initial);
      this.forgetRowsOfOtherFeatures(scorer.features);
      this.summary = new SummaryPeriod(scorer.features, Date.now());
      const backlog = await scorer.resume(this.summary);
      if (backlog > 0) services.log.info({ pipeline: config.name, rows: backlog }, 'backlog scored');
    }
    const source = createSource(
      config,
      {
        pipeline: config.name,
        entityColumns: config.entity.columns,
        fixedEntity: config.entity.fixed,
        features: this.features,
        resumeAfterMs: services.samples.resumePointMs(config.name),
      },
      services,
    );
    this.source = source;
    await source.start(this);
    services.log.info(
      { pipeline: config.name, source: source.kind, model: this.scorer?.modelLabel ?? null },
      'pipeline started',
    );
  }

  private install(model: LoadedModel): PipelineScorer {
    this.rowsScoredBefore += this.scorer?.rowsScored ?? 0;
    this.scorer = new PipelineScorer(this.config, model.session, this.services);
    this.activeModel = model.active;
    return this.scorer;
  }

  /**
   * Replace the model between two batches, so no row is dropped or scored twice: rows that arrive meanwhile
   * wait in the queue. The new model's KPIs must be the pipeline's (buffered rows are stored by position).
   * Windows and statistics are rebuilt from the buffer; rows buffered while there was no model stay unscored.
   */
  swap(next: LoadedModel): Promise<void> {
    return this.enqueue(async () => {
      const kpis = next.session.info.contract.layout.kpis;
      if (kpis.join('\n') !== this.features.join('\n')) {
        throw pipelineError(this.name, 'a new model must have the pipeline features as KPIs', {
          features: this.features,
          modelKpis: kpis,
        });
      }
      const before = this.scorer;
      const scorer = this.install(next);
      this.services.storeFeatures(this.name, scorer.features);
      scorer.rebuildWindows();
      await before?.close();
      this.services.log.info({ pipeline: this.name, model: scorer.modelLabel }, 'model swapped');
    });
  }

  /**
   * Buffered values are stored by position; rows written under another feature list (a model with other
   * KPIs) would be read as the wrong KPIs by the statistics, so they are dropped.
   */
  private forgetRowsOfOtherFeatures(features: readonly string[]): void {
    const { services, name } = this;
    const stored = services.storedFeatures(name);
    if (stored !== undefined && stored.join('\n') !== features.join('\n')) {
      const deleted = services.samples.deletePipeline(name);
      services.log.warn({ pipeline: name, before: stored, now: features, deleted }, 'features changed: rows dropped');
    }
    services.storeFeatures(name, features);
  }

  /** Stop the source; the batch being scored, if any, finishes first. */
  async stop(): Promise<void> {
    await this.source?.stop();
    await this.queue;
    await this.scorer?.close();
  }

  samples(batch: Sample[]): Promise<void> {
    return this.enqueue(() => this.take(batch));
  }

  /** Batches and swaps run one at a time, in arrival order. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    if (this.queued++ === 0) this.progressAtMs = Date.now();
    const run = this.queue.then(task).finally(() => {
      this.queued--;
      this.progressAtMs = Date.now();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** How long work has waited in the queue without any task finishing; 0 when the queue is empty. */
  stalledForMs(nowMs: number): number {
    return this.queued > 0 ? Math.max(0, nowMs - this.progressAtMs) : 0;
  }

  private async take(arrived: Sample[]): Promise<void> {
    const { services } = this;
    // A row dated more than a day ahead is a broken clock or a broken feed: it would make every later row
    // of its entity look out of order, so it is refused.
    const latestMs = Date.now() + FUTURE_TOLERANCE_MS;
    const batch = arrived.filter((s) => s.timestampMs <= latestMs);
    if (batch.length < arrived.length) {
      for (const s of arrived.filter((r) => r.timestampMs > latestMs)) {
        this.issue({
          code: 'INPUT_TIMESTAMP',
          message: `timestamp ${new Date(s.timestampMs).toISOString()} is in the future`,
        });
      }
    }
    const rows = batch.map((s) => ({
      entity: entityKey(s.entity),
      timestampMs: s.timestampMs,
      values: s.values,
      suspect: s.suspect === true,
    }));
    this.rowsIn += rows.length;
    this.lastRowWallMs = Date.now();
    this.summary.addIn(rows.length);

    let fresh: boolean[];
    try {
      fresh = services.samples.insert(this.config.name, rows);
    } catch (err) {
      // Not buffered (disk full, I/O error): still scored, so detection goes on while storage is down.
      this.countError(err, 'buffer write failed');
      fresh = rows.map(() => true);
    }
    const duplicates = fresh.filter((f) => !f).length;
    if (duplicates > 0) this.summary.addSkipped('duplicate', duplicates);
    if (!this.scorer) {
      services.afterBatch?.(this);
      return;
    }

    // Suspect rows stay out of scoring: the featurizer treats them as a gap, as the statistics do.
    const newSamples = batch.filter((s, i) => fresh[i] && s.suspect !== true);
    const suspect = batch.filter((s, i) => fresh[i] && s.suspect === true).length;
    if (suspect > 0) this.summary.addSkipped('suspect', suspect);
    await this.scorer.score(newSamples, this.summary);
    services.afterBatch?.(this);
  }

  /** The alarm layer reported a level shift: the entity's statistics follow its new level from now on. */
  rebaseline(entity: string, sinceMs: number): void {
    this.scorer?.rebaseline(entity, sinceMs);
  }

  /** The alarm layer opened an incident on one of this pipeline's entities. */
  countIncident(): void {
    this.summary.addIncident();
  }

  issue(issue: SourceIssue): void {
    this.services.errors.count(issue.code);
    // A bad cell leaves its row in (that reading is missing); a bad row is dropped and counted as skipped.
    if (DROPPED_ROW_CODES.has(issue.code)) this.summary.addSkipped('bad_row', 1);
    // The first issues in full, then one line per thousand: a broken feed must not flood the journal.
    this.issuesLogged++;
    if (this.issuesLogged <= 20 || this.issuesLogged % 1000 === 0) {
      this.services.log.warn({ pipeline: this.name, ...issue, seen: this.issuesLogged }, 'source issue');
    }
  }

  end(): void {
    this.sourceEnded = true;
    this.services.log.info({ pipeline: this.name, rowsIn: this.rowsIn }, 'source ended');
  }

  private countError(err: unknown, message: string): void {
    const code = isCellwatchError(err) ? err.code : 'STORAGE_WRITE';
    this.services.errors.count(code);
    this.services.log.error({ pipeline: this.name, code, err: (err as Error).message }, message);
  }

  health(nowMs: number): PipelineHealth {
    const ageS = this.lastRowWallMs === undefined ? null : Math.max(0, (nowMs - this.lastRowWallMs) / 1000);
    return {
      name: this.name,
      source: this.source?.kind ?? this.config.source.type,
      lastSampleAgeS: ageS === null ? null : Math.round(ageS * 10) / 10,
      stale: !this.sourceEnded && (ageS === null ? false : ageS > 3 * this.config.intervalS),
      sourceEnded: this.sourceEnded,
      rowsIn: this.rowsIn,
      rowsScored: this.rowsScoredBefore + (this.scorer?.rowsScored ?? 0),
      modelId: this.scorer?.modelId ?? null,
      modelVersion: this.scorer?.modelVersion ?? null,
      entitiesOwnStats: this.scorer?.entitiesWithOwnStats ?? 0,
      entitiesOwnThreshold: this.scorer?.entitiesWithOwnThreshold ?? 0,
      ...this.fileHealth(),
    };
  }

  private fileHealth(): Pick<PipelineHealth, 'files'> {
    const counts = this.source?.fileCounts?.();
    return counts ? { files: { ingested: counts.ingested, quarantined: counts.failed } } : {};
  }

  takeSummary(nowMs: number) {
    return {
      ...this.summary.take(nowMs),
      modelId: this.scorer?.modelId ?? null,
      modelVersion: this.scorer?.modelVersion ?? null,
      threshold: this.scorer?.threshold ?? null,
    };
  }
}
