import { CellwatchError, type ErrorCode } from '../errors.js';
import { DEFAULT_KPIS, DEFAULT_TIMESTAMP_COLUMN, KNOWN_ENTITY_COLUMNS, LABEL_COLUMNS } from '../kpis.js';

/** One timestamped row of KPI readings for one entity. Missing readings are NaN, never 0. */
export interface KpiRow {
  /** 1-based line in the input file, for error messages. */
  line: number;
  timestampMs: number;
  /** Values of the entity columns, in schema order. */
  entity: string[];
  /** One value per schema feature; NaN marks a missing reading. */
  values: Float64Array;
}

/** A row or cell the reader could not take, with the reason; the rest of the file goes on. */
export interface RowIssue {
  /** INPUT_* for a table file; a folder of PM files reports its files' PM_* codes. */
  code: ErrorCode;
  line: number;
  message: string;
  /** True when the whole row was dropped, false when only a cell was treated as missing. */
  rowDropped: boolean;
}

export interface TableSchema {
  timestampColumn: string;
  entityColumns: string[];
  features: string[];
}

export interface SchemaOptions {
  timestampColumn?: string;
  entityColumns?: string[];
  features?: string[];
}

/** Two columns of one name would make "mapped by header name" ambiguous: refuse the file. */
export function checkUniqueColumns(header: readonly string[]): void {
  const duplicates = [...new Set(header.filter((name, i) => header.indexOf(name) !== i))];
  if (duplicates.length > 0) {
    throw new CellwatchError('INPUT_COLUMNS', `duplicate column names: ${duplicates.join(', ')}`, { duplicates });
  }
}

/**
 * Decide which columns are the timestamp, the entities and the features. Explicit options win; otherwise
 * known entity names are entities, the default KPI set is used when all of it is present, and any other
 * column that is not a label becomes a feature.
 */
export function resolveSchema(header: readonly string[], options: SchemaOptions): TableSchema {
  const timestampColumn = options.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const present = new Set(header);
  checkUniqueColumns(header);
  if (!present.has(timestampColumn)) {
    throw new CellwatchError('INPUT_COLUMNS', `timestamp column "${timestampColumn}" not in header`, {
      header: [...header],
    });
  }

  const known = new Set<string>(KNOWN_ENTITY_COLUMNS);
  const entityColumns = options.entityColumns ?? header.filter((name) => known.has(name));
  const labels = new Set<string>(LABEL_COLUMNS);
  const taken = new Set([timestampColumn, ...entityColumns]);
  const defaultSetPresent = DEFAULT_KPIS.every((kpi) => present.has(kpi));
  const features =
    options.features ??
    (defaultSetPresent ? [...DEFAULT_KPIS] : header.filter((name) => !taken.has(name) && !labels.has(name)));

  const clashes = features.filter((name, i) => taken.has(name) || features.indexOf(name) !== i);
  if (clashes.length > 0) {
    throw new CellwatchError('INPUT_COLUMNS', `features repeat or name the timestamp/entity: ${clashes.join(', ')}`, {
      clashes,
    });
  }
  const missing = [...entityColumns, ...features].filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new CellwatchError('INPUT_COLUMNS', `columns not in header: ${missing.join(', ')}`, { missing });
  }
  if (features.length === 0) throw new CellwatchError('INPUT_COLUMNS', 'no feature columns found', {});
  return { timestampColumn, entityColumns, features };
}

const MISSING_TOKENS = new Set(['', 'nan', 'na', 'null', 'none', 'nil']);
// Decimal numbers only: Number() would also take "0x1A", "0b11" and "  " as numbers.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/**
 * Beyond this magnitude a KPI reading is garbage (a sentinel, a unit error, a corrupt counter): squares of
 * such values overflow the statistics. Raw 64-bit counters are turned into deltas before they get here.
 */
export const MAX_KPI_MAGNITUDE = 1e15;

/** Parse one KPI cell. Returns NaN for a missing value and undefined for text that is not a usable number. */
export function parseKpiCell(text: string): number | undefined {
  const trimmed = text.trim();
  if (MISSING_TOKENS.has(trimmed.toLowerCase())) return Number.NaN;
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) && Math.abs(value) <= MAX_KPI_MAGNITUDE ? value : undefined;
}
