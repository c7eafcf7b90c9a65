import { checkUniqueColumns } from './table.js';
import { checkReadable, csvRecords, formatOf, parseJsonObject, textLines, type LineIssue } from './source-file.js';

/** A header-keyed record with its 1-based line, for files that are not KPI tables (labels, scores). */
export interface TextRecord {
  kind: 'record';
  line: number;
  fields: Record<string, string>;
}

/**
 * Stream a CSV (with header) or JSONL file as string-valued records. A line that does not fit (wrong field
 * count, not a JSON object) is yielded as an issue and the file goes on.
 */
export async function* readRecords(path: string): AsyncGenerator<TextRecord | LineIssue> {
  const { format, gzip } = formatOf(path);
  await checkReadable(path);
  if (format === 'jsonl') {
    for await (const { line, text } of textLines(path, gzip)) {
      const value = parseJsonObject(text);
      if (!value) {
        yield { kind: 'issue', line, code: 'INPUT_JSON', message: 'not a JSON object' };
        continue;
      }
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(value)) fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
      yield { kind: 'record', line, fields };
    }
    return;
  }
  let header: string[] | undefined;
  for await (const event of csvRecords(path, gzip)) {
    if (event.kind === 'issue') {
      yield event;
      continue;
    }
    if (!header) {
      header = event.fields;
      checkUniqueColumns(header);
      continue;
    }
    if (event.fields.length !== header.length) {
      const message = `expected ${header.length} fields, found ${event.fields.length}`;
      yield { kind: 'issue', line: event.line, code: 'INPUT_FIELD_COUNT', message };
      continue;
    }
    const fields: Record<string, string> = {};
    header.forEach((name, i) => (fields[name] = event.fields[i] ?? ''));
    yield { kind: 'record', line: event.line, fields };
  }
}
