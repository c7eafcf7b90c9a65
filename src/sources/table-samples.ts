import { CellwatchError } from '../errors.js';
import { openTable, readColumns, type TableEvent } from '../io/read-table.js';
import { formatOf, type Format } from '../io/source-file.js';
import type { KpiRow, SchemaOptions } from '../io/table.js';
import type { SourceEvent } from './hand-over.js';
import type { Sample, SourceContext, SourceIssue } from './source.js';

/**
 * From table rows (CSV or JSONL) to the pipeline's samples. The pipeline names its entity columns; a file
 * may carry all of them or leave some to the pipeline's fixed values (a file per site that has no site
 * column). Features are taken by name in the pipeline's order, whatever the file's column order.
 */
export interface TableMapping {
  /** What to open the table with: the file's own entity columns, the pipeline's features. */
  options: SchemaOptions;
  toSample(row: KpiRow): Sample | SourceIssue;
}

/**
 * Decide how a file with these columns maps to the pipeline. A CSV column is present when the header has
 * it; a JSONL object may omit any key, so every entity column is looked for in every line and only the
 * first object decides whether the file can name an entity without a fixed value.
 */
export function mapTable(
  context: SourceContext,
  timestampColumn: string,
  columns: readonly string[],
  format: Format,
  file: string,
): TableMapping {
  if (!columns.includes(timestampColumn)) {
    throw new CellwatchError('INPUT_COLUMNS', `timestamp column "${timestampColumn}" not in ${file}`, { file });
  }
  const inFile = context.entityColumns.filter((column) => columns.includes(column));
  const unnamed = context.entityColumns.filter((c) => !inFile.includes(c) && context.fixedEntity[c] === undefined);
  if (unnamed.length > 0) {
    throw new CellwatchError(
      'CONFIG_PIPELINE',
      `pipeline ${context.pipeline}: entity column ${unnamed.join(', ')} is neither in ${file} nor fixed`,
      { pipeline: context.pipeline, columns: unnamed, file },
    );
  }

  const read = format === 'jsonl' ? [...context.entityColumns] : inFile;
  const readIndex = context.entityColumns.map((column) => read.indexOf(column));
  const options: SchemaOptions = { timestampColumn, entityColumns: read, features: [...context.features] };

  function toSample(row: KpiRow): Sample | SourceIssue {
    const entity: string[] = [];
    for (const [k, column] of context.entityColumns.entries()) {
      const index = readIndex[k] as number;
      // An empty cell falls back to the fixed value: a blank site name must not become an entity of its own.
      const value = (index >= 0 ? row.entity[index] : undefined) || context.fixedEntity[column];
      if (!value) return { code: 'INPUT_COLUMNS', message: `entity column ${column} is empty`, file, line: row.line };
      entity.push(value);
    }
    return { timestampMs: row.timestampMs, entity, values: row.values };
  }
  return { options, toSample };
}

/** One table reader event as a source event, with the file named in any issue. */
export function sourceEvents(event: TableEvent, mapping: TableMapping, file: string): SourceEvent {
  if (event.kind === 'issue') {
    const { code, message, line } = event.issue;
    return { kind: 'issue', issue: { code, message, file, line } };
  }
  const mapped = mapping.toSample(event.row);
  return 'code' in mapped ? { kind: 'issue', issue: mapped } : { kind: 'sample', sample: mapped };
}

/**
 * Open a whole table file as source events. Everything that makes the file unusable (unknown format,
 * missing columns, no rows, an entity it cannot name) is thrown here, before the first row.
 */
export async function openSamples(
  path: string,
  context: SourceContext,
  timestampColumn: string,
): Promise<AsyncIterable<SourceEvent>> {
  const { format } = formatOf(path);
  const columns = await readColumns(path);
  const mapping = mapTable(context, timestampColumn, columns, format, path);
  const table = await openTable(path, mapping.options);

  async function* events(): AsyncGenerator<SourceEvent> {
    for await (const event of table.events) yield sourceEvents(event, mapping, path);
  }
  return events();
}
