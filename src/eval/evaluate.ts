import { CellwatchError } from '../errors.js';
import { readRecords } from '../io/records.js';
import { parseTimestampMs } from '../io/timestamp.js';
import { KNOWN_ENTITY_COLUMNS } from '../kpis.js';
import { confusionAt, precisionRecall, rocAuc, type PrSummary } from './metrics.js';

export interface EvalOptions {
  scores: string;
  labels: string;
  timestampColumn: string;
  /** Columns that, with the timestamp, match a score row to its label; default the known entity names. */
  entityColumns: string[] | undefined;
  topRows: number;
}

export interface ScoredLabelledRows {
  timestampMs: Float64Array;
  score: Float64Array;
  label: Uint8Array;
  kind: string[];
  entity: string[];
  topKpis: string[];
  maintenance: Uint8Array;
  count: number;
}

export interface TopRow {
  timestamp: string;
  entity: string;
  score: number;
  label: number;
  kind: string;
  topKpis: string;
}

export interface EvalReport extends PrSummary {
  rowsEvaluated: number;
  anomalousRows: number;
  rocAuc: number;
  threshold: number;
  atThreshold: { precision: number; recall: number; f1: number };
  flagRateNormal: number;
  flagRateMaintenance: number | null;
  recallByKind: Record<string, { rows: number; recall: number }>;
  unscoredLabelledRows: number;
  unlabelledScoredRows: number;
  skippedLines: SkippedLines;
  top: TopRow[];
}

/** Lines of the labels or scores file that were left out, with the first few kept for the report. */
export interface SkippedLines {
  count: number;
  first: { file: string; line: number; code: string; message: string }[];
}

function skip(skipped: SkippedLines, file: string, line: number, code: string, message: string): void {
  skipped.count++;
  if (skipped.first.length < 10) skipped.first.push({ file, line, code, message });
}

/** A timestamp cell as epoch ms, or undefined after recording why not. */
function timestampOf(text: string | undefined, file: string, line: number, skipped: SkippedLines): number | undefined {
  try {
    return parseTimestampMs(text ?? '', line);
  } catch (err) {
    skip(skipped, file, line, 'INPUT_TIMESTAMP', (err as Error).message);
    return undefined;
  }
}

/**
 * Join scored rows with labels on timestamp and entity, then measure detection quality. A line that cannot
 * be used (bad timestamp, label that is not 0/1, score that is not a finite number) is skipped and counted.
 */
export async function evaluate(options: EvalOptions): Promise<{ report: EvalReport; rows: ScoredLabelledRows }> {
  const skipped: SkippedLines = { count: 0, first: [] };
  const labels = new Map<string, { label: number; kind: string; maintenance: number }>();
  let keyColumns: string[] | undefined = options.entityColumns;
  for await (const event of readRecords(options.labels)) {
    if (event.kind === 'issue') {
      skip(skipped, 'labels', event.line, event.code, event.message);
      continue;
    }
    const { line, fields } = event;
    const missingColumns = fields[options.timestampColumn] === undefined || fields.label === undefined;
    if (missingColumns && keyColumns === undefined) {
      throw new CellwatchError('INPUT_COLUMNS', `labels need ${options.timestampColumn} and label columns`, { line });
    }
    keyColumns ??= KNOWN_ENTITY_COLUMNS.filter((c) => c in fields);
    if (missingColumns) {
      skip(skipped, 'labels', line, 'INPUT_COLUMNS', `no ${options.timestampColumn} or label`);
      continue;
    }
    const ts = timestampOf(fields[options.timestampColumn], 'labels', line, skipped);
    const label = flag(fields.label ?? '');
    const maintenance = fields.maintenance === undefined || fields.maintenance === '' ? 0 : flag(fields.maintenance);
    if (label === undefined || maintenance === undefined) {
      skip(skipped, 'labels', line, 'INPUT_VALUE', 'label and maintenance must be 0 or 1');
      continue;
    }
    if (ts === undefined) continue;
    const key = joinKey(ts, keyColumns, fields);
    if (labels.has(key)) skip(skipped, 'labels', line, 'INPUT_DUPLICATE', 'label for a row labelled before');
    else labels.set(key, { label, kind: fields.kind ?? '', maintenance });
  }
  const columns = keyColumns ?? [];

  const acc = { ts: [] as number[], score: [] as number[], label: [] as number[], kind: [] as string[] };
  const more = { entity: [] as string[], top: [] as string[], maintenance: [] as number[] };
  let threshold = Number.NaN;
  let unlabelled = 0;
  const matched = new Set<string>();
  for await (const event of readRecords(options.scores)) {
    if (event.kind === 'issue') {
      skip(skipped, 'scores', event.line, event.code, event.message);
      continue;
    }
    const { line, fields } = event;
    if (fields.score === undefined || fields.score === '') continue;
    const score = Number(fields.score);
    const ts = timestampOf(fields[options.timestampColumn], 'scores', line, skipped);
    if (!Number.isFinite(score))
      skip(skipped, 'scores', line, 'INPUT_VALUE', `score "${fields.score}" is not a number`);
    if (ts === undefined || !Number.isFinite(score)) continue;
    const key = joinKey(ts, columns, fields);
    if (matched.has(key)) {
      skip(skipped, 'scores', line, 'INPUT_DUPLICATE', 'score for a row scored before');
      continue;
    }
    const truth = labels.get(key);
    if (!truth) {
      unlabelled++;
      continue;
    }
    matched.add(key);
    if (Number.isNaN(threshold)) threshold = Number(fields.threshold);
    acc.ts.push(ts);
    acc.score.push(score);
    acc.label.push(truth.label);
    acc.kind.push(truth.kind);
    more.entity.push(columns.map((c) => fields[c] ?? '').join('/'));
    more.top.push(fields.top_kpis ?? '');
    more.maintenance.push(truth.maintenance);
  }
  if (acc.score.length === 0) {
    throw new CellwatchError('LABELS_MISMATCH', 'no scored row matches a label (check timestamps and entity columns)', {
      keyColumns: columns,
      skippedLines: skipped.count,
    });
  }

  const rows: ScoredLabelledRows = {
    timestampMs: Float64Array.from(acc.ts),
    score: Float64Array.from(acc.score),
    label: Uint8Array.from(acc.label),
    kind: acc.kind,
    entity: more.entity,
    topKpis: more.top,
    maintenance: Uint8Array.from(more.maintenance),
    count: acc.score.length,
  };
  const report = summarise(rows, threshold, options.topRows, labels.size - matched.size, unlabelled);
  return { report: { ...report, skippedLines: skipped }, rows };
}

/** A 0/1 label cell, or undefined for anything else: an unreadable label is never silently "normal". */
function flag(text: string): 0 | 1 | undefined {
  const t = text.trim().toLowerCase();
  if (t === '1' || t === '1.0' || t === 'true') return 1;
  if (t === '0' || t === '0.0' || t === 'false') return 0;
  return undefined;
}

function joinKey(timestampMs: number, columns: readonly string[], fields: Record<string, string>): string {
  return `${timestampMs}|${columns.map((c) => fields[c] ?? '').join('/')}`;
}

/** Maintenance rows are neither normal nor anomalous: they are left out of the metrics and reported apart. */
function summarise(
  rows: ScoredLabelledRows,
  threshold: number,
  topRows: number,
  unscoredLabelledRows: number,
  unlabelledScoredRows: number,
): Omit<EvalReport, 'skippedLines'> {
  const keep: number[] = [];
  for (let i = 0; i < rows.count; i++) if (rows.maintenance[i] !== 1) keep.push(i);
  const score = Float64Array.from(keep, (i) => rows.score[i] as number);
  const label = Uint8Array.from(keep, (i) => rows.label[i] as number);
  const anomalousRows = label.reduce((a, b) => a + b, 0);

  const byKind: Record<string, { rows: number; hits: number }> = {};
  let normalRows = 0;
  let normalFlags = 0;
  let maintenanceRows = 0;
  let maintenanceFlags = 0;
  for (let i = 0; i < rows.count; i++) {
    const flagged = (rows.score[i] as number) > threshold;
    if (rows.maintenance[i] === 1) {
      maintenanceRows++;
      maintenanceFlags += flagged ? 1 : 0;
    } else if (rows.label[i] === 1) {
      const kind = rows.kind[i] || 'unspecified';
      const entry = (byKind[kind] ??= { rows: 0, hits: 0 });
      entry.rows++;
      entry.hits += flagged ? 1 : 0;
    } else {
      normalRows++;
      normalFlags += flagged ? 1 : 0;
    }
  }
  const recallByKind: EvalReport['recallByKind'] = {};
  for (const [kind, { rows: n, hits }] of Object.entries(byKind).sort(([a], [b]) => a.localeCompare(b))) {
    recallByKind[kind] = { rows: n, recall: hits / n };
  }

  const order = Array.from({ length: rows.count }, (_, i) => i).sort(
    (a, b) => (rows.score[b] as number) - (rows.score[a] as number),
  );
  const top = order.slice(0, topRows).map((i) => ({
    timestamp: new Date(rows.timestampMs[i] as number).toISOString().replace('.000Z', 'Z'),
    entity: rows.entity[i] as string,
    score: rows.score[i] as number,
    label: rows.label[i] as number,
    kind: rows.kind[i] as string,
    topKpis: rows.topKpis[i] as string,
  }));
  const at = confusionAt(score, label, threshold);
  return {
    rowsEvaluated: score.length,
    anomalousRows,
    rocAuc: rocAuc(score, label),
    ...precisionRecall(score, label),
    threshold,
    atThreshold: { precision: at.precision, recall: at.recall, f1: at.f1 },
    flagRateNormal: normalRows > 0 ? normalFlags / normalRows : Number.NaN,
    flagRateMaintenance: maintenanceRows > 0 ? maintenanceFlags / maintenanceRows : null,
    recallByKind,
    unscoredLabelledRows,
    unlabelledScoredRows,
    top,
  };
}
