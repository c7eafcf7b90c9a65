import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The payload of every message cellwatch publishes. These schemas are the contract with the central side:
 * the README's JSON Schemas are generated from them (scripts/payload-schemas.ts) and the integration tests
 * validate what really crossed the broker against them.
 */

function Obj<T extends Record<string, TSchema>>(properties: T, description?: string) {
  return Type.Object(properties, { additionalProperties: false, description });
}

const IsoTime = Type.String({ format: 'date-time' });
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

/** Fields every message carries, so a consumer can deduplicate and order what it receives. */
const Envelope = {
  /** Unique per message (UUID); a message delivered twice by QoS 1 carries the same id. */
  messageId: Type.String({ format: 'uuid' }),
  site: Type.String({ minLength: 1 }),
  /** When the agent created the message, not when it was sent. */
  createdAt: IsoTime,
  /** Present and true when the message waited in the outbox through an outage or a restart. */
  replayed: Type.Optional(Type.Boolean()),
};

export const KpiContributionSchema = Obj({
  kpi: Type.String(),
  /** The reading after forward fill, in the KPI's own unit. */
  observed: NullableNumber,
  /** The model's reconstruction turned back into the KPI's unit: what the model expected. */
  expected: NullableNumber,
  /** Share of the row's score this KPI accounts for, 0 to 1. */
  share: Type.Number({ minimum: 0, maximum: 1 }),
});

export const IncidentSchema = Obj({
  incidentId: Type.String({ minLength: 1 }),
  pipeline: Type.String(),
  /** Entity key: the entity column values joined by "/", e.g. "SITE-042/2". */
  entity: Type.String(),
  modelId: Type.String(),
  modelVersion: Type.Integer({ minimum: 1 }),
  /** The first flagged row of the rows that opened the incident: when the anomaly began. */
  firstFlaggedAt: IsoTime,
  /** The row that met the open rule (M flagged rows within the window). */
  openedAt: IsoTime,
  lastFlaggedAt: IsoTime,
  /** close only: the row that completed the run of clean rows. */
  closedAt: Type.Optional(IsoTime),
  /** From the first to the last flagged row. */
  durationS: Type.Number({ minimum: 0 }),
  rows: Type.Integer({ minimum: 0 }),
  flaggedRows: Type.Integer({ minimum: 0 }),
  peakScore: Type.Number(),
  peakAt: IsoTime,
  threshold: Type.Number(),
  /** The KPIs behind the peak row's score, largest share first. */
  topKpis: Type.Array(KpiContributionSchema),
});

export const AnomalyPayloadSchema = Obj(
  {
    ...Envelope,
    /**
     * open, update (while open) and close follow one incident; level_shift replaces an incident whose flags
     * do not stop: the entity's normal level has moved and the model needs retraining.
     */
    event: Type.Union(['open', 'update', 'close', 'level_shift'].map((e) => Type.Literal(e))),
    incident: IncidentSchema,
  },
  'an incident opened, updated, closed, or turned into a level-shift notice',
);

export const StatusPayloadSchema = Obj(
  {
    ...Envelope,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    agentVersion: Type.String(),
    startedAt: IsoTime,
    /** offline only: "shutdown" when the agent stopped cleanly, "lost" when the broker sent the last will. */
    reason: Type.Optional(Type.Union([Type.Literal('shutdown'), Type.Literal('lost')])),
  },
  'retained: online on connect; offline as the last will and on clean shutdown',
);

export const SummaryPayloadSchema = Obj(
  {
    ...Envelope,
    pipeline: Type.String(),
    periodStart: IsoTime,
    periodEnd: IsoTime,
    modelId: Type.Union([Type.String(), Type.Null()]),
    modelVersion: Type.Union([Type.Integer(), Type.Null()]),
    rowsIn: Type.Integer({ minimum: 0 }),
    rowsScored: Type.Integer({ minimum: 0 }),
    /** Rows not scored, by reason: incomplete (a KPI missing past the fill limit), warmup, out_of_order... */
    rowsSkipped: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    rowsFlagged: Type.Integer({ minimum: 0 }),
    incidentsOpened: Type.Integer({ minimum: 0 }),
    incidentsOpen: Type.Integer({ minimum: 0 }),
    /** Score percentiles over the period (from a 4,096-row reservoir when more rows were scored). */
    scoreP50: NullableNumber,
    scoreP95: NullableNumber,
    scoreMax: NullableNumber,
    threshold: NullableNumber,
    /** Mean squared reconstruction error of each KPI's current value, in z-score units. */
    meanErrorByKpi: Type.Record(Type.String(), Type.Number()),
  },
  'one per pipeline every summary interval',
);

export const PipelineHealthSchema = Obj({
  name: Type.String(),
  source: Type.String(),
  /** Seconds since the newest row arrived (wall clock); null before the first row. */
  lastSampleAgeS: NullableNumber,
  /** True when the newest row is older than three sampling intervals. */
  stale: Type.Boolean(),
  /** A finite source (a replayed file) has delivered everything. */
  sourceEnded: Type.Boolean(),
  rowsIn: Type.Integer({ minimum: 0 }),
  rowsScored: Type.Integer({ minimum: 0 }),
  modelId: Type.Union([Type.String(), Type.Null()]),
  modelVersion: Type.Union([Type.Integer(), Type.Null()]),
  /** Entities normalised with their own buffered history rather than the model's statistics. */
  entitiesOwnStats: Type.Integer({ minimum: 0 }),
  /** Entities scored against a threshold of their own, calibrated after a level shift. */
  entitiesOwnThreshold: Type.Integer({ minimum: 0 }),
  /** Sources that take whole files (drop directories): files read, and files moved to quarantine, since start. */
  files: Type.Optional(Obj({ ingested: Type.Integer({ minimum: 0 }), quarantined: Type.Integer({ minimum: 0 }) })),
});

export const HealthPayloadSchema = Obj(
  {
    ...Envelope,
    uptimeS: Type.Number({ minimum: 0 }),
    rssBytes: Type.Integer({ minimum: 0 }),
    /** Process CPU time over the last health interval, as a share of one core (100 = one core busy). */
    cpuPct: Type.Number({ minimum: 0 }),
    buffer: Obj({ rows: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 0 }) }),
    outbox: Obj({
      messages: Type.Integer({ minimum: 0 }),
      bytes: Type.Integer({ minimum: 0 }),
      /** Messages dropped since the buffer was created, by kind (the outbox was full, or they expired). */
      dropped: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    }),
    mqtt: Obj({ connected: Type.Boolean(), reconnects: Type.Integer({ minimum: 0 }) }),
    pipelines: Type.Array(PipelineHealthSchema),
    /** What the alarm layer decided since start: opens hidden by the rate limit or by maintenance are counted. */
    alarms: Obj({
      opened: Type.Integer({ minimum: 0 }),
      closed: Type.Integer({ minimum: 0 }),
      levelShifts: Type.Integer({ minimum: 0 }),
      open: Type.Integer({ minimum: 0 }),
      rateLimited: Type.Integer({ minimum: 0 }),
      silenced: Type.Integer({ minimum: 0 }),
    }),
    /** Errors counted since start, by code (docs/errors.md). */
    errors: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    maintenance: Type.Array(
      Obj({ id: Type.String(), entity: Type.Union([Type.String(), Type.Null()]), start: IsoTime, end: IsoTime }),
    ),
  },
  'retained, every health interval',
);

export const EventPayloadSchema = Obj(
  {
    ...Envelope,
    /** What happened to the agent itself (not to the network): see the README for each type. */
    event: Type.Union(
      [
        'storage_recovered',
        'outbox_dropped',
        'maintenance_started',
        'maintenance_ended',
        'command_rejected',
        'rate_limited',
      ].map((e) => Type.Literal(e)),
    ),
    code: Type.Optional(Type.String()),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
  },
  'agent events: buffer recovered, messages dropped, maintenance, rejected commands',
);

/** Where a pipeline's active model came from. */
const ModelOrigin = Type.Union([Type.Literal('config'), Type.Literal('push'), Type.Literal('local')]);

export const ModelResultPayloadSchema = Obj(
  {
    ...Envelope,
    /** What was asked or what happened: a pushed bundle, a rollback command, an automatic rollback, training. */
    action: Type.Union([
      Type.Literal('push'),
      Type.Literal('rollback'),
      Type.Literal('auto_rollback'),
      Type.Literal('local_training'),
    ]),
    result: Type.Union([Type.Literal('accepted'), Type.Literal('rejected'), Type.Literal('rolled_back')]),
    /** The pipeline, model id and version the bundle or command named, when it could be read. */
    pipeline: Type.Union([Type.String(), Type.Null()]),
    modelId: Type.Union([Type.String(), Type.Null()]),
    version: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** The error code of a refusal or a rollback (BUNDLE_*, MODEL_*). */
    code: Type.Optional(Type.String()),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
  },
  'the outcome of every model push, rollback and on-device training',
);

export const ActiveModelSchema = Obj({
  modelId: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  origin: ModelOrigin,
  /** The key that signed a pushed bundle; null for a model from the config or trained on the box. */
  keyId: Type.Union([Type.String(), Type.Null()]),
  sha256: Type.String(),
  activatedAt: Type.Union([IsoTime, Type.Null()]),
});

export const ModelStatePayloadSchema = Obj(
  {
    ...Envelope,
    pipelines: Type.Array(
      Obj({
        pipeline: Type.String(),
        active: Type.Union([ActiveModelSchema, Type.Null()]),
        /** Versions a rollback returns to, the next one first. */
        previous: Type.Array(Type.Integer({ minimum: 1 })),
        /** A pipeline with model: auto: how far its baseline is, or what training is doing. */
        training: Type.Union([
          Obj({
            state: Type.Union([
              Type.Literal('collecting'),
              Type.Literal('training'),
              Type.Literal('idle'),
              Type.Literal('failed'),
            ]),
            baselineHours: Type.Number({ minimum: 0 }),
            neededHours: Type.Number({ minimum: 0 }),
            lastTrainedAt: Type.Union([IsoTime, Type.Null()]),
          }),
          Type.Null(),
        ]),
      }),
    ),
  },
  'retained: the active model of every pipeline, after every change',
);

export type KpiContributionPayload = Static<typeof KpiContributionSchema>;
export type IncidentPayload = Static<typeof IncidentSchema>;
export type AnomalyPayload = Static<typeof AnomalyPayloadSchema>;
export type StatusPayload = Static<typeof StatusPayloadSchema>;
export type SummaryPayload = Static<typeof SummaryPayloadSchema>;
export type PipelineHealth = Static<typeof PipelineHealthSchema>;
export type HealthPayload = Static<typeof HealthPayloadSchema>;
export type EventPayload = Static<typeof EventPayloadSchema>;
export type ModelResultPayload = Static<typeof ModelResultPayloadSchema>;
export type ModelStatePayload = Static<typeof ModelStatePayloadSchema>;
export type ActiveModelPayload = Static<typeof ActiveModelSchema>;

/** A payload without its envelope: what the part of the agent that makes a message fills in. */
export type PayloadBody<T> = Omit<T, 'messageId' | 'site' | 'createdAt' | 'replayed'>;

/** Topic suffix → payload schema; the topic is <prefix>/<site>/<suffix>. */
export const TOPIC_SCHEMAS = {
  status: StatusPayloadSchema,
  anomaly: AnomalyPayloadSchema,
  summary: SummaryPayloadSchema,
  health: HealthPayloadSchema,
  event: EventPayloadSchema,
  'model/result': ModelResultPayloadSchema,
  'model/state': ModelStatePayloadSchema,
} as const;

export type TopicName = keyof typeof TOPIC_SCHEMAS;
