/** Mean and standard deviation of each KPI for one normalisation key (an entity, or the whole fleet). */
export interface KpiStats {
  mean: number[];
  std: number[];
  /** Readings the statistics were computed from, per KPI. */
  count: number[];
}

/** Below this spread a KPI is treated as constant: its z-score is 0 when it holds still, not Infinity. */
export const MIN_STD = 1e-6;

/** Welford's running mean and variance, one accumulator per KPI, skipping missing (NaN) readings. */
export class StatsAccumulator {
  private readonly n: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(readonly width: number) {
    this.n = new Float64Array(width);
    this.mean = new Float64Array(width);
    this.m2 = new Float64Array(width);
  }

  add(values: ArrayLike<number>): void {
    for (let k = 0; k < this.width; k++) {
      const x = values[k] as number;
      if (Number.isNaN(x)) continue;
      const n = (this.n[k] as number) + 1;
      const delta = x - (this.mean[k] as number);
      const mean = (this.mean[k] as number) + delta / n;
      this.n[k] = n;
      this.mean[k] = mean;
      this.m2[k] = (this.m2[k] as number) + delta * (x - mean);
    }
  }

  result(): KpiStats {
    const mean: number[] = [];
    const std: number[] = [];
    const count: number[] = [];
    for (let k = 0; k < this.width; k++) {
      const n = this.n[k] as number;
      mean.push(n > 0 ? (this.mean[k] as number) : 0);
      std.push(n > 1 ? Math.sqrt((this.m2[k] as number) / (n - 1)) : 0);
      count.push(n);
    }
    return { mean, std, count };
  }
}

/**
 * Beyond this a z-score says nothing more, and its square must stay finite in float32 (max 3.4e38):
 * a reading a thousand deviations out is clamped there and still scores as wildly anomalous.
 */
export const MAX_ABS_Z = 1000;

/** z-score one value; a constant KPI maps to its distance from the mean in raw units scaled by 1. */
export function zScore(value: number, mean: number, std: number): number {
  const z = (value - mean) / (std < MIN_STD ? 1 : std);
  return Math.max(-MAX_ABS_Z, Math.min(MAX_ABS_Z, z));
}

export function unZScore(z: number, mean: number, std: number): number {
  return mean + z * (std < MIN_STD ? 1 : std);
}
