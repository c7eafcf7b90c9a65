import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { CellwatchError } from '../errors.js';
import { parseTimestampMs } from './timestamp.js';
import {
  parseKpiCell,
  resolveSchema,
  type KpiRow,
  type RowIssue,
  type SchemaOptions,
  type TableSchema,
} from './table.js';

export type TableEvent = { kind: 'row'; row: KpiRow } | { kind: 'issue'; issue: RowIssue };

export interface OpenTable {
  schema: TableSchema;
  /** Streams rows in file order; holds only one parser buffer in memory, so any file size works. */
  events: AsyncIterable<TableEvent>;
}

type Format = 'csv' | 'jsonl';

function formatOf(path: string): { format: Format; gzip: boolean } {
  const gzip = path.endsWith('.gz');
  const base = gzip ? path.slice(0, -3) : path;
  if (base.endsWith('.csv') || base.endsWith('.txt')) return { format: 'csv', gzip };
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return { format: 'jsonl', gzip };
  throw new CellwatchError('INPUT_FORMAT', `unknown input format: ${path}`, { path });
}

function openStream(path: string, gzip: boolean): Readable {
  const file = createReadStream(path);
  return gzip ? file.pipe(createGunzip()) : file;
}

/** Open a wide CSV or JSONL file of KPI rows and resolve its schema from the header or first object. */
export async function openTable(path: string, options: SchemaOptions = {}): Promise<OpenTable> {
  const { format, gzip } = formatOf(path);
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read input: ${path}`, { path });
  }
  return format === 'csv' ? openCsv(path, gzip, options) : openJsonl(path, gzip, options);
}

async function openCsv(path: string, gzip: boolean, options: SchemaOptions): Promise<OpenTable> {
  const parser = openStream(path, gzip).pipe(
    parse({ relax_column_count: true, skip_empty_lines: true, info: true, bom: true, trim: true }),
  );
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<{ record: string[]; info: { lines: number } }>;
  const first = await records.next();
  if (first.done) throw new CellwatchError('INPUT_EMPTY', `empty input: ${path}`, { path });
  const header = first.value.record;
  const schema = resolveSchema(header, options);
  const tsIndex = header.indexOf(schema.timestampColumn);
  const entityIndex = schema.entityColumns.map((name) => header.indexOf(name));
  const featureIndex = schema.features.map((name) => header.indexOf(name));

  async function* events(): AsyncGenerator<TableEvent> {
    for (;;) {
      const next = await records.next();
      if (next.done) return;
      const { record, info } = next.value;
      const line = info.lines;
      if (record.length !== header.length) {
        const message = `expected ${header.length} fields, found ${record.length}`;
        yield { kind: 'issue', issue: { code: 'INPUT_FIELD_COUNT', line, message, rowDropped: true } };
        continue;
      }
      yield* buildRow(
        line,
        record[tsIndex] ?? '',
        entityIndex.map((i) => record[i] ?? ''),
        (k) => {
          const index = featureIndex[k] as number;
          return { text: record[index] ?? '', column: header[index] ?? '' };
        },
        schema.features.length,
      );
    }
  }
  return { schema, events: events() };
}

async function openJsonl(path: string, gzip: boolean, options: SchemaOptions): Promise<OpenTable> {
  const lines = createInterface({ input: openStream(path, gzip), crlfDelay: Infinity })[Symbol.asyncIterator]();
  let lineNo = 0;
  let firstObject: Record<string, unknown> | undefined;
  let firstLine = 0;
  while (firstObject === undefined) {
    const next = await lines.next();
    if (next.done) throw new CellwatchError('INPUT_EMPTY', `empty input: ${path}`, { path });
    lineNo++;
    if (next.value.trim() === '') continue;
    firstObject = parseJsonObject(next.value);
    if (firstObject === undefined) throw new CellwatchError('INPUT_JSON', `line ${lineNo} is not a JSON object`, {});
    firstLine = lineNo;
  }
  const schema = resolveSchema(Object.keys(firstObject), options);

  function* fromObject(line: number, object: Record<string, unknown>): Generator<TableEvent> {
    yield* buildRow(
      line,
      jsonText(object[schema.timestampColumn]),
      schema.entityColumns.map((c) => jsonText(object[c])),
      (k) => {
        const column = schema.features[k] as string;
        return { text: jsonText(object[column]), column };
      },
      schema.features.length,
    );
  }

  async function* events(): AsyncGenerator<TableEvent> {
    yield* fromObject(firstLine, firstObject as Record<string, unknown>);
    for (;;) {
      const next = await lines.next();
      if (next.done) return;
      lineNo++;
      if (next.value.trim() === '') continue;
      const object = parseJsonObject(next.value);
      if (object === undefined) {
        const issue: RowIssue = { code: 'INPUT_JSON', line: lineNo, message: 'not a JSON object', rowDropped: true };
        yield { kind: 'issue', issue };
        continue;
      }
      yield* fromObject(lineNo, object);
    }
  }
  return { schema, events: events() };
}

/** A JSON value as cell text: null and absent are empty (missing); objects keep their JSON so they fail parsing. */
function jsonText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
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
    const message = err instanceof Error ? err.message : String(err);
    yield { kind: 'issue', issue: { code: 'INPUT_TIMESTAMP', line, message, rowDropped: true } };
    return;
  }
  const values = new Float64Array(width);
  for (let k = 0; k < width; k++) {
    const { text, column } = cell(k);
    const value = parseKpiCell(text);
    if (value === undefined) {
      const message = `column ${column}: "${text}" is not a number; treated as missing`;
      yield { kind: 'issue', issue: { code: 'INPUT_VALUE', line, message, rowDropped: false } };
      values[k] = Number.NaN;
    } else {
      values[k] = value;
    }
  }
  yield { kind: 'row', row: { line, timestampMs, entity, values } };
}
