import type { OutboxMessage } from '../buffer/outbox.js';
import type { AlarmEvent, Incident } from '../detect/alarms.js';
import type {
  AnomalyPayload,
  EventPayload,
  HealthPayload,
  IncidentPayload,
  ModelResultPayload,
  ModelStatePayload,
  PayloadBody,
  StatusPayload,
  SummaryPayload,
} from './payloads.js';
import { envelope, type Topics } from './topics.js';

const DAY_MS = 86_400_000;

/**
 * Builds each outgoing message: its payload (one of the schemas in payloads.ts), topic, QoS, retain flag and
 * expiry. Anomalies keep for a week in a broker's queue, summaries a day; health is retained and replaced.
 */
export class Messages {
  constructor(
    private readonly topics: Topics,
    private readonly agentVersion: string,
    private readonly startedAtMs: number,
  ) {}

  private get site(): string {
    return this.topics.site;
  }

  status(state: 'online' | 'offline', nowMs: number, reason?: 'shutdown' | 'lost') {
    const payload: StatusPayload = {
      ...envelope(this.site, nowMs),
      state,
      agentVersion: this.agentVersion,
      startedAt: iso(this.startedAtMs),
      ...(reason ? { reason } : {}),
    };
    return { topic: this.topics.of('status'), payload: JSON.stringify(payload), qos: 1 as const, retain: true };
  }

  anomaly(event: AlarmEvent, nowMs: number): OutboxMessage {
    const payload: AnomalyPayload = {
      ...envelope(this.site, nowMs),
      event: event.type,
      incident: incidentPayload(event.incident),
    };
    return this.message('anomaly', payload, nowMs, 7 * DAY_MS);
  }

  summary(body: PayloadBody<SummaryPayload>, nowMs: number): OutboxMessage {
    return this.message('summary', { ...envelope(this.site, nowMs), ...body }, nowMs, DAY_MS);
  }

  health(body: PayloadBody<HealthPayload>, nowMs: number): OutboxMessage {
    return { ...this.message('health', { ...envelope(this.site, nowMs), ...body }, nowMs, DAY_MS), retain: true };
  }

  event(body: PayloadBody<EventPayload>, nowMs: number): OutboxMessage {
    return this.message('event', { ...envelope(this.site, nowMs), ...body }, nowMs, 7 * DAY_MS);
  }

  /** The outcome of a model push, rollback or training: queued with events, kept a week. */
  modelResult(body: PayloadBody<ModelResultPayload>, nowMs: number): OutboxMessage {
    const payload = { ...envelope(this.site, nowMs), ...body };
    return { ...this.message('event', payload, nowMs, 7 * DAY_MS), topic: this.topics.of('model/result') };
  }

  /** Retained, so model status sees every site's models without waiting for a change. */
  modelState(body: PayloadBody<ModelStatePayload>, nowMs: number): OutboxMessage {
    const payload = { ...envelope(this.site, nowMs), ...body };
    const message = this.message('event', payload, nowMs, 7 * DAY_MS);
    return { ...message, topic: this.topics.of('model/state'), retain: true };
  }

  private message(kind: OutboxMessage['kind'], payload: object, nowMs: number, keepMs: number): OutboxMessage {
    return {
      kind,
      topic: this.topics.of(kind),
      payload: JSON.stringify(payload),
      qos: 1,
      retain: false,
      createdMs: nowMs,
      expiresMs: nowMs + keepMs,
    };
  }
}

/** The alarm layer's incident as the central side sees it: ISO times, model id and version apart. */
export function incidentPayload(incident: Incident): IncidentPayload {
  const at = incident.modelVersion.lastIndexOf('@');
  return {
    incidentId: incident.id,
    pipeline: incident.pipeline,
    entity: incident.entity,
    modelId: at > 0 ? incident.modelVersion.slice(0, at) : incident.modelVersion,
    modelVersion: at > 0 ? Number(incident.modelVersion.slice(at + 1)) : 1,
    firstFlaggedAt: iso(incident.firstFlaggedAtMs),
    openedAt: iso(incident.openedAtMs),
    lastFlaggedAt: iso(incident.lastFlaggedAtMs),
    ...(incident.closedAtMs !== undefined ? { closedAt: iso(incident.closedAtMs) } : {}),
    durationS: incident.durationMs / 1000,
    rows: incident.rows,
    flaggedRows: incident.flaggedRows,
    peakScore: round(incident.peakScore),
    peakAt: iso(incident.peakAtMs),
    threshold: round(incident.threshold),
    topKpis: incident.top.map((c) => ({
      kpi: c.kpi,
      observed: finiteOrNull(c.observed),
      expected: finiteOrNull(c.expected),
      share: Math.round(c.share * 1000) / 1000,
    })),
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? round(value) : null;
}
