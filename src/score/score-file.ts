import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { topContributions, formatContributions, type KpiContribution } from '../detect/explain.js';
import { CellwatchError } from '../errors.js';
import { Featurizer, type FeatureResult } from '../features/featurizer.js';
import { checkWritable, writeFailure } from '../io/output-file.js';
import { openTable } from '../io/read-table.js';
import { checkDistinct, formatOf } from '../io/source-file.js';
import type { KpiRow, RowIssue } from '../io/table.js';
import { formatTimestamp } from '../io/timestamp.js';
import { ModelSession } from '../model/session.js';

export interface ScoreOptions {
  model: string;
  input: string;
  output: string;
  timestampColumn?: string;
  entityColumns?: string[];
  batchSize: number;
  topKpis: number;
  intraOpThreads: number;
}

export interface ScoreReport {
  rowsRead: number;
  rowsScored: number;
  rowsFlagged: number;
  skipped: Record<string, number>;
  issues: RowIssue[];
  issueCount: number;
  threshold: number;
  durationS: number;
}

interface Pending {
  row: KpiRow;
  result: Extract<FeatureResult, { status: 'ok' }>;
}

/**
 * Score a KPI file row by row, streaming: rows are read, featurised and scored in batches and written
 * out as they go, so memory stays flat whatever the file size (only per-series state is kept).
 */
export async function scoreFile(options: ScoreOptions): Promise<ScoreReport> {
  const started = performance.now();
  await checkDistinct(options.input, options.output);
  await checkDistinct(options.model, options.output);
  await checkWritable(options.output);
  const jsonl = outputFormat(options.output) === 'jsonl';
  const session = await ModelSession.fromFile(options.model, { intraOpThreads: options.intraOpThreads });
  const contract = session.info.contract;
  const table = await openTable(options.input, {
    timestampColumn: options.timestampColumn,
    entityColumns: options.entityColumns,
    features: contract.layout.kpis,
  });
  const missingKeys = contract.normalization.entityColumns.filter((c) => !table.schema.entityColumns.includes(c));
  if (missingKeys.length > 0) {
    throw new CellwatchError('INPUT_COLUMNS', `input lacks the model's entity columns: ${missingKeys.join(', ')}`, {
      missing: missingKeys,
    });
  }
  const featurizer = new Featurizer(contract.layout, contract.normalization, table.schema.entityColumns);
  const threshold = contract.scoring.threshold;
  const columns = [table.schema.timestampColumn, ...table.schema.entityColumns, 'score', 'threshold', 'flag'];
  const out = jsonl ? undefined : stringify({ header: true, columns: [...columns, 'top_kpis', 'status'] });
  // Written beside the target and renamed at the end, so a failed run never leaves a cut-off file behind.
  const partial = `${options.output}.partial`;
  const file = createWriteStream(partial);
  // A write error (disk full) is kept and thrown at the next row, not left as an unhandled rejection.
  let failure: unknown;
  const done = finished(out ? out.pipe(file) : file).catch((err: unknown) => (failure ??= err));
  const emit = async (record: Record<string, unknown>, top: KpiContribution[] | undefined, status: string) => {
    if (failure !== undefined) throw writeFailure(options.output, failure);
    const ok = out
      ? out.write([...columns.map((c) => record[c] ?? ''), top ? formatContributions(top) : '', status])
      : file.write(`${JSON.stringify({ ...record, top_kpis: top ?? [], status })}\n`);
    if (!ok) await new Promise<void>((resolve) => (out ?? file).once('drain', () => resolve()));
  };
  const base = (row: KpiRow): Record<string, unknown> => {
    const record: Record<string, unknown> = { [table.schema.timestampColumn]: formatTimestamp(row.timestampMs) };
    table.schema.entityColumns.forEach((c, i) => (record[c] = row.entity[i]));
    return record;
  };

  const report: ScoreReport = {
    rowsRead: 0,
    rowsScored: 0,
    rowsFlagged: 0,
    skipped: { incomplete: 0, warmup: 0, out_of_order: 0 },
    issues: [],
    issueCount: 0,
    threshold,
    durationS: 0,
  };
  let pending: Pending[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = new Float32Array(pending.length * session.width);
    pending.forEach((p, i) => batch.set(p.result.vector, i * session.width));
    const { reconstruction, score } = await session.run(batch, pending.length);
    for (let i = 0; i < pending.length; i++) {
      const { row, result } = pending[i] as Pending;
      const s = score[i] as number;
      const flag = s > threshold ? 1 : 0;
      report.rowsScored++;
      report.rowsFlagged += flag;
      const context = { observed: result.filled, stats: result.stats };
      const { layout, scoring } = contract;
      const top = topContributions(
        layout,
        scoring.weights,
        batch,
        reconstruction,
        i * session.width,
        context,
        options.topKpis,
      );
      await emit(
        { ...base(row), score: Number(s.toPrecision(6)), threshold: Number(threshold.toPrecision(6)), flag },
        top,
        'scored',
      );
    }
    pending = [];
  };

  try {
    for await (const event of table.events) {
      if (event.kind === 'issue') {
        report.issueCount++;
        if (report.issues.length < 20) report.issues.push(event.issue);
        continue;
      }
      report.rowsRead++;
      const result = featurizer.push(event.row);
      if (result.status === 'ok') {
        pending.push({ row: event.row, result });
        if (pending.length >= options.batchSize) await flush();
      } else {
        // Keep file order: rows waiting for the model go out before a skipped row is written.
        await flush();
        report.skipped[result.status] = (report.skipped[result.status] ?? 0) + 1;
        await emit(base(event.row), undefined, result.status);
      }
    }
    await flush();
    (out ?? file).end();
    await done;
    if (failure !== undefined) throw writeFailure(options.output, failure);
    if (report.rowsRead === 0) {
      throw new CellwatchError('INPUT_EMPTY', `no usable rows in ${options.input}`, { issues: report.issueCount });
    }
    await rename(partial, options.output);
  } catch (err) {
    (out ?? file).destroy();
    await rm(partial, { force: true });
    throw err;
  } finally {
    await session.close();
  }
  report.durationS = (performance.now() - started) / 1000;
  return report;
}

/** Scores are written as plain CSV or JSONL; anything else is a usage error, never a mislabelled file. */
function outputFormat(path: string): 'csv' | 'jsonl' {
  const known = /\.(csv|jsonl|ndjson)$/.test(path) ? formatOf(path) : undefined;
  if (!known || known.gzip) {
    throw new CellwatchError('USAGE', `scores are written as .csv or .jsonl, not ${path}`, { path });
  }
  return known.format;
}
