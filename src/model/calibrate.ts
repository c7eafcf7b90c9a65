import { inputWidth, type Layout } from './contract.js';

/** Linear-interpolated percentile (the usual "linear" definition), p in [0, 100]. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export type ScoreWeighting = 'uniform' | 'inverse_error';

/**
 * Weights that turn squared errors into a score. Calendar columns are context only. The current row's KPIs
 * (and the frozen share) count fully; with lagDecay > 0 the rows before it in the window count too, by
 * lagDecay^lag, so a fault that persists over the window scores higher than one noisy row.
 * 'uniform' is the plain mean squared error over the KPIs (the field method); 'inverse_error' divides each
 * column's error by its typical validation error, so a KPI the model reconstructs tightly (RSRP, success
 * rates) is not drowned by a noisy one (users, throughput). The floor stops a KPI that never moved in
 * training from dominating every score. Weights sum to 1 before the inverse-error scaling.
 */
export function scoreWeights(
  layout: Layout,
  validationErrors: Float64Array,
  weighting: ScoreWeighting,
  lagDecay = 0,
): number[] {
  const columns = inputWidth(layout);
  const k = layout.kpis.length;
  const weights = new Array<number>(columns).fill(0);
  const share = new Map<number, number>();
  for (let lag = 0; lag < layout.window; lag++) {
    const w = lag === 0 ? 1 : lagDecay ** lag;
    if (w > 0) for (let j = 0; j < k; j++) share.set(lag * k + j, w);
  }
  if (layout.frozenShare) share.set(layout.window * k, 1);
  const total = [...share.values()].reduce((a, b) => a + b, 0);
  const rows = validationErrors.length / columns;
  const meanError = new Map<number, number>();
  for (const j of share.keys()) {
    let sum = 0;
    for (let n = 0; n < rows; n++) sum += validationErrors[n * columns + j] as number;
    meanError.set(j, rows > 0 ? sum / rows : 1);
  }
  const average = [...meanError.values()].reduce((a, b) => a + b, 0) / Math.max(1, meanError.size);
  const floor = Math.max(0.05 * average, 1e-6);
  for (const [j, w] of share) {
    const scale = weighting === 'uniform' || rows === 0 ? 1 : 1 / Math.max(meanError.get(j) ?? 1, floor);
    weights[j] = (w / total) * scale;
  }
  return weights;
}

/** Per-row score from squared errors and weights. */
export function scoresFromErrors(errors: Float64Array, weights: readonly number[]): Float64Array {
  const width = weights.length;
  const rows = errors.length / width;
  const scores = new Float64Array(rows);
  for (let n = 0; n < rows; n++) {
    let s = 0;
    for (let j = 0; j < width; j++) s += (weights[j] as number) * (errors[n * width + j] as number);
    scores[n] = s;
  }
  return scores;
}
