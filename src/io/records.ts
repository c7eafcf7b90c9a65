import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { CellwatchError } from '../errors.js';

/** A header-keyed record with its 1-based line, for files that are not KPI tables (labels, scores). */
export interface TextRecord {
  line: number;
  fields: Record<string, string>;
}

/** Stream a CSV (with header) or JSONL file as string-valued records. */
export async function* readRecords(path: string): AsyncGenerator<TextRecord> {
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read input: ${path}`, { path });
  }
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const base = path.replace(/\.gz$/, '');
  if (base.endsWith('.jsonl')) {
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      const value = JSON.parse(text) as Record<string, unknown>;
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(value)) fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
      yield { line, fields };
    }
    return;
  }
  if (!base.endsWith('.csv')) throw new CellwatchError('INPUT_FORMAT', `unknown input format: ${path}`, { path });
  const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, info: true, bom: true, trim: true }));
  for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    yield { line: item.info.lines, fields: item.record };
  }
}
