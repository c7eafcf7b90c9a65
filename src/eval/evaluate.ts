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
  top: TopRow[];
}

/** Join scored rows with labels on timestamp and entity, then measure detection quality. */
export async function evaluate(options: EvalOptions): Promise<{ report: EvalReport; rows: ScoredLabelledRows }> {
  const labels = new Map<string, { label: number; kind: string; maintenance: number }>();
  let keyColumns: string[] | undefined = options.entityColumns;
  for await (const { line, fields } of readRecords(options.labels)) {
    keyColumns ??= KNOWN_ENTITY_COLUMNS.filter((c) => c in fields);
    const ts = fields[options.timestampColumn];
    if (ts === undefined || fields.label === undefined) {
      throw new CellwatchError('INPUT_COLUMNS', `labels need ${options.timestampColumn} and label columns`, { line });
    }
    const key = joinKey(parseTimestampMs(ts, line), keyColumns, fields);
    labels.set(key, {
      label: flag(fields.label, 'label', line),
      kind: fields.kind ?? '',
      maintenance:
        fields.maintenance === undefined || fields.maintenance === ''
          ? 0
          : flag(fields.maintenance, 'maintenance', line),
    });
  }
  const columns = keyColumns ?? [];

  const acc = { ts: [] as number[], score: [] as number[], label: [] as number[], kind: [] as string[] };
  const more = { entity: [] as string[], top: [] as string[], maintenance: [] as number[] };
  let threshold = Number.NaN;
  let unlabelled = 0;
  const matched = new Set<string>();
  for await (const { line, fields } of readRecords(options.scores)) {
    if (fields.score === undefined || fields.score === '') continue;
    const ts = parseTimestampMs(fields[options.timestampColumn] ?? '', line);
    const key = joinKey(ts, columns, fields);
    const truth = labels.get(key);
    if (!truth) {
      unlabelled++;
      continue;
    }
    matched.add(key);
    if (Number.isNaN(threshold)) threshold = Number(fields.threshold);
    acc.ts.push(ts);
    acc.score.push(Number(fields.score));
    acc.label.push(truth.label);
    acc.kind.push(truth.kind);
    more.entity.push(columns.map((c) => fields[c] ?? '').join('/'));
    more.top.push(fields.top_kpis ?? '');
    more.maintenance.push(truth.maintenance);
  }
  if (acc.score.length === 0) {
    throw new CellwatchError('LABELS_MISMATCH', 'no scored row matches a label (check timestamps and entity columns)', {
      keyColumns: columns,
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
  return { report: summarise(rows, threshold, options.topRows, labels.size - matched.size, unlabelled), rows };
}

/** A 0/1 label cell; anything else is an error, never silently "normal". */
function flag(text: string, column: string, line: number): 0 | 1 {
  const t = text.trim().toLowerCase();
  if (t === '1' || t === '1.0' || t === 'true') return 1;
  if (t === '0' || t === '0.0' || t === 'false') return 0;
  throw new CellwatchError('INPUT_VALUE', `${column} must be 0 or 1, found "${text}" on line ${line}`, {
    line,
    column,
  });
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
): EvalReport {
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
