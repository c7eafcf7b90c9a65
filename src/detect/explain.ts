import { unZScore } from '../features/stats.js';
import { FROZEN_SHARE_COLUMN, type KpiStatsT, type Layout } from '../model/contract.js';

/** One KPI's part in a row's score, in the KPI's own units. */
export interface KpiContribution {
  kpi: string;
  observed: number;
  expected: number;
  /** Share of the row's score this KPI accounts for, 0 to 1. */
  share: number;
}

export interface RowContext {
  /** The row's readings after forward fill, in layout KPI order. */
  observed: Float64Array;
  stats: KpiStatsT;
}

/**
 * Name the KPIs behind a score: the scored columns ranked by weighted squared error, with the observed
 * reading and the model's reconstruction turned back into units with the row's statistics.
 */
export function topContributions(
  layout: Layout,
  weights: readonly number[],
  input: Float32Array,
  reconstruction: Float32Array,
  offset: number,
  context: RowContext,
  count: number,
): KpiContribution[] {
  const k = layout.kpis.length;
  const parts: { column: number; c: number }[] = [];
  let total = 0;
  const columns = Array.from({ length: k }, (_, j) => j);
  if (layout.frozenShare) columns.push(layout.window * k);
  for (const column of columns) {
    const d = (input[offset + column] as number) - (reconstruction[offset + column] as number);
    const c = (weights[column] as number) * d * d;
    parts.push({ column, c });
    total += c;
  }
  parts.sort((a, b) => b.c - a.c);
  return parts.slice(0, count).map(({ column, c }) => {
    const share = total > 0 ? c / total : 0;
    const expectedZ = reconstruction[offset + column] as number;
    if (column >= k) {
      return { kpi: FROZEN_SHARE_COLUMN, observed: input[offset + column] as number, expected: expectedZ, share };
    }
    const { mean, std } = context.stats;
    const expected = unZScore(expectedZ, mean[column] as number, std[column] as number);
    return { kpi: layout.kpis[column] as string, observed: context.observed[column] as number, expected, share };
  });
}

/** Compact text for a CSV cell: "dl_throughput_mbps 4.1 vs 35.2 (82%); sinr_db ...". */
export function formatContributions(parts: readonly KpiContribution[]): string {
  return parts
    .map((p) => `${p.kpi} ${round(p.observed)} vs ${round(p.expected)} (${Math.round(p.share * 100)}%)`)
    .join('; ');
}

function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value * 10) / 10 : Math.round(value * 100) / 100;
}
