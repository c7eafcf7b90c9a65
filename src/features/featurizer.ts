import type { KpiRow } from '../io/table.js';
import type { KpiStatsT, Layout, Normalization } from '../model/contract.js';
import { inputWidth } from '../model/contract.js';
import { zScore } from './stats.js';
import { bucketKey, localHour, writeTimeFeatures } from './time-features.js';

export type SkipReason = 'incomplete' | 'warmup' | 'out_of_order';

export type FeatureResult =
  | { status: 'ok'; vector: Float32Array; filled: Float64Array; stats: KpiStatsT }
  | { status: SkipReason; filled: Float64Array };

interface SeriesState {
  lastTimestampMs: number;
  last: Float64Array;
  /** Rows since each KPI was last observed. */
  age: Float64Array;
  /** Normalised rows, most recent first, up to window − 1 of them. */
  history: Float64Array[];
}

/**
 * Turns a stream of raw rows into model inputs, one series (entity) at a time: forward fill within the
 * series up to a maximum gap, z-score with the entity's statistics, stack the window and add calendar
 * features. Used by training and scoring alike so both see exactly the same input.
 */
export class Featurizer {
  readonly width: number;
  private readonly series = new Map<string, SeriesState>();
  private readonly kpiCount: number;
  private readonly keyIndex: number[];

  /**
   * @param entityColumns the entity columns of the rows that will be pushed, in row order
   */
  constructor(
    private readonly layout: Layout,
    private readonly normalization: Normalization,
    entityColumns: readonly string[],
  ) {
    this.width = inputWidth(layout);
    this.kpiCount = layout.kpis.length;
    this.keyIndex =
      normalization.mode === 'global' ? [] : normalization.entityColumns.map((c) => entityColumns.indexOf(c));
  }

  /**
   * The statistics a row is normalised with: its entity's (for its local hour, with hourly seasonality),
   * else the fleet's for that hour, else the fleet's overall.
   */
  statsFor(entity: readonly string[], timestampMs: number): KpiStatsT {
    const { normalization } = this;
    const hour =
      normalization.seasonality === 'hour_of_day' ? localHour(timestampMs, this.layout.utcOffsetMinutes) : undefined;
    const fleet = (hour !== undefined ? normalization.fallbackByHour[hour] : undefined) ?? normalization.fallback;
    if (this.keyIndex.length === 0) return fleet;
    const key = this.keyIndex.map((i) => entity[i] ?? '').join('/');
    return normalization.entities[bucketKey(key, hour)] ?? fleet;
  }

  push(row: KpiRow): FeatureResult {
    const seriesKey = row.entity.join('/');
    let state = this.series.get(seriesKey);
    if (!state) {
      state = {
        lastTimestampMs: Number.NEGATIVE_INFINITY,
        last: new Float64Array(this.kpiCount).fill(Number.NaN),
        age: new Float64Array(this.kpiCount).fill(Number.POSITIVE_INFINITY),
        history: [],
      };
      this.series.set(seriesKey, state);
    }
    if (row.timestampMs <= state.lastTimestampMs) return { status: 'out_of_order', filled: row.values };
    state.lastTimestampMs = row.timestampMs;

    // Forward fill: a reading carries over at most maxFillRows rows, so a dead counter is not hidden for long.
    const filled = new Float64Array(this.kpiCount);
    let complete = true;
    let comparable = 0;
    let repeated = 0;
    for (let k = 0; k < this.kpiCount; k++) {
      const x = row.values[k] as number;
      if (!Number.isNaN(x) && state.age[k] === 0) {
        comparable++;
        if (x === state.last[k]) repeated++;
      }
      if (Number.isNaN(x)) {
        state.age[k] = (state.age[k] as number) + 1;
        const usable = (state.age[k] as number) <= this.layout.maxFillRows;
        filled[k] = usable ? (state.last[k] as number) : Number.NaN;
        if (!usable) complete = false;
      } else {
        state.age[k] = 0;
        state.last[k] = x;
        filled[k] = x;
      }
    }
    if (!complete) return { status: 'incomplete', filled };

    const stats = this.statsFor(row.entity, row.timestampMs);
    const normalised = new Float64Array(this.kpiCount);
    for (let k = 0; k < this.kpiCount; k++) {
      normalised[k] = zScore(filled[k] as number, stats.mean[k] as number, stats.std[k] as number);
    }

    const needed = this.layout.window - 1;
    const ready = state.history.length >= needed;
    const frozenShare = comparable > 0 ? repeated / comparable : 0;
    const vector = ready ? this.assemble(normalised, state.history, frozenShare, row.timestampMs) : undefined;
    if (needed > 0) {
      state.history.unshift(normalised);
      if (state.history.length > needed) state.history.pop();
    }
    return vector ? { status: 'ok', vector, filled, stats } : { status: 'warmup', filled };
  }

  private assemble(current: Float64Array, history: Float64Array[], frozenShare: number, timestampMs: number) {
    const vector = new Float32Array(this.width);
    vector.set(current, 0);
    for (let lag = 1; lag < this.layout.window; lag++) {
      vector.set(history[lag - 1] as Float64Array, lag * this.kpiCount);
    }
    let offset = this.layout.window * this.kpiCount;
    if (this.layout.frozenShare) vector[offset++] = frozenShare;
    writeTimeFeatures(vector, offset, this.layout.timeFeatures, timestampMs, this.layout.utcOffsetMinutes);
    return vector;
  }
}
