import type { TimeFeature } from '../features/time-features.js';
import type { ScoreWeighting } from '../model/calibrate.js';
import type { Normalization } from '../model/contract.js';

/** The knobs that define a model; a variant is a named set of defaults for them. */
export interface ModelShape {
  window: number;
  frozenShare: boolean;
  timeFeatures: TimeFeature[];
  hidden: number[];
  bottleneck: number;
  /** Loss weight of the lagged rows' KPIs relative to the current row's (calendar columns always weigh 0). */
  lagLossWeight: number;
  scoreWeighting: ScoreWeighting;
  /** Weight of the window's earlier rows in the score, per row back (0: the current row only). */
  scoreLagDecay: number;
  seasonality: Normalization['seasonality'];
  /** Percentile of training errors kept for a second fit; 100 fits once on everything. */
  trimPercentile: number;
}

export const VARIANTS = {
  /** The field study's method: one row at a time, plain mean squared error. The baseline to beat. */
  field: {
    window: 1,
    frozenShare: false,
    timeFeatures: [],
    hidden: [16, 8],
    bottleneck: 3,
    lagLossWeight: 0,
    scoreWeighting: 'uniform',
    scoreLagDecay: 0,
    seasonality: 'none',
    trimPercentile: 100,
  },
  /**
   * Time context: the current row with the rows before it and the hour and day of week, and each KPI's
   * error scaled by its typical size. Still a dense autoencoder scored by reconstruction error.
   */
  context: {
    window: 3,
    frozenShare: true,
    timeFeatures: ['hour_of_day', 'day_of_week'],
    hidden: [32, 16],
    bottleneck: 3,
    lagLossWeight: 0.5,
    scoreWeighting: 'inverse_error',
    scoreLagDecay: 0,
    seasonality: 'hour_of_day',
    trimPercentile: 100,
  },
} as const satisfies Record<string, ModelShape>;

export type VariantName = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];
