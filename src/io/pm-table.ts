import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PmLedger } from '../buffer/pm-ledger.js';
import type { PmSourceConfig } from '../config/schema.js';
import { CellwatchError, isCellwatchError, type ErrorCode } from '../errors.js';
import { DEFAULT_KPIS, DEFAULT_TIMESTAMP_COLUMN } from '../kpis.js';
import { isIgnoredName } from '../sources/drop-dir.js';
import { commitDroppedFile, pmRowBuilder, readDroppedFile } from '../sources/pm/pm-source.js';
import type { PmRowBuilder } from '../sources/pm/pm-rows.js';
import { DEFAULT_PM_KPIS } from '../telecom/kpi-mapping.js';
import type { OpenTable, TableEvent } from './read-table.js';
import type { KpiRow, SchemaOptions } from './table.js';

/** The rules of a PM source that decide what its files give: the same keys as a `pm` pipeline's source. */
export type PmRules = Pick<PmSourceConfig, 'format' | 'entities' | 'counters' | 'kpis'>;

/** How PM files become a table: a pm pipeline's rules and entity values, or the defaults. */
export interface PmTableOptions {
  rules?: PmRules;
  /** Entity values the files do not carry (a pipeline's entity.fixed). */
  fixedEntity?: Readonly<Record<string, string>>;
}

const DEFAULT_RULES: PmRules = { format: 'auto', entities: [], counters: [], kpis: {} };
/** With the default entity rule the element's last RDN value names the site and the object's the cell. */
export const DEFAULT_PM_ENTITY_COLUMNS: readonly string[] = ['site', 'cell'];
/** The default KPIs that TS 28.552 measurements give without any configured formula, in model order. */
export const DEFAULT_PM_FEATURES: readonly string[] = DEFAULT_KPIS.filter((k) => Object.hasOwn(DEFAULT_PM_KPIS, k));

/** PM file names: 3GPP XML (plain or gzip) and VES JSON. A folder is taken whole, whatever its names. */
const PM_FILE_NAME = /\.(xml|json)(\.gz)?$/i;

const TABLE_FILE_NAME = /\.(csv|txt|jsonl|ndjson)(\.gz)?$/i;

/**
 * True when the input is PM data rather than a CSV or JSONL table: an .xml or .json file, or a folder whose
 * name is not that of a table file (such a folder is refused as a table input is).
 */
export async function isPmInput(path: string): Promise<boolean> {
  if (TABLE_FILE_NAME.test(path)) return false;
  if (PM_FILE_NAME.test(path)) return true;
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() === true;
}

/**
 * A folder of 3GPP PM XML or VES files (or one such file) as a table of KPI rows, for `train` and `score`.
 * Each file is read as the agent's PM source reads a dropped file (entity rules, counter deltas, KPI formulas,
 * blocks delivered twice taken once), in name order, which for 3GPP names (A<date>.<time>…) is time order;
 * then the rows of all files are put in time order. Suspect rows are left out, as the agent keeps them out of
 * scoring and training; a file that gives no rows is reported and skipped. A row's `line` is its file's
 * position in that order, which the issues name.
 */
export async function openPmTable(path: string, options: SchemaOptions, pm: PmTableOptions = {}): Promise<OpenTable> {
  const rules = pm.rules ?? DEFAULT_RULES;
  const schema = {
    timestampColumn: options.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN,
    entityColumns: options.entityColumns ?? [...DEFAULT_PM_ENTITY_COLUMNS],
    features: options.features ?? (pm.rules ? Object.keys(rules.kpis) : [...DEFAULT_PM_FEATURES]),
  };
  if (schema.features.length === 0) {
    throw new CellwatchError('INPUT_COLUMNS', 'no features: name them with --features or in the pipeline', {});
  }
  const context = {
    pipeline: 'table',
    entityColumns: schema.entityColumns,
    fixedEntity: pm.fixedEntity ?? {},
    features: schema.features,
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
  const ledger = PmLedger.inMemory();
  // Only the rule keys matter to the row builder; the folder keys are the drop directory's.
  const sourceConfig = { type: 'pm' as const, path, pollMs: 1_000, processed: 'done', quarantine: 'q', ...rules };
  let builder: PmRowBuilder;
  try {
    builder = pmRowBuilder(sourceConfig, context, ledger);
  } catch (err) {
    // A rule or formula the features cannot take is a problem with this command's input, not a config file.
    if (isCellwatchError(err) && err.code === 'CONFIG_PIPELINE') {
      throw new CellwatchError('INPUT_COLUMNS', err.message, { ...err.details });
    }
    throw err;
  }
  const files = await pmFiles(path);

  async function* events(): AsyncGenerator<TableEvent> {
    const rows: KpiRow[] = [];
    for (const [index, file] of files.entries()) {
      const line = index + 1;
      const name = basename(file);
      try {
        const { built, issues } = await readDroppedFile(file, rules.format, builder);
        commitDroppedFile(ledger, context.pipeline, built);
        for (const found of issues) yield issue(line, found.message, found.code);
        let suspect = 0;
        for (const row of built.rows) {
          if (row.suspect) suspect++;
          else rows.push({ line, timestampMs: row.beginMs, entity: row.entity, values: row.values });
        }
        if (suspect > 0) yield issue(line, `${name}: ${suspect} suspect rows left out`, 'PM_VALUE');
      } catch (err) {
        if (!isCellwatchError(err)) throw err;
        yield issue(line, `${name}: ${err.message}`, err.code);
      }
    }
    rows.sort((a, b) => a.timestampMs - b.timestampMs || a.line - b.line);
    for (const row of rows) yield { kind: 'row', row };
  }
  return { schema, events: events() };
}

/** The files of a folder in name order (hidden and temporary files left out), or the one file given. */
async function pmFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isFile()) return [path];
  if (!info?.isDirectory()) {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read input (missing or not a file or folder): ${path}`, {
      path,
    });
  }
  const entries = await readdir(path, { withFileTypes: true }).catch((err: unknown) => {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read folder ${path}: ${(err as Error).message}`, { path });
  });
  const names = entries
    .filter((e) => e.isFile() && !isIgnoredName(e.name))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) throw new CellwatchError('INPUT_EMPTY', `no files in ${path}`, { path });
  return names.map((n) => join(path, n));
}

function issue(line: number, message: string, code: ErrorCode): TableEvent {
  return { kind: 'issue', issue: { code, line, message, rowDropped: true } };
}
