import type { PipelineConfig } from '../config/schema.js';
import { topContributions } from '../detect/explain.js';
import { Featurizer, type FeatureResult } from '../features/featurizer.js';
import { HistoryStats, workingNormalization } from '../features/history-stats.js';
import { ModelSession } from '../model/session.js';
import type { SummaryPeriod } from '../report/summary.js';
import type { Sample } from '../sources/source.js';
import type { AlarmEvent, ScoredRow } from '../detect/alarms.js';
import type { SampleStore, ScoreRow } from '../buffer/samples.js';
import type { ErrorCounter } from './error-counter.js';
import type { Logger } from 'pino';
import { entityKey, entityValues } from './entity-key.js';
import { isCellwatchError } from '../errors.js';
import { EntityThresholds } from '../detect/entity-thresholds.js';
import { pipelineError } from './pipeline-error.js';

export interface ScorerServices {
  samples: SampleStore;
  /** The feature list stored for a pipeline by an earlier run, and a way to store the current one. */
  storedFeatures(pipeline: string): string[] | undefined;
  storeFeatures(pipeline: string, features: readonly string[]): void;
  errors: ErrorCounter;
  log: Logger;
  alarms: { observe(row: ScoredRow): AlarmEvent[] };
  onAlarms(events: AlarmEvent[]): void;
  isSilenced(entity: string, timestampMs: number): boolean;
  topKpis: number;
}

interface Pending {
  sample: Sample;
  key: string;
  result: Extract<FeatureResult, { status: 'ok' }>;
}

/** An hour bucket needs four weeks of hourly rows before it gets statistics of its own: fewer give noisy spreads. */
const MIN_ROWS_PER_BUCKET = 28;
/** Rows an earlier run left unscored that are scored at start-up; older ones stay unscored. */
const BACKLOG_LIMIT = 100_000;

/**
 * The model side of a pipeline: featurise rows in arrival order, score them with onnxruntime in batches,
 * record the scores, and hand every scored row to the alarm layer.
 */
export class PipelineScorer {
  rowsScored = 0;
  rowsFlagged = 0;
  /** Batches onnxruntime failed to score: a model that fails at run time is rolled back. */
  runFailures = 0;
  private readonly featurizer: Featurizer;
  private readonly history: HistoryStats;
  private readonly thresholds: EntityThresholds;

  /**
   * @param dryRun score without recording scores or raising alarms: a candidate model measured on buffered
   *   rows before it is activated.
   */
  constructor(
    private readonly config: PipelineConfig,
    readonly session: ModelSession,
    private readonly services: ScorerServices,
    private readonly dryRun = false,
  ) {
    const { layout, normalization } = session.info.contract;
    const working = workingNormalization(normalization, config.entity.columns);
    this.featurizer = new Featurizer(layout, working, config.entity.columns);
    this.history = new HistoryStats(working, config.entity.columns, layout.kpis, layout.utcOffsetMinutes, {
      minHistoryRows: config.normalization.minHistoryRows,
      refreshRows: config.normalization.refreshRows,
      minRowsPerBucket: MIN_ROWS_PER_BUCKET,
    });
    const { scoring } = session.info.contract;
    this.thresholds = new EntityThresholds(
      scoring.threshold,
      scoring.thresholdPercentile,
      config.normalization.minHistoryRows,
    );
  }

  get features(): readonly string[] {
    return this.session.info.contract.layout.kpis;
  }

  get modelId(): string {
    return this.session.info.contract.modelId;
  }

  get modelVersion(): number {
    return this.session.info.contract.modelVersion;
  }

  get modelLabel(): string {
    return `${this.modelId}@${this.modelVersion}`;
  }

  get threshold(): number {
    return this.session.info.contract.scoring.threshold;
  }

  get entitiesWithOwnStats(): number {
    return this.history.entitiesWithOwnStats;
  }

  get entitiesWithOwnThreshold(): number {
    return this.thresholds.recalibrated;
  }

  /** Rebuild each entity's window and statistics from the scored rows in the buffer. */
  rebuildWindows(): void {
    const { samples } = this.services;
    const { layout } = this.session.info.contract;
    const name = this.config.name;
    for (const key of samples.entities(name)) {
      const entity = entityValues(key);
      this.refreshStats(key, entity, Number.NEGATIVE_INFINITY);
      const recent = samples.history(name, key, layout.window + layout.maxFillRows).filter((r) => r.score !== null);
      for (const row of recent.reverse()) {
        this.featurizer.push({ line: 0, timestampMs: row.timestampMs, entity, values: row.values });
      }
    }
  }

  /**
   * After a restart: rebuild the windows, then score the rows an earlier run buffered but never scored (it
   * was killed between the two). Returns the rows scored.
   */
  async resume(summary: SummaryPeriod): Promise<number> {
    this.rebuildWindows();
    const backlog = this.services.samples.unscored(this.config.name, BACKLOG_LIMIT);
    const before = this.rowsScored;
    const asSamples = backlog.map((r) => ({
      timestampMs: r.timestampMs,
      entity: entityValues(r.entity),
      values: r.values,
    }));
    for (let i = 0; i < asSamples.length; i += this.config.batchSize) {
      await this.score(asSamples.slice(i, i + this.config.batchSize), summary);
    }
    return this.rowsScored - before;
  }

  /** Featurise and score new rows (already buffered), in order; skipped rows are counted by reason. */
  async score(batch: readonly Sample[], summary: SummaryPeriod): Promise<void> {
    let pending: Pending[] = [];
    for (const sample of batch) {
      const key = entityKey(sample.entity);
      if (this.history.due(key)) {
        // Score what is pending first: the refresh then sees every earlier row scored, whatever the batch size.
        if (pending.length > 0) await this.run(pending, summary);
        pending = [];
        this.refreshStats(key, sample.entity, sample.timestampMs);
      }
      const result = this.featurizer.push({ line: 0, ...sample });
      if (result.status !== 'ok') {
        summary.addSkipped(result.status);
        continue;
      }
      pending.push({ sample, key, result });
      if (pending.length >= this.config.batchSize) {
        await this.run(pending, summary);
        pending = [];
      }
    }
    if (pending.length > 0) await this.run(pending, summary);
  }

  private async run(pending: Pending[], summary: SummaryPeriod): Promise<void> {
    const { session, services } = this;
    const { layout, scoring } = session.info.contract;
    const width = session.width;
    const input = new Float32Array(pending.length * width);
    pending.forEach((p, i) => input.set(p.result.vector, i * width));

    let output: Awaited<ReturnType<ModelSession['run']>>;
    try {
      output = await session.run(input, pending.length);
    } catch (err) {
      this.runFailures++;
      const code = isCellwatchError(err) ? err.code : 'MODEL_RUNTIME';
      services.errors.count(code);
      services.log.error({ pipeline: this.config.name, code, err: (err as Error).message }, 'scoring failed');
      summary.addSkipped('model_error', pending.length);
      return;
    }

    const scores: ScoreRow[] = [];
    const events: AlarmEvent[] = [];
    const kpiErrors = new Float64Array(layout.kpis.length);
    for (let i = 0; i < pending.length; i++) {
      const { sample, key, result } = pending[i] as Pending;
      const score = output.score[i] as number;
      const threshold = this.thresholds.threshold(key);
      const flagged = score > threshold;
      const offset = i * width;
      for (let k = 0; k < kpiErrors.length; k++) {
        const d = (input[offset + k] as number) - (output.reconstruction[offset + k] as number);
        kpiErrors[k] = d * d;
      }
      summary.addScore(score, flagged, kpiErrors);
      if (flagged) this.rowsFlagged++;
      if (this.dryRun) continue;
      scores.push({ entity: key, timestampMs: sample.timestampMs, score, flagged });

      const context = { observed: result.filled, stats: result.stats };
      const top = flagged
        ? topContributions(layout, scoring.weights, input, output.reconstruction, offset, context, services.topKpis)
        : [];
      const row: ScoredRow = {
        pipeline: this.config.name,
        entity: key,
        timestampMs: sample.timestampMs,
        score,
        threshold,
        flagged,
        top,
        modelVersion: this.modelLabel,
        silenced: services.isSilenced(key, sample.timestampMs),
      };
      events.push(...services.alarms.observe(row));
    }
    this.rowsScored += pending.length;
    if (this.dryRun) return;

    try {
      services.samples.recordScores(this.config.name, scores);
    } catch (err) {
      const code = isCellwatchError(err) ? err.code : 'STORAGE_WRITE';
      services.errors.count(code);
      services.log.error({ pipeline: this.config.name, code, err: (err as Error).message }, 'score write failed');
    }
    if (events.length > 0) services.onAlarms(events);
  }

  /** The entity's level has shifted since sinceMs: rebuild its statistics from the rows after the shift. */
  rebaseline(key: string, sinceMs: number): void {
    if (!this.config.normalization.adaptOnLevelShift) return;
    this.history.rebaseline(key, sinceMs);
    this.services.log.info({ pipeline: this.config.name, entity: key, sinceMs }, 'level shift: rebaselining');
  }

  /**
   * Recompute an entity's statistics from its scored history (rows of the batch in hand are not scored yet
   * and stay out, so batch size never changes the result). After a level shift, all rows since the shift
   * count, and the entity's threshold is then calibrated on the scores that follow.
   */
  private refreshStats(key: string, entity: readonly string[], nowMs: number): void {
    const { samples, log } = this.services;
    const { maxHistoryRows } = this.config.normalization;
    const name = this.config.name;
    const shiftedSince = this.history.shiftedSince(key);
    if (shiftedSince === undefined) {
      const rows = samples.history(name, key, maxHistoryRows, { excludeFlagged: true }).filter((r) => r.score !== null);
      this.history.refresh(entity, rows);
    } else {
      const since = samples.history(name, key, maxHistoryRows).filter((r) => r.timestampMs >= shiftedSince);
      if (
        this.history.refresh(
          entity,
          since.filter((r) => r.score !== null),
        )
      ) {
        log.info({ pipeline: name, entity: key, rows: since.length }, 'entity rebaselined');
        this.thresholds.startCalibration(key, nowMs);
      }
    }
    if (this.thresholds.isCalibrating(key)) {
      const threshold = this.thresholds.calibrate(key, samples.history(name, key, maxHistoryRows));
      if (threshold !== undefined) log.info({ pipeline: name, entity: key, threshold }, 'entity threshold calibrated');
    }
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/**
 * Load and check a pipeline's model: its KPIs must be the pipeline's features (the configured ones, or those
 * of the model that ran before, since buffered rows are stored by position), its keys among its columns.
 */
export async function loadPipelineModel(
  config: PipelineConfig,
  model: string | Uint8Array,
  features: readonly string[] | undefined = config.features,
): Promise<ModelSession> {
  const session = typeof model === 'string' ? await ModelSession.fromFile(model) : await ModelSession.fromBytes(model);
  const { layout, normalization } = session.info.contract;
  if (features && features.join('\n') !== layout.kpis.join('\n')) {
    await session.close();
    throw pipelineError(config.name, 'features differ from the model KPIs (names and order must match)', {
      features,
      modelKpis: layout.kpis,
    });
  }
  const missing = normalization.entityColumns.filter((c) => !config.entity.columns.includes(c));
  if (missing.length > 0) {
    await session.close();
    throw pipelineError(config.name, `entity columns lack the model's keys: ${missing.join(', ')}`, { missing });
  }
  return session;
}
