import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The agent's configuration: this schema is the single source of truth for the YAML file's shape, its
 * defaults and the TypeScript type. Every object refuses unknown keys, so a misspelt option is an error
 * with its key path instead of a silently ignored line.
 */

function Obj<T extends Record<string, TSchema>>(properties: T, description?: string) {
  return Type.Object(properties, { additionalProperties: false, description });
}

/** A section whose every key has a default, so the whole section may be left out. */
function Section<T extends Record<string, TSchema>>(properties: T, description?: string) {
  return Type.Object(properties, { additionalProperties: false, description, default: {} });
}

/** One of a fixed set of values, as a JSON Schema enum (a union of literals reports one error per member). */
function Enum<const T extends string | number>(
  values: readonly T[],
  options: { default?: T; description?: string } = {},
) {
  return Type.Unsafe<T>({ type: typeof values[0] === 'number' ? 'integer' : 'string', enum: values, ...options });
}

const PositiveInt = (description: string, defaultValue?: number) =>
  Type.Integer({ minimum: 1, description, default: defaultValue });

/** A secret is never written inline: it is read from a file or an environment variable at start-up. */
export const SecretSchema = Type.Union(
  [Obj({ file: Type.String({ minLength: 1 }) }), Obj({ env: Type.String({ minLength: 1 }) })],
  { description: 'read from a file ({file: path}) or an environment variable ({env: NAME})' },
);

const EntityName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

export const SystemSourceSchema = Obj({
  type: Type.Literal('system'),
  /** Network interface for the throughput metrics; default: the interface of the default route. */
  iface: Type.Optional(Type.String({ minLength: 1 })),
  /** A call to systeminformation that takes longer than this is abandoned for the tick; its KPIs are missing. */
  callTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2_000 }),
});

export const FileSourceSchema = Obj({
  type: Type.Literal('file'),
  /** A CSV or JSONL file (optionally .gz for replay), or a drop directory of such files. */
  path: Type.String({ minLength: 1 }),
  /**
   * follow: read what is in the file, then new lines as they are appended (tail -F).
   * replay: read the file once, pacing rows by their own timestamps divided by `speed`.
   * directory: take each complete file that appears in `path`, then move it to `path/done`.
   */
  mode: Enum(['follow', 'replay', 'directory'], { default: 'follow' }),
  /** Replay pace: 3600 plays an hour of rows in a second; 0 plays as fast as the agent takes them. */
  speed: Type.Number({ minimum: 0, default: 1 }),
  timestampColumn: Type.String({ minLength: 1, default: 'timestamp' }),
  /** Follow mode: start at the end of the file instead of its beginning on first start. */
  fromEnd: Type.Boolean({ default: false }),
  /** How often a followed file or drop directory is checked for new data. */
  pollMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 1_000 }),
});

/** How a measured object becomes an entity: the first rule whose patterns match gives the entity's values. */
export const EntityRuleSchema = Obj({
  /**
   * Regular expressions with named groups, matched against the managed element's DN and the measured
   * object's DN (measObjLdn); each named group fills the entity column of that name.
   */
  element: Type.Optional(Type.String({ minLength: 1 })),
  object: Type.Optional(Type.String({ minLength: 1 })),
  /** Fixed values for entity columns the patterns do not fill. */
  set: Type.Record(Type.String(), Type.String(), { default: {} }),
});

/** How raw measurement values are read, per measurement name ('*' matches any run of characters). */
export const CounterRuleSchema = Obj({
  match: Type.String({ minLength: 1 }),
  /**
   * gauge: the value as reported (3GPP counters are per period already).
   * cumulative: a running total; the per-period delta is used, unknown across a gap, reset or late file.
   */
  kind: Enum(['gauge', 'cumulative'], { default: 'gauge' }),
  /** Counter width, so a wrap of a cumulative counter is told from a reset. */
  widthBits: Type.Optional(Enum([32, 64])),
  /** A PDF/bin (array) value: skipped and counted unless a rule says how to read it. */
  array: Enum(['skip', 'sum', 'bin'], { default: 'skip' }),
  /** With array: bin, the 0-based bin to take. */
  bin: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const PmSourceSchema = Obj({
  type: Type.Literal('pm'),
  /** The drop directory the element manager or collector writes PM files into. */
  path: Type.String({ minLength: 1 }),
  /** xml: 3GPP TS 32.435 / 28.532 (plain or gzip); ves: VES JSON events; auto: told by the content. */
  format: Enum(['auto', 'xml', 'ves'], { default: 'auto' }),
  pollMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 5_000 }),
  /** After a file is read: a folder to move it to (relative to path, or absolute), or "delete". */
  processed: Type.String({ minLength: 1, default: 'done' }),
  /** Files that cannot be used go here, each with a .reason.txt; relative to path, or absolute. */
  quarantine: Type.String({ minLength: 1, default: 'quarantine' }),
  /** Default (no rules): the first entity column is the element's last RDN value, the last the object's. */
  entities: Type.Array(EntityRuleSchema, { default: [] }),
  counters: Type.Array(CounterRuleSchema, { default: [] }),
  /**
   * KPI name → formula over measurement names, e.g. "100 * RRC.ConnEstabSucc / RRC.ConnEstabAtt". A feature
   * without a formula here takes the built-in TS 28.552 mapping, or must be a measurement name itself.
   */
  kpis: Type.Record(Type.String(), Type.String({ minLength: 1 }), { default: {} }),
});

/**
 * A tagged union on `type`. Written as oneOf with a discriminator (TypeBox's Union is a plain anyOf) because
 * Ajv then validates only the member the tag names, fills that member's defaults, and reports its errors.
 */
export const SourceSchema = Type.Unsafe<
  Static<typeof SystemSourceSchema> | Static<typeof FileSourceSchema> | Static<typeof PmSourceSchema>
>({
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: [SystemSourceSchema, FileSourceSchema, PmSourceSchema],
});

/** The pipeline model value that asks for on-device training. */
export const AUTO_MODEL = 'auto';

export const PipelineSchema = Obj({
  name: EntityName,
  source: SourceSchema,
  /** How a row maps to an entity: the columns that name it, and fixed values for columns rows lack. */
  entity: Obj(
    {
      columns: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true }),
      fixed: Type.Record(Type.String(), Type.String(), { default: {} }),
    },
    'entity columns in order, e.g. [site, sector]; fixed fills columns the rows do not carry',
  ),
  /** KPI names in model order; default: the model's own list. Required without a model. */
  features: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true })),
  /**
   * ONNX model file, or "auto" to train one on the box from a baseline of the pipeline's own rows. Without
   * one the pipeline records and reports health but scores nothing until a model is pushed. A pushed model
   * always takes precedence over both.
   */
  model: Type.Optional(Type.String({ minLength: 1 })),
  /** On-device training, for model: auto. */
  training: Section(
    {
      /** Hours of buffered rows (from the oldest to the newest) collected before the first training. */
      baselineHours: Type.Number({ exclusiveMinimum: 0, maximum: 8_760, default: 168 }),
      /** Train again on a rolling window every this many hours; 0 trains once. Flagged rows stay out. */
      retrainEveryHours: Type.Number({ minimum: 0, maximum: 8_760, default: 0 }),
      /** The newest hours of rows a retraining uses. */
      windowHours: Type.Number({ exclusiveMinimum: 0, maximum: 8_760, default: 672 }),
      maxEpochs: Type.Integer({ minimum: 1, maximum: 1_000, default: 50 }),
      /** Hours the calendar features are computed in (the site's local time), as for cellwatch train. */
      utcOffsetMinutes: Type.Integer({ minimum: -840, maximum: 840, default: 0 }),
      /** Scheduling priority of the training process (0 normal, 19 lowest): sampling and MQTT come first. */
      nice: Type.Integer({ minimum: 0, maximum: 19, default: 10 }),
    },
    'on-device training for model: auto',
  ),
  /** Expected time between two rows of one entity; a longer silence shows in health as a stale source. */
  intervalS: Type.Number({ exclusiveMinimum: 0, maximum: 86_400, default: 60 }),
  normalization: Section(
    {
      /** Rows of an entity's own history needed before its own statistics replace the model's. */
      minHistoryRows: Type.Integer({ minimum: 2, default: 672 }),
      /** Recompute an entity's statistics after this many new rows. */
      refreshRows: PositiveInt('rows between recomputations', 24),
      /** History used for the statistics, newest rows first. */
      maxHistoryRows: PositiveInt('rows of history the statistics are computed from', 2_016),
      /**
       * After a "level shift, retrain" event, rebuild the entity's statistics from the rows since the shift
       * and give it a threshold of its own from the scores that follow, so it can raise incidents again
       * before a new model arrives. Off: the entity stays silent until its rows are clean again.
       */
      adaptOnLevelShift: Type.Boolean({ default: true }),
    },
    'per-entity statistics from the buffer',
  ),
  /** Rows scored in one call to the model when a backlog builds up. */
  batchSize: Type.Integer({ minimum: 1, maximum: 4_096, default: 256 }),
});

export const TlsSchema = Obj({
  /** CA bundle to verify the broker; default: the system store. */
  ca: Type.Optional(Type.String({ minLength: 1 })),
  /** Client certificate and key for mTLS. */
  cert: Type.Optional(Type.String({ minLength: 1 })),
  key: Type.Optional(SecretSchema),
  /** Only for a lab broker with a self-signed certificate: turns certificate checks off. */
  rejectUnauthorized: Type.Boolean({ default: true }),
  servername: Type.Optional(Type.String({ minLength: 1 })),
});

export const MqttSchema = Obj({
  /** mqtt://, mqtts://, ws:// or wss://; "embedded" starts an in-process broker (demos only). */
  url: Type.String({ minLength: 1 }),
  /** Default: cellwatch-<site>-<hash of the host name>, stable across restarts for the persistent session. */
  clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  protocolVersion: Enum([4, 5], { default: 5 }),
  username: Type.Optional(Type.String({ minLength: 1 })),
  password: Type.Optional(SecretSchema),
  tls: Type.Optional(TlsSchema),
  keepaliveS: Type.Integer({ minimum: 5, maximum: 3_600, default: 30 }),
  // No wildcards, and no leading $: brokers keep $-topics for themselves and drop a client publishing there.
  topicPrefix: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^#+$][^#+]*$', default: 'cellwatch' }),
  /** MQTT 5: how long the broker keeps the session (and queued commands) while the agent is away. */
  sessionExpiryS: Type.Integer({ minimum: 0, maximum: 4_294_967_295, default: 604_800 }),
  connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  reconnectMinMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1_000 }),
  reconnectMaxMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 60_000 }),
  /** QoS 1 publishes awaiting their acknowledgement at once. */
  maxInFlight: Type.Integer({ minimum: 1, maximum: 1_024, default: 32 }),
  outbox: Section({
    maxMessages: Type.Integer({ minimum: 10, default: 100_000 }),
    maxMb: Type.Number({ exclusiveMinimum: 0, default: 64 }),
  }),
});

export const StorageSchema = Obj({
  /** The SQLite file; its folder is created when missing. */
  path: Type.String({ minLength: 1 }),
  /** Raw samples older than this are deleted. */
  retentionHours: Type.Number({ exclusiveMinimum: 0, maximum: 87_600, default: 720 }),
  /** Raw samples are deleted oldest first when the file grows past this size. */
  maxMb: Type.Number({ exclusiveMinimum: 0, default: 1_024 }),
});

export const AlarmSchema = Section({
  /** An incident opens when this many rows of the last `windowRows` of an entity are flagged. */
  openFlags: PositiveInt('flagged rows that open an incident', 3),
  windowRows: PositiveInt('rows the open rule looks back over', 6),
  /** An open incident closes after this many clean rows in a row. */
  closeCleanRows: PositiveInt('clean rows that close an incident', 6),
  /** An update is sent every this many rows while an incident stays open. */
  updateRows: PositiveInt('rows between updates of an open incident', 12),
  /** An incident still open after this many rows with most of them flagged becomes a level-shift event. */
  levelShiftRows: PositiveInt('rows after which a persistent incident is a level shift', 48),
  /** Incidents opened per site per hour of row time; more are counted, not sent. */
  maxIncidentsPerHour: PositiveInt('incident rate limit per site', 30),
  topKpis: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
});

export const MaintenanceSchema = Obj({
  /** Entity key as in messages (e.g. "SITE-042/2"); absent means the whole site. */
  entity: Type.Optional(Type.String({ minLength: 1 })),
  start: Type.String({ minLength: 1 }),
  end: Type.String({ minLength: 1 }),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
});

/** Models pushed over MQTT: who may sign them, how they are checked, where they are kept. */
export const ModelsSchema = Section({
  /** Folder of accepted models; default: "models" beside the storage file. */
  dir: Type.Optional(Type.String({ minLength: 1 })),
  /** Ed25519 public keys (PEM, from cellwatch model keygen) whose signatures this site accepts. */
  trustedKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Development only: accept bundles that carry no signature. */
  allowUnsigned: Type.Boolean({ default: false }),
  /** A push payload over this size is refused unread. */
  maxBundleMb: Type.Number({ exclusiveMinimum: 0, maximum: 256, default: 16 }),
  /** Versions kept on disk per pipeline (the active one and the rollback target always are). */
  keepVersions: Type.Integer({ minimum: 2, maximum: 100, default: 3 }),
  /** Wall time for loading and test-running a new model in its own process. */
  probeTimeoutS: Type.Number({ minimum: 1, maximum: 600, default: 60 }),
  probeMaxRssMb: Type.Integer({ minimum: 64, maximum: 16_384, default: 512 }),
  /** Recent scored rows a new model scores before activation; with fewer, the check is skipped. */
  calibrationRows: Type.Integer({ minimum: 10, maximum: 1_000_000, default: 2_000 }),
  minCalibrationRows: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100 }),
  /** Refused when it flags more than this many times the share its threshold percentile promises. */
  calibrationMaxFactor: Type.Number({ minimum: 1, maximum: 100, default: 3 }),
  /** Rows a new model scores on probation: a failure or too many flags in them roll it back. */
  probationRows: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 200 }),
  probationMaxFlaggedShare: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.25 }),
});

export const ConfigSchema = Obj({
  site: EntityName,
  pipelines: Type.Array(PipelineSchema, { minItems: 1 }),
  storage: StorageSchema,
  mqtt: MqttSchema,
  alarms: AlarmSchema,
  // Timers past 24.8 days overflow Node's setInterval; a day is the useful ceiling anyway.
  summary: Section({ intervalMinutes: Type.Number({ minimum: 0.01, maximum: 1_440, default: 15 }) }),
  health: Section({ intervalS: Type.Number({ minimum: 1, maximum: 86_400, default: 60 }) }),
  maintenance: Type.Array(MaintenanceSchema, { default: [] }),
  models: ModelsSchema,
  /** Seconds a SIGTERM waits for the outbox to empty before it publishes offline and exits. */
  drainTimeoutS: Type.Number({ minimum: 0, maximum: 600, default: 10 }),
  logLevel: Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
});

export type Secret = Static<typeof SecretSchema>;
export type SystemSourceConfig = Static<typeof SystemSourceSchema>;
export type FileSourceConfig = Static<typeof FileSourceSchema>;
export type PmSourceConfig = Static<typeof PmSourceSchema>;
export type EntityRule = Static<typeof EntityRuleSchema>;
export type CounterRule = Static<typeof CounterRuleSchema>;
export type SourceConfig = Static<typeof SourceSchema>;
export type PipelineConfig = Static<typeof PipelineSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
export type MqttConfig = Static<typeof MqttSchema>;
export type StorageConfig = Static<typeof StorageSchema>;
export type AlarmConfig = Static<typeof AlarmSchema>;
export type MaintenanceConfig = Static<typeof MaintenanceSchema>;
export type ModelsConfig = Static<typeof ModelsSchema>;
export type TrainingConfig = Static<typeof PipelineSchema>['training'];
export type Config = Static<typeof ConfigSchema>;
