import { Type, type Static } from '@sinclair/typebox';
import { TIME_FEATURES } from '../features/time-features.js';

/**
 * The model contract: everything the agent needs to turn raw KPI rows into the model's input and its
 * output into a score travels inside the ONNX file as metadata_props. These schemas are the single source
 * of truth for both the TypeScript types and the validation of a model read from disk.
 */
export const CONTRACT_VERSION = 1;

const Numbers = Type.Array(Type.Number());

export const KpiStatsSchema = Type.Object(
  { mean: Numbers, std: Numbers, count: Numbers },
  { additionalProperties: false },
);

export const LayoutSchema = Type.Object(
  {
    /** KPI names in input order. */
    kpis: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    /** Rows per input vector: the current row first, then the rows before it. */
    window: Type.Integer({ minimum: 1, maximum: 64 }),
    /**
     * Add one column: the share of KPIs whose reading equals the previous reading exactly. Real counters
     * are noisy, so a row that repeats itself is a frozen (stale) feed, invisible one value at a time.
     */
    frozenShare: Type.Boolean(),
    timeFeatures: Type.Array(Type.Union(TIME_FEATURES.map((f) => Type.Literal(f)))),
    /** Offset of the sites' local time from UTC, for the time features. */
    utcOffsetMinutes: Type.Integer({ minimum: -840, maximum: 840 }),
    /** How many consecutive missing readings of a KPI are filled with its last value. */
    maxFillRows: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const NormalizationSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('per_entity'), Type.Literal('global')]),
    /** Columns whose values form the normalisation key, for example ["site", "sector"]. */
    entityColumns: Type.Array(Type.String()),
    /**
     * 'hour_of_day' keeps statistics per local hour (keys "SITE-001/1@13"), so a KPI is compared with its
     * usual level at that hour: a quiet cell at 15:00 stands out, a quiet cell at 03:00 does not.
     */
    seasonality: Type.Union([Type.Literal('none'), Type.Literal('hour_of_day')]),
    /** Statistics over all training rows, for entities the model has not seen. */
    fallback: KpiStatsSchema,
    /** With hour_of_day seasonality: fleet-wide statistics per local hour (24 entries), else empty. */
    fallbackByHour: Type.Array(KpiStatsSchema, { maxItems: 24 }),
    entities: Type.Record(Type.String(), KpiStatsSchema),
  },
  { additionalProperties: false },
);

export const ScoringSchema = Type.Object(
  {
    /** score = sum over input columns of weight × (input − reconstruction)²; one weight per column. */
    weights: Numbers,
    threshold: Type.Number({ minimum: 0 }),
    thresholdPercentile: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);

export const TrainingSummarySchema = Type.Object(
  {
    variant: Type.String(),
    rows: Type.Integer({ minimum: 0 }),
    validationRows: Type.Integer({ minimum: 0 }),
    skippedRows: Type.Integer({ minimum: 0 }),
    /** Rows left out of the second fit as the worst reconstructed of the first. */
    trimmedRows: Type.Optional(Type.Integer({ minimum: 0 })),
    epochs: Type.Integer({ minimum: 0 }),
    bestEpoch: Type.Integer({ minimum: 0 }),
    trainLoss: Type.Number(),
    validationLoss: Type.Number(),
    seed: Type.Integer(),
    durationS: Type.Number({ minimum: 0 }),
    createdAt: Type.String(),
    hidden: Type.Array(Type.Integer({ minimum: 1 })),
    bottleneck: Type.Integer({ minimum: 1 }),
    learningRate: Type.Number({ exclusiveMinimum: 0 }),
    batchSize: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const ContractSchema = Type.Object(
  {
    contractVersion: Type.Literal(CONTRACT_VERSION),
    modelId: Type.String({ minLength: 1 }),
    modelVersion: Type.Integer({ minimum: 1 }),
    layout: LayoutSchema,
    normalization: NormalizationSchema,
    scoring: ScoringSchema,
    training: Type.Optional(TrainingSummarySchema),
  },
  { additionalProperties: false },
);

export type KpiStatsT = Static<typeof KpiStatsSchema>;
export type Layout = Static<typeof LayoutSchema>;
export type Normalization = Static<typeof NormalizationSchema>;
export type Scoring = Static<typeof ScoringSchema>;
export type TrainingSummary = Static<typeof TrainingSummarySchema>;
export type ModelContract = Static<typeof ContractSchema>;

export const FROZEN_SHARE_COLUMN = 'frozen_share';

/** metadata_props key for each contract field; values are JSON except the plain strings noted. */
export const METADATA_KEYS = {
  contractVersion: 'cellwatch.contract_version',
  modelId: 'cellwatch.model_id',
  modelVersion: 'cellwatch.model_version',
  layout: 'cellwatch.layout',
  normalization: 'cellwatch.normalization',
  scoring: 'cellwatch.scoring',
  training: 'cellwatch.training',
} as const satisfies Record<keyof ModelContract, string>;

/** Input width the layout implies: window × KPIs, the frozen share, then a sine and a cosine per time feature. */
export function inputWidth(layout: Layout): number {
  return layout.window * layout.kpis.length + (layout.frozenShare ? 1 : 0) + 2 * layout.timeFeatures.length;
}

/** Names of the input columns, in order, e.g. sinr_db, sinr_db@t-1, hour_of_day_sin. */
export function inputColumns(layout: Layout): string[] {
  const columns: string[] = [];
  for (let lag = 0; lag < layout.window; lag++) {
    for (const kpi of layout.kpis) columns.push(lag === 0 ? kpi : `${kpi}@t-${lag}`);
  }
  if (layout.frozenShare) columns.push(FROZEN_SHARE_COLUMN);
  for (const f of layout.timeFeatures) columns.push(`${f}_sin`, `${f}_cos`);
  return columns;
}
