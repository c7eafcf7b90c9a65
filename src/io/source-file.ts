import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { CellwatchError } from '../errors.js';

export type Format = 'csv' | 'jsonl';

/** A line the reader could not take as a record; the reading goes on after it. */
export interface LineIssue {
  kind: 'issue';
  line: number;
  code: 'INPUT_FIELD_COUNT' | 'INPUT_JSON';
  message: string;
}

export function formatOf(path: string): { format: Format; gzip: boolean } {
  const gzip = path.endsWith('.gz');
  const base = gzip ? path.slice(0, -3) : path;
  if (base.endsWith('.csv') || base.endsWith('.txt')) return { format: 'csv', gzip };
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return { format: 'jsonl', gzip };
  throw new CellwatchError('INPUT_FORMAT', `unknown input format (use .csv or .jsonl, optionally .gz): ${path}`, {
    path,
  });
}

/** Fail early, with a code, on a path that is missing, unreadable or not a regular file. */
export async function checkReadable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read input (missing, unreadable or not a file): ${path}`, {
      path,
    });
  }
}

/**
 * Refuse to write over a file being read: a score or model written there would destroy the input. Paths
 * are compared, and when both exist their device and inode too, so a symlink or hard link is caught.
 */
export async function checkDistinct(input: string, output: string): Promise<void> {
  const fail = () => new CellwatchError('USAGE', `output would overwrite an input: ${output}`, { input, output });
  if (resolve(input) === resolve(output)) throw fail();
  const [a, b] = await Promise.all([stat(input).catch(() => undefined), stat(output).catch(() => undefined)]);
  if (a && b && a.dev === b.dev && a.ino === b.ino) throw fail();
}

/**
 * The file's text as a stream. pipeline() carries a read or gunzip error (a truncated .gz, a vanished
 * file) to the consumer, where an async iterator throws it; plain pipe() would crash the process instead.
 */
function openText(path: string, gzip: boolean): Readable {
  const out = new PassThrough();
  const done = () => {};
  if (gzip) pipeline(createReadStream(path), createGunzip(), out, done);
  else pipeline(createReadStream(path), out, done);
  return out;
}

/** Wrap a stream failure as a coded error naming the file. */
function streamFailure(path: string, err: unknown): CellwatchError {
  if (err instanceof CellwatchError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CellwatchError('INPUT_FORMAT', `cannot read ${path}: ${message}`, { path });
}

export type CsvEvent = { kind: 'record'; line: number; fields: string[] } | LineIssue;

/**
 * CSV records with their line numbers. A record the parser cannot take (a stray quote) is reported and
 * skipped; the file goes on. Field counts are left to the caller, which knows the header.
 */
export async function* csvRecords(path: string, gzip: boolean): AsyncGenerator<CsvEvent> {
  const skipped: LineIssue[] = [];
  const parser = parse({
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    bom: true,
    // A record past this is garbage (a file with no line breaks), not KPIs: skipped and reported.
    max_record_size: 1024 * 1024,
    // No trim here: with it, csv-parse stops for good at a quote followed by text ("2"x). Callers trim.
    trim: false,
    on_skip: (err) => {
      const line = (err as { lines?: number } | undefined)?.lines ?? 0;
      skipped.push({ kind: 'issue', line, code: 'INPUT_FIELD_COUNT', message: `unparsable CSV: ${err?.message}` });
    },
  });
  const source = openText(path, gzip);
  let bytesIn = 0;
  source.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  pipeline(source, parser, () => {});
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // The parser may run ahead of this loop: report a skipped record where it stands in the file.
      while (skipped.length > 0 && (skipped[0] as LineIssue).line < item.info.lines) yield skipped.shift() as LineIssue;
      yield { kind: 'record', line: item.info.lines, fields: item.record.map((f) => f.trim()) };
    }
  } catch (err) {
    throw streamFailure(path, err);
  }
  yield* skipped;
  // Never end quietly short of the end of the file: say where reading stopped.
  const { bytes, lines } = parser.info;
  if (bytes < bytesIn) {
    throw new CellwatchError('INPUT_FORMAT', `CSV parsing stopped at line ${lines} of ${path}`, { path, line: lines });
  }
}

/** Non-empty lines of a text file with their 1-based numbers; a leading byte-order mark is dropped. */
export async function* textLines(path: string, gzip: boolean): AsyncGenerator<{ line: number; text: string }> {
  let line = 0;
  const input = openText(path, gzip);
  try {
    for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() !== '') yield { line, text };
    }
  } catch (err) {
    throw streamFailure(path, err);
  } finally {
    // A reader that stops early (a header probe, a stopped replay) must not leave the file open: readline
    // closing does not end its input.
    input.destroy();
  }
}

/** Parse a JSON object; anything else (an array, null, a number, broken JSON) is undefined. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A JSON value as cell text: null and absent are empty (missing); objects keep their JSON so they fail parsing. */
export function jsonText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
