import { CellwatchError } from '../errors.js';
import { DEFAULT_TIMESTAMP_COLUMN } from '../kpis.js';
import { isPmInput, openPmTable, type PmTableOptions } from './pm-table.js';
import { checkReadable, csvRecords, formatOf, jsonText, parseJsonObject, textLines } from './source-file.js';
import {
  parseKpiCell,
  resolveSchema,
  type KpiRow,
  type RowIssue,
  type SchemaOptions,
  type TableSchema,
} from './table.js';
import { parseTimestampMs } from './timestamp.js';

export type TableEvent = { kind: 'row'; row: KpiRow } | { kind: 'issue'; issue: RowIssue };

export interface OpenTable {
  schema: TableSchema;
  /** Streams rows in file order; holds only one parser buffer in memory, so any file size works. */
  events: AsyncIterable<TableEvent>;
}

export interface TableOptions extends SchemaOptions {
  /** How PM files become rows, when the input is a folder of them (or one .xml / .json file). */
  pm?: PmTableOptions;
}

/**
 * Open a wide CSV or JSONL file of KPI rows and resolve its schema from the header or first object; or a folder
 * of 3GPP PM / VES files, read as the agent's PM source reads them.
 */
export async function openTable(path: string, options: TableOptions = {}): Promise<OpenTable> {
  if (await isPmInput(path)) return openPmTable(path, options, options.pm);
  const { format, gzip } = formatOf(path);
  await checkReadable(path);
  return format === 'csv' ? openCsv(path, gzip, options) : openJsonl(path, gzip, options);
}

function issueEvent(code: RowIssue['code'], line: number, message: string, rowDropped = true): TableEvent {
  return { kind: 'issue', issue: { code, line, message, rowDropped } };
}

async function openCsv(path: string, gzip: boolean, options: SchemaOptions): Promise<OpenTable> {
  const records = csvRecords(path, gzip);
  const early: TableEvent[] = [];
  let header: string[] | undefined;
  while (header === undefined) {
    const next = await records.next();
    if (next.done) throw new CellwatchError('INPUT_EMPTY', `empty input: ${path}`, { path });
    if (next.value.kind === 'record') header = next.value.fields;
    else early.push(issueEvent(next.value.code, next.value.line, next.value.message));
  }
  const schema = resolveSchema(header, options);
  const width = header.length;
  const tsIndex = header.indexOf(schema.timestampColumn);
  const entityIndex = schema.entityColumns.map((name) => header.indexOf(name));
  const featureIndex = schema.features.map((name) => header.indexOf(name));
  const columns = header;

  async function* events(): AsyncGenerator<TableEvent> {
    yield* early;
    for await (const event of records) {
      if (event.kind === 'issue') {
        yield issueEvent(event.code, event.line, event.message);
        continue;
      }
      const { fields, line } = event;
      if (fields.length !== width) {
        yield issueEvent('INPUT_FIELD_COUNT', line, `expected ${width} fields, found ${fields.length}`);
        continue;
      }
      const cell = (k: number) => {
        const index = featureIndex[k] as number;
        return { text: fields[index] ?? '', column: columns[index] ?? '' };
      };
      const entity = entityIndex.map((i) => fields[i] ?? '');
      yield* buildRow(line, fields[tsIndex] ?? '', entity, cell, schema.features.length);
    }
  }
  return { schema, events: events() };
}

/**
 * JSONL: the schema comes from the first object, plus any column named in the options, so an object that
 * simply omits a KPI (a missing value) does not hide that KPI. Lines that are not objects are reported.
 */
async function openJsonl(path: string, gzip: boolean, options: SchemaOptions): Promise<OpenTable> {
  const lines = textLines(path, gzip);
  const early: TableEvent[] = [];
  let first: { line: number; object: Record<string, unknown> } | undefined;
  while (first === undefined) {
    const next = await lines.next();
    if (next.done) throw new CellwatchError('INPUT_EMPTY', `no JSON object in ${path}`, { path });
    const object = parseJsonObject(next.value.text);
    if (object) first = { line: next.value.line, object };
    else early.push(issueEvent('INPUT_JSON', next.value.line, 'not a JSON object'));
  }
  const named = [options.timestampColumn, ...(options.entityColumns ?? []), ...(options.features ?? [])];
  const keys = [...new Set([...Object.keys(first.object), ...named.filter((c): c is string => c !== undefined)])];
  const schema = resolveSchema(keys, options);

  function fromObject(line: number, object: Record<string, unknown>): Generator<TableEvent> {
    const entity = schema.entityColumns.map((c) => jsonText(object[c]));
    const cell = (k: number) => {
      const column = schema.features[k] as string;
      return { text: jsonText(object[column]), column };
    };
    return buildRow(line, jsonText(object[schema.timestampColumn]), entity, cell, schema.features.length);
  }

  async function* events(): AsyncGenerator<TableEvent> {
    yield* early;
    yield* fromObject(first!.line, first!.object);
    for await (const { line, text } of lines) {
      const object = parseJsonObject(text);
      if (object) yield* fromObject(line, object);
      else yield issueEvent('INPUT_JSON', line, 'not a JSON object');
    }
  }
  return { schema, events: events() };
}

/** Shared by both formats: parse the timestamp and the KPI cells, reporting what could not be taken. */
function* buildRow(
  line: number,
  timestampText: string,
  entity: string[],
  cell: (k: number) => { text: string; column: string },
  width: number,
): Generator<TableEvent> {
  let timestampMs: number;
  try {
    timestampMs = parseTimestampMs(timestampText, line);
  } catch (err) {
    yield issueEvent('INPUT_TIMESTAMP', line, err instanceof Error ? err.message : String(err));
    return;
  }
  const values = new Float64Array(width);
  for (let k = 0; k < width; k++) {
    const { text, column } = cell(k);
    const value = parseKpiCell(text);
    if (value === undefined) {
      yield issueEvent('INPUT_VALUE', line, `column ${column}: "${text}" is not a usable number; missing`, false);
      values[k] = Number.NaN;
    } else {
      values[k] = value;
    }
  }
  yield { kind: 'row', row: { line, timestampMs, entity, values } };
}

/**
 * The column names of a table file without reading it through: the CSV header, or the keys of the first
 * JSONL object. A source uses it to decide, before opening the table, which entity columns the file carries.
 */
export async function readColumns(path: string): Promise<string[]> {
  const { format, gzip } = formatOf(path);
  await checkReadable(path);
  if (format === 'csv') {
    for await (const event of csvRecords(path, gzip)) if (event.kind === 'record') return event.fields;
    throw new CellwatchError('INPUT_EMPTY', `empty input: ${path}`, { path });
  }
  for await (const { text } of textLines(path, gzip)) {
    const object = parseJsonObject(text);
    if (object) return Object.keys(object);
  }
  throw new CellwatchError('INPUT_EMPTY', `no JSON object in ${path}`, { path });
}

/** Decodes one record at a time: for a reader that takes a growing file piece by piece instead of streaming it. */
export interface RowDecoder<T> {
  schema: TableSchema;
  decode(record: T, line: number): TableEvent[];
}

/** CSV records against a header read earlier: the same checks and issues as openTable gives each record. */
export function csvRowDecoder(header: readonly string[], options: SchemaOptions): RowDecoder<readonly string[]> {
  const schema = resolveSchema(header, options);
  const tsIndex = header.indexOf(schema.timestampColumn);
  const entityIndex = schema.entityColumns.map((name) => header.indexOf(name));
  const featureIndex = schema.features.map((name) => header.indexOf(name));

  function decode(fields: readonly string[], line: number): TableEvent[] {
    if (fields.length !== header.length) {
      return [issueEvent('INPUT_FIELD_COUNT', line, `expected ${header.length} fields, found ${fields.length}`)];
    }
    const cell = (k: number) => {
      const index = featureIndex[k] as number;
      return { text: fields[index] ?? '', column: header[index] ?? '' };
    };
    const entity = entityIndex.map((i) => fields[i] ?? '');
    return [...buildRow(line, fields[tsIndex] ?? '', entity, cell, schema.features.length)];
  }
  return { schema, decode };
}

/**
 * JSONL lines one at a time. Every column the reader needs must be named in the options (there is no first
 * object to take a schema from); a line that omits a named column reads it as missing, as openTable does.
 */
export function jsonRowDecoder(options: SchemaOptions): RowDecoder<string> {
  const timestampColumn = options.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const named = [timestampColumn, ...(options.entityColumns ?? []), ...(options.features ?? [])];
  const schema = resolveSchema([...new Set(named)], options);

  function decode(text: string, line: number): TableEvent[] {
    const object = parseJsonObject(text);
    if (!object) return [issueEvent('INPUT_JSON', line, 'not a JSON object')];
    const entity = schema.entityColumns.map((c) => jsonText(object[c]));
    const cell = (k: number) => {
      const column = schema.features[k] as string;
      return { text: jsonText(object[column]), column };
    };
    return [...buildRow(line, jsonText(object[schema.timestampColumn]), entity, cell, schema.features.length)];
  }
  return { schema, decode };
}
