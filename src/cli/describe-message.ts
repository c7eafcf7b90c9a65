import type {
  AnomalyPayload,
  EventPayload,
  HealthPayload,
  ModelResultPayload,
  ModelStatePayload,
  StatusPayload,
  SummaryPayload,
} from '../report/payloads.js';

/** One line per message, as a person watching the broker would want to read it. */
export function describeMessage(kind: string, text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `[${kind}] (not JSON) ${text.slice(0, 80)}`;
  }
  const tag = `[${kind}]`.padEnd(10);
  const replay = (body as { replayed?: boolean }).replayed ? ' (replayed)' : '';
  switch (kind) {
    case 'status': {
      const s = body as StatusPayload;
      return `${tag}${s.state}${s.reason ? ` (${s.reason})` : ''}, agent ${s.agentVersion}`;
    }
    case 'anomaly': {
      const a = body as AnomalyPayload;
      const i = a.incident;
      const kpis = i.topKpis.map((k) => `${k.kpi} ${num(k.observed)} vs ${num(k.expected)}`).join(', ');
      const when = a.event === 'close' ? `${i.firstFlaggedAt} → ${i.lastFlaggedAt}` : i.firstFlaggedAt;
      return (
        `${tag}${a.event.toUpperCase().padEnd(12)}${i.entity}  ${when}  peak ${num(i.peakScore)} ` +
        `(threshold ${num(i.threshold)}), ${i.flaggedRows}/${i.rows} rows flagged; ${kpis}${replay}`
      );
    }
    case 'summary': {
      const s = body as SummaryPayload;
      const skipped = Object.values(s.rowsSkipped).reduce((a, b) => a + b, 0);
      return (
        `${tag}${s.pipeline}: ${s.rowsIn} rows in, ${s.rowsScored} scored, ${skipped} skipped, ` +
        `${s.rowsFlagged} flagged, ${s.incidentsOpened} incidents opened; score p95 ${num(s.scoreP95)}${replay}`
      );
    }
    case 'health': {
      const h = body as HealthPayload;
      const rows = h.pipelines.map((p) => `${p.name} ${p.rowsIn} rows`).join(', ');
      return (
        `${tag}rss ${Math.round(h.rssBytes / 2 ** 20)} MiB, cpu ${h.cpuPct} %, buffer ${h.buffer.rows} rows, ` +
        `outbox ${h.outbox.messages}; ${rows}${replay}`
      );
    }
    case 'event': {
      const e = body as EventPayload;
      return `${tag}${e.event}: ${e.message}${replay}`;
    }
    case 'state': {
      const m = body as ModelStatePayload;
      const models = m.pipelines.map((p) => {
        const a = p.active;
        const model = a
          ? `${a.modelId} v${a.version} (${a.origin})`
          : p.training
            ? `training ${p.training.state}`
            : 'none';
        return `${p.pipeline} ${model}`;
      });
      return `${tag}models: ${models.join(', ')}${replay}`;
    }
    case 'result': {
      const r = body as ModelResultPayload;
      return `${tag}${r.action} ${r.result}${r.code ? ` ${r.code}` : ''}: ${r.message}${replay}`;
    }
    default:
      return `${tag}${text.slice(0, 100)}`;
  }
}

function num(value: number | null): string {
  if (value === null) return 'n/a';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}
