import { parse } from 'csv-parse/sync';
import { isCellwatchError, type ErrorCode } from '../errors.js';
import { csvRowDecoder, jsonRowDecoder, type RowDecoder } from '../io/read-table.js';
import type { Format } from '../io/source-file.js';
import { errorText, type SourceEvent } from './hand-over.js';
import type { SourceContext } from './source.js';
import { mapTable, sourceEvents, type TableMapping } from './table-samples.js';

/**
 * Followed files arrive line by line, so they are decoded line by line: a CSV's first line is its header,
 * every later line one record; a JSONL line is one object. The checks and issues are those of openTable.
 * A CSV record with a quoted line break cannot be followed (it would arrive as two broken lines).
 */
export interface LineDecoder {
  /** True while a CSV waits for its header: the one line a follower starting at the end still decodes. */
  readonly wantsHeader: boolean;
  decode(text: string, line: number): SourceEvent[];
}

/** A fresh decoder for each file the follower opens: a rotated CSV brings its own header. */
export function lineDecoder(
  format: Format,
  context: SourceContext,
  timestampColumn: string,
  file: string,
): LineDecoder {
  return format === 'csv'
    ? csvLineDecoder(context, timestampColumn, file)
    : jsonLineDecoder(context, timestampColumn, file);
}

/** Fields of one CSV line, trimmed as the file reader trims them; undefined when the line is not CSV. */
function csvFields(text: string): string[] | undefined {
  try {
    const records: string[][] = parse(text, { relax_quotes: true, relax_column_count: true, bom: true });
    return records[0]?.map((field) => field.trim());
  } catch {
    return undefined;
  }
}

function csvLineDecoder(context: SourceContext, timestampColumn: string, file: string): LineDecoder {
  let reader: { mapping: TableMapping; rows: RowDecoder<readonly string[]> } | undefined;
  let refused = false;

  function decode(text: string, line: number): SourceEvent[] {
    // A file whose header does not fit was reported once; its rows are not guessed at.
    if (refused) return [];
    const fields = csvFields(text);
    if (fields === undefined) {
      return [issue('INPUT_FIELD_COUNT', 'unparsable CSV line', file, line)];
    }
    if (reader === undefined) {
      try {
        const mapping = mapTable(context, timestampColumn, fields, 'csv', file);
        reader = { mapping, rows: csvRowDecoder(fields, mapping.options) };
        return [];
      } catch (err) {
        refused = true;
        const code = isCellwatchError(err) ? err.code : 'INPUT_COLUMNS';
        const message = `header does not fit the pipeline; rows ignored until the file is replaced: ${errorText(err)}`;
        return [issue(code, message, file, line)];
      }
    }
    const { mapping, rows } = reader;
    return rows.decode(fields, line).map((event) => sourceEvents(event, mapping, file));
  }
  return {
    get wantsHeader() {
      return reader === undefined && !refused;
    },
    decode,
  };
}

function jsonLineDecoder(context: SourceContext, timestampColumn: string, file: string): LineDecoder {
  // Every column is named, so the mapping never depends on which keys one line happens to carry.
  const columns = [timestampColumn, ...context.entityColumns, ...context.features];
  const mapping = mapTable(context, timestampColumn, columns, 'jsonl', file);
  const rows = jsonRowDecoder(mapping.options);

  return {
    wantsHeader: false,
    decode: (text, line) => rows.decode(text, line).map((event) => sourceEvents(event, mapping, file)),
  };
}

function issue(code: ErrorCode, message: string, file: string, line: number): SourceEvent {
  return { kind: 'issue', issue: { code, message, file, line } };
}
