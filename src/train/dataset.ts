import { CellwatchError } from '../errors.js';
import { Featurizer } from '../features/featurizer.js';
import { StatsAccumulator } from '../features/stats.js';
import { openTable, type TableOptions } from '../io/read-table.js';
import { readRecords } from '../io/records.js';
import { parseTimestampMs } from '../io/timestamp.js';
import { bucketKey, localHour } from '../features/time-features.js';
import type { KpiRow, RowIssue, TableSchema } from '../io/table.js';
import type { KpiStatsT, Layout, Normalization } from '../model/contract.js';

export interface LoadedTable {
  schema: TableSchema;
  rows: KpiRow[];
  issues: RowIssue[];
  issueCount: number;
}

/** Keep the first issues for the report; count the rest. */
const ISSUES_KEPT = 20;

export async function loadTable(path: string, options: TableOptions): Promise<LoadedTable> {
  const table = await openTable(path, options);
  const rows: KpiRow[] = [];
  const issues: RowIssue[] = [];
  let issueCount = 0;
  for await (const event of table.events) {
    if (event.kind === 'row') rows.push(event.row);
    else {
      issueCount++;
      if (issues.length < ISSUES_KEPT) issues.push(event.issue);
    }
  }
  if (rows.length === 0) throw new CellwatchError('INPUT_EMPTY', `no usable rows in ${path}`, { path, issueCount });
  return { schema: table.schema, rows, issues, issueCount };
}

/**
 * The normalisation key columns: the table's entity columns up to and including the chosen one, so that
 * `--entity sector` keys on site and sector (sector ids may repeat across sites) and `--entity site` on site.
 */
export function normalisationColumns(schema: TableSchema, entity: string | undefined): string[] {
  if (entity === undefined) return schema.entityColumns;
  const index = schema.entityColumns.indexOf(entity);
  if (index < 0) {
    throw new CellwatchError(
      'INPUT_COLUMNS',
      `entity column "${entity}" is not among ${schema.entityColumns.join(', ')}`,
      {
        entity,
      },
    );
  }
  return schema.entityColumns.slice(0, index + 1);
}

export interface NormalizationOptions {
  keyColumns: string[];
  seasonality: Normalization['seasonality'];
  utcOffsetMinutes: number;
  /** A bucket (an entity, or an entity's hour) with fewer readings of any KPI uses the fleet's statistics. */
  minRowsPerBucket: number;
}

/** Statistics of the raw readings per normalisation bucket, and the fleet's for what has too few readings. */
export function computeNormalization(
  rows: readonly KpiRow[],
  schema: TableSchema,
  options: NormalizationOptions,
): Normalization {
  const width = schema.features.length;
  const keyIndex = options.keyColumns.map((c) => schema.entityColumns.indexOf(c));
  const hourly = options.seasonality === 'hour_of_day';
  const fleet = new StatsAccumulator(width);
  const fleetByHour = hourly ? Array.from({ length: 24 }, () => new StatsAccumulator(width)) : [];
  const buckets = new Map<string, StatsAccumulator>();
  for (const row of rows) {
    fleet.add(row.values);
    const hour = hourly ? localHour(row.timestampMs, options.utcOffsetMinutes) : undefined;
    if (hour !== undefined) fleetByHour[hour]?.add(row.values);
    if (keyIndex.length === 0) continue;
    const key = bucketKey(keyIndex.map((i) => row.entity[i] ?? '').join('/'), hour);
    let acc = buckets.get(key);
    if (!acc) buckets.set(key, (acc = new StatsAccumulator(width)));
    acc.add(row.values);
  }
  const entities: Record<string, KpiStatsT> = {};
  for (const [key, acc] of [...buckets.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const stats = acc.result();
    if (Math.min(...stats.count) >= options.minRowsPerBucket) entities[key] = rounded(stats);
  }
  return {
    mode: keyIndex.length === 0 ? 'global' : 'per_entity',
    entityColumns: options.keyColumns,
    seasonality: options.seasonality,
    fallback: rounded(fleet.result()),
    fallbackByHour: fleetByHour.map((acc) => rounded(acc.result())),
    entities,
  };
}

/**
 * Five significant digits keep the metadata small (thousands of buckets) and move a z-score by about 1e-4
 * at most; training and scoring both use the rounded values, so they agree exactly.
 */
function rounded(stats: KpiStatsT): KpiStatsT {
  const r = (v: number) => Number(v.toPrecision(5));
  return { mean: stats.mean.map(r), std: stats.std.map(r), count: stats.count };
}

export interface FeatureMatrix {
  matrix: Float32Array;
  rows: number;
  width: number;
  skipped: { incomplete: number; warmup: number; out_of_order: number };
}

/** Order rows by series and time, as the featurizer expects, then turn them into model inputs. */
export function buildMatrix(
  rows: readonly KpiRow[],
  schema: TableSchema,
  layout: Layout,
  normalization: Normalization,
): FeatureMatrix {
  const ordered = [...rows].sort((a, b) => {
    const ka = a.entity.join('/');
    const kb = b.entity.join('/');
    return ka < kb ? -1 : ka > kb ? 1 : a.timestampMs - b.timestampMs;
  });
  const featurizer = new Featurizer(layout, normalization, schema.entityColumns);
  const width = featurizer.width;
  const matrix = new Float32Array(ordered.length * width);
  const skipped = { incomplete: 0, warmup: 0, out_of_order: 0 };
  let count = 0;
  for (const row of ordered) {
    const result = featurizer.push(row);
    if (result.status === 'ok') matrix.set(result.vector, count++ * width);
    else skipped[result.status]++;
  }
  return { matrix: matrix.subarray(0, count * width), rows: count, width, skipped };
}

export interface MaintenanceKeys {
  keys: Set<string>;
  /** Lines that could not be read, so any maintenance they marked stays in training. */
  unreadable: RowIssue[];
}

/**
 * Rows to leave out of training: those marked maintenance=1 in a labels-style file (timestamp, entity
 * columns, maintenance). Planned works look like a dead cell; learning them as normal would hide one.
 */
export async function loadMaintenanceKeys(path: string, schema: TableSchema): Promise<MaintenanceKeys> {
  const keys = new Set<string>();
  const unreadable: RowIssue[] = [];
  let first = true;
  for await (const event of readRecords(path)) {
    if (event.kind === 'issue') {
      unreadable.push({ code: event.code, line: event.line, message: event.message, rowDropped: true });
      continue;
    }
    const { line, fields } = event;
    if (first && fields.maintenance === undefined) {
      throw new CellwatchError('INPUT_COLUMNS', `${path} has no maintenance column`, { path, line });
    }
    first = false;
    if (fields.maintenance !== '1') continue;
    try {
      const ts = parseTimestampMs(fields[schema.timestampColumn] ?? '', line);
      keys.add(
        rowKey(
          ts,
          schema.entityColumns.map((c) => fields[c] ?? ''),
        ),
      );
    } catch (err) {
      unreadable.push({ code: 'INPUT_TIMESTAMP', line, message: (err as Error).message, rowDropped: true });
    }
  }
  return { keys, unreadable };
}

export function rowKey(timestampMs: number, entity: readonly string[]): string {
  return `${timestampMs}|${entity.join('/')}`;
}
