import { Rng } from '../rng.js';
import type { SummaryPayload } from './payloads.js';

/** Enough scores for a p95 that moves by well under a percent, at a fixed 16 KiB per pipeline. */
const RESERVOIR_SIZE = 4_096;

type SummaryCounts = Pick<
  SummaryPayload,
  'rowsIn' | 'rowsScored' | 'rowsSkipped' | 'rowsFlagged' | 'incidentsOpened' | 'scoreMax' | 'meanErrorByKpi'
>;

/**
 * What one pipeline did during one summary period: counts, score percentiles (exact up to 4,096 scored
 * rows, from a uniform reservoir sample beyond) and the mean reconstruction error of each KPI.
 */
export class SummaryPeriod {
  private startMs: number;
  private rowsIn = 0;
  private rowsScored = 0;
  private rowsFlagged = 0;
  private incidentsOpened = 0;
  private skipped: Record<string, number> = {};
  private scores: number[] = [];
  private scoreMax = Number.NEGATIVE_INFINITY;
  private errorSums: Float64Array;
  private readonly rng = new Rng(7);

  constructor(
    private readonly kpis: readonly string[],
    nowMs: number,
  ) {
    this.startMs = nowMs;
    this.errorSums = new Float64Array(kpis.length);
  }

  addIn(rows: number): void {
    this.rowsIn += rows;
  }

  addSkipped(reason: string, rows = 1): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + rows;
  }

  addIncident(): void {
    this.incidentsOpened++;
  }

  /** One scored row: its score, whether it was flagged, and each KPI's squared error in z units. */
  addScore(score: number, flagged: boolean, kpiErrors: ArrayLike<number>): void {
    this.rowsScored++;
    if (flagged) this.rowsFlagged++;
    if (score > this.scoreMax) this.scoreMax = score;
    for (let k = 0; k < this.kpis.length; k++) this.errorSums[k] = (this.errorSums[k] as number) + (kpiErrors[k] ?? 0);

    if (this.scores.length < RESERVOIR_SIZE) {
      this.scores.push(score);
    } else {
      const slot = Math.floor(this.rng.next() * this.rowsScored);
      if (slot < RESERVOIR_SIZE) this.scores[slot] = score;
    }
  }

  /** Close the period: its figures, then a fresh period starting now. */
  take(nowMs: number): SummaryCounts & { periodStartMs: number; scoreP50: number | null; scoreP95: number | null } {
    const sorted = Float64Array.from(this.scores).sort();
    const meanErrorByKpi: Record<string, number> = {};
    if (this.rowsScored > 0) {
      this.kpis.forEach((kpi, k) => (meanErrorByKpi[kpi] = round((this.errorSums[k] as number) / this.rowsScored)));
    }
    const result = {
      periodStartMs: this.startMs,
      rowsIn: this.rowsIn,
      rowsScored: this.rowsScored,
      rowsSkipped: this.skipped,
      rowsFlagged: this.rowsFlagged,
      incidentsOpened: this.incidentsOpened,
      scoreP50: quantile(sorted, 0.5),
      scoreP95: quantile(sorted, 0.95),
      scoreMax: this.rowsScored > 0 ? round(this.scoreMax) : null,
      meanErrorByKpi,
    };
    this.startMs = nowMs;
    this.rowsIn = this.rowsScored = this.rowsFlagged = this.incidentsOpened = 0;
    this.skipped = {};
    this.scores = [];
    this.scoreMax = Number.NEGATIVE_INFINITY;
    this.errorSums = new Float64Array(this.kpis.length);
    return result;
  }
}

/** Nearest-rank quantile of sorted values; null when there are none. */
function quantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return round(sorted[index] as number);
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}
