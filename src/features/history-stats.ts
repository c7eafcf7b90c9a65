import type { KpiRow } from '../io/table.js';
import type { Normalization } from '../model/contract.js';
import { computeNormalization } from '../train/dataset.js';

/** One buffered row of an entity's history, as the buffer returns it. */
export interface HistoryRow {
  timestampMs: number;
  values: Float64Array;
}

export interface HistoryStatsOptions {
  /** Rows of the entity's own history needed before its statistics replace the model's. */
  minHistoryRows: number;
  /** New rows between two recomputations. */
  refreshRows: number;
  /** With hour-of-day seasonality, an hour needs this many rows of its own to get its own statistics. */
  minRowsPerBucket: number;
}

/**
 * Normalisation from each entity's own recent history. A model's statistics describe the entity as it was
 * in training; a site that was re-planned, or one the model never saw, is judged against its own recent
 * normal instead, once there is enough of it. Flagged rows are left out by the caller, so an anomaly does
 * not become the new normal.
 */
export class HistoryStats {
  private readonly rowsSinceRefresh = new Map<string, number>();
  private readonly ownStats = new Set<string>();
  /** Entities whose level has shifted: their next statistics come from every row since the shift. */
  private readonly shifted = new Map<string, number>();

  /**
   * @param normalization the featurizer's own (mutable) copy: refreshed buckets are written into it
   * @param entityColumns the pipeline's entity columns, in row order
   */
  constructor(
    private readonly normalization: Normalization,
    private readonly entityColumns: readonly string[],
    private readonly features: readonly string[],
    private readonly utcOffsetMinutes: number,
    private readonly options: HistoryStatsOptions,
  ) {}

  /** Entities now normalised with their own history. */
  get entitiesWithOwnStats(): number {
    return this.ownStats.size;
  }

  /**
   * The alarm layer saw the entity's level move for good. Flagged rows are normally kept out of the
   * statistics, but after a shift nearly every row is flagged, so the entity would be judged against its old
   * level forever; its next statistics are computed from all its rows since the shift instead.
   */
  rebaseline(entityKey: string, sinceMs: number): void {
    this.shifted.set(entityKey, sinceMs);
  }

  /** When the entity is waiting for a rebaseline, the time of the shift; else undefined. */
  shiftedSince(entityKey: string): number | undefined {
    return this.shifted.get(entityKey);
  }

  /** Count a new row of an entity; true when its statistics are due for a recomputation. */
  due(entityKey: string): boolean {
    const seen = (this.rowsSinceRefresh.get(entityKey) ?? this.options.refreshRows - 1) + 1;
    this.rowsSinceRefresh.set(entityKey, seen);
    return seen >= this.options.refreshRows;
  }

  /**
   * Recompute one entity's buckets from its history (newest first or any order). Returns false, and keeps
   * the model's statistics, while the history is shorter than minHistoryRows.
   */
  refresh(entity: readonly string[], history: readonly HistoryRow[]): boolean {
    const entityKey = entity.join('/');
    this.rowsSinceRefresh.set(entityKey, 0);
    if (history.length < this.options.minHistoryRows) return false;

    const rows: KpiRow[] = history.map((h) => ({
      line: 0,
      timestampMs: h.timestampMs,
      entity: [...entity],
      values: h.values,
    }));
    const fresh = computeNormalization(
      rows,
      { timestampColumn: 'timestamp', entityColumns: [...this.entityColumns], features: [...this.features] },
      {
        keyColumns: this.normalization.entityColumns,
        seasonality: this.normalization.seasonality,
        utcOffsetMinutes: this.utcOffsetMinutes,
        minRowsPerBucket: this.options.minRowsPerBucket,
      },
    );
    const buckets = Object.entries(fresh.entities);
    for (const [bucket, stats] of buckets) this.normalization.entities[bucket] = stats;
    if (buckets.length > 0) {
      this.ownStats.add(entityKey);
      this.shifted.delete(entityKey);
    }
    return buckets.length > 0;
  }
}

/**
 * The featurizer's working copy of a model's normalisation. A model normalised globally is turned into a
 * per-entity one keyed on all the pipeline's entity columns, with no entities yet: until an entity has a
 * history of its own, every lookup falls through to the model's global statistics, exactly as before.
 */
export function workingNormalization(model: Normalization, entityColumns: readonly string[]): Normalization {
  const copy = structuredClone(model);
  if (copy.mode === 'global') {
    copy.mode = 'per_entity';
    copy.entityColumns = [...entityColumns];
    copy.entities = {};
  }
  return copy;
}
