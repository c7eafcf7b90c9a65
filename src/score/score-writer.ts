import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { stringify, type Stringifier } from 'csv-stringify';
import { formatContributions, type KpiContribution } from '../detect/explain.js';
import { CellwatchError } from '../errors.js';
import { writeFailure } from '../io/output-file.js';
import { formatTimestamp } from '../io/timestamp.js';
import type { KpiRow } from '../io/table.js';
import { formatOf } from '../io/source-file.js';

/** What is known of a row once it is scored; unscored rows carry only their status. */
export interface ScoredFields {
  score: number;
  threshold: number;
  flag: 0 | 1;
  top: KpiContribution[];
}

/**
 * Writes score rows as CSV or JSONL, keeping the input's timestamp and entity columns. The file is
 * written beside the target as `.partial` and renamed by finish(), so a failed run never leaves a cut-off
 * file behind; abort() removes it. A write error (disk full) is kept and thrown at the next row.
 */
export class ScoreWriter {
  private readonly partial: string;
  private readonly file: WriteStream;
  private readonly csv: Stringifier | undefined;
  private readonly done: Promise<unknown>;
  private readonly columns: string[];
  private failure: unknown;

  constructor(
    private readonly path: string,
    private readonly timestampColumn: string,
    private readonly entityColumns: readonly string[],
  ) {
    const jsonl = outputFormat(path) === 'jsonl';
    this.columns = [timestampColumn, ...entityColumns, 'score', 'threshold', 'flag'];
    this.partial = `${path}.partial`;
    this.file = createWriteStream(this.partial);
    this.csv = jsonl ? undefined : stringify({ header: true, columns: [...this.columns, 'top_kpis', 'status'] });
    this.done = finished(this.csv ? this.csv.pipe(this.file) : this.file).catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  async write(row: KpiRow, status: string, scored?: ScoredFields): Promise<void> {
    if (this.failure !== undefined) throw writeFailure(this.path, this.failure);
    const record: Record<string, unknown> = { [this.timestampColumn]: formatTimestamp(row.timestampMs) };
    this.entityColumns.forEach((c, i) => (record[c] = row.entity[i]));
    if (scored) {
      record.score = Number(scored.score.toPrecision(6));
      record.threshold = Number(scored.threshold.toPrecision(6));
      record.flag = scored.flag;
    }
    const top = scored?.top;
    const ok = this.csv
      ? this.csv.write([...this.columns.map((c) => record[c] ?? ''), top ? formatContributions(top) : '', status])
      : this.file.write(`${JSON.stringify({ ...record, top_kpis: top ?? [], status })}\n`);
    const stream = this.csv ?? this.file;
    if (!ok) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  }

  /** Flush, then move the finished file into place. */
  async finish(): Promise<void> {
    (this.csv ?? this.file).end();
    await this.done;
    if (this.failure !== undefined) throw writeFailure(this.path, this.failure);
    await rename(this.partial, this.path);
  }

  /** Drop what was written; the target, if it existed, is left as it was. */
  async abort(): Promise<void> {
    (this.csv ?? this.file).destroy();
    await rm(this.partial, { force: true });
  }
}

/** Scores are written as plain CSV or JSONL; anything else is a usage error, never a mislabelled file. */
function outputFormat(path: string): 'csv' | 'jsonl' {
  const known = /\.(csv|jsonl|ndjson)$/.test(path) ? formatOf(path) : undefined;
  if (!known || known.gzip) {
    throw new CellwatchError('USAGE', `scores are written as .csv or .jsonl, not ${path}`, { path });
  }
  return known.format;
}
