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
 * Weights that turn squared errors into a score. Only the current row's KPIs count: lagged rows and
 * calendar columns are context. 'uniform' is the plain mean squared error over the KPIs (the field method);
 * 'inverse_error' divides each KPI's error by its typical validation error, so a KPI the model reconstructs
 * tightly (RSRP, success rates) is not drowned by a noisy one (users, throughput). The floor stops a KPI
 * that never moved in training from dominating every score.
 */
export function scoreWeights(layout: Layout, validationErrors: Float64Array, weighting: ScoreWeighting): number[] {
  const columns = inputWidth(layout);
  const weights = new Array<number>(columns).fill(0);
  // The scored columns: the current row's KPIs and, when present, the frozen share that follows the window.
  const scored = Array.from({ length: layout.kpis.length }, (_, j) => j);
  if (layout.frozenShare) scored.push(layout.window * layout.kpis.length);
  const k = scored.length;
  if (weighting === 'uniform' || validationErrors.length === 0) {
    for (const j of scored) weights[j] = 1 / k;
    return weights;
  }
  const rows = validationErrors.length / columns;
  const meanError = scored.map((j) => {
    let sum = 0;
    for (let n = 0; n < rows; n++) sum += validationErrors[n * columns + j] as number;
    return sum / rows;
  });
  const average = meanError.reduce((a, b) => a + b, 0) / k;
  const floor = Math.max(0.05 * average, 1e-6);
  scored.forEach((j, i) => (weights[j] = 1 / (k * Math.max(meanError[i] as number, floor))));
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
