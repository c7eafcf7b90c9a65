import { percentile } from '../model/calibrate.js';

/** A scored row of an entity's history, as the buffer returns it. */
interface ScoredHistoryRow {
  timestampMs: number;
  score: number | null;
}

/**
 * Per-entity thresholds for entities whose level has shifted. After a shift the entity is normalised with
 * its new level, but an autoencoder also learned how the KPIs move together, and a shifted entity can keep
 * scoring above the model's threshold on every row. Such an entity gets its own threshold: the model's
 * percentile of its own scores since the new statistics, never below the model's threshold, so it can
 * still raise incidents instead of staying muted in one endless level shift.
 */
export class EntityThresholds {
  private readonly own = new Map<string, number>();
  /** Entity → the time from which its scores reflect its new statistics. */
  private readonly calibrating = new Map<string, number>();

  constructor(
    private readonly modelThreshold: number,
    private readonly percentileP: number,
    /** Scored rows needed since the new statistics before the entity's own threshold is set. */
    private readonly minRows: number,
  ) {}

  threshold(entityKey: string): number {
    return this.own.get(entityKey) ?? this.modelThreshold;
  }

  get recalibrated(): number {
    return this.own.size;
  }

  /** The entity's statistics were rebuilt at sinceMs: calibrate its threshold on the scores that follow. */
  startCalibration(entityKey: string, sinceMs: number): void {
    this.calibrating.set(entityKey, sinceMs);
  }

  isCalibrating(entityKey: string): boolean {
    return this.calibrating.has(entityKey);
  }

  /**
   * Try to set the entity's threshold from its scored history (any order). Returns the new threshold, or
   * undefined while there are fewer than minRows scores since the calibration started.
   */
  calibrate(entityKey: string, history: readonly ScoredHistoryRow[]): number | undefined {
    const sinceMs = this.calibrating.get(entityKey);
    if (sinceMs === undefined) return undefined;
    const scores = history.filter((r) => r.timestampMs > sinceMs && r.score !== null).map((r) => r.score as number);
    if (scores.length < this.minRows) return undefined;
    const threshold = Math.max(this.modelThreshold, percentile(Float64Array.from(scores), this.percentileP));
    this.own.set(entityKey, threshold);
    this.calibrating.delete(entityKey);
    return threshold;
  }
}
