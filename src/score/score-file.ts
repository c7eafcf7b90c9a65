import { topContributions } from '../detect/explain.js';
import { CellwatchError } from '../errors.js';
import { Featurizer, type FeatureResult } from '../features/featurizer.js';
import { checkWritable } from '../io/output-file.js';
import type { PmTableOptions } from '../io/pm-table.js';
import { openTable } from '../io/read-table.js';
import { checkDistinct } from '../io/source-file.js';
import type { KpiRow, RowIssue } from '../io/table.js';
import { ModelSession } from '../model/session.js';
import { ScoreWriter } from './score-writer.js';

export interface ScoreOptions {
  model: string;
  input: string;
  output: string;
  timestampColumn?: string;
  entityColumns?: string[];
  /** For a folder of PM files: how they are read (a pm pipeline's rules); default rules otherwise. */
  pm?: PmTableOptions;
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
  const session = await ModelSession.fromFile(options.model, { intraOpThreads: options.intraOpThreads });
  const contract = session.info.contract;
  const table = await openTable(options.input, {
    timestampColumn: options.timestampColumn,
    entityColumns: options.entityColumns,
    features: contract.layout.kpis,
    pm: options.pm,
  });
  const missingKeys = contract.normalization.entityColumns.filter((c) => !table.schema.entityColumns.includes(c));
  if (missingKeys.length > 0) {
    throw new CellwatchError('INPUT_COLUMNS', `input lacks the model's entity columns: ${missingKeys.join(', ')}`, {
      missing: missingKeys,
    });
  }
  const featurizer = new Featurizer(contract.layout, contract.normalization, table.schema.entityColumns);
  const { layout, scoring } = contract;
  const threshold = scoring.threshold;
  const writer = new ScoreWriter(options.output, table.schema.timestampColumn, table.schema.entityColumns);

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
      const offset = i * session.width;
      const top = topContributions(layout, scoring.weights, batch, reconstruction, offset, context, options.topKpis);
      await writer.write(row, 'scored', { score: s, threshold, flag, top });
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
        await writer.write(event.row, result.status);
      }
    }
    await flush();
    if (report.rowsRead === 0) {
      throw new CellwatchError('INPUT_EMPTY', `no usable rows in ${options.input}`, { issues: report.issueCount });
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await session.close();
  }
  report.durationS = (performance.now() - started) / 1000;
  return report;
}
