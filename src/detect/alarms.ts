import type { AlarmConfig } from '../config/schema.js';
import { CellwatchError } from '../errors.js';
import type { KpiContribution } from './explain.js';

/**
 * The alarm layer above the per-row threshold. A 95th-percentile threshold flags about 5 % of normal rows by
 * construction, so one flag pages nobody: an incident needs several flags close together, closes only after
 * a run of clean rows, reports itself at a slow cadence, and a site may open only so many per hour.
 * Every time here is a row's own timestamp, never the wall clock, so a replay at any speed behaves like
 * real time and the same rows always give the same events.
 */

/** At least this share of an incident's last `levelShiftRows` rows flagged makes it a level shift. */
export const LEVEL_SHIFT_FLAGGED_SHARE = 0.8;

const HOUR_MS = 3_600_000;

/** One scored row of one entity, as the scorer hands it over. */
export interface ScoredRow {
  pipeline: string;
  /** Entity key as in messages, e.g. "SITE-042/2". */
  entity: string;
  timestampMs: number;
  score: number;
  threshold: number;
  flagged: boolean;
  /** The KPIs behind the score, largest share first. */
  top: KpiContribution[];
  modelVersion: string;
  /** The row falls in a maintenance window (see MaintenanceCalendar.isSilenced). */
  silenced: boolean;
}

/** An incident as reported: plain JSON data, times in epoch milliseconds. */
export interface Incident {
  /** `${site}:${pipeline}:${entity}:${openedAtMs}`. */
  id: string;
  pipeline: string;
  entity: string;
  /** The model version of the row that opened the incident. */
  modelVersion: string;
  /** The first flagged row of the window that opened the incident: when the anomaly began. */
  firstFlaggedAtMs: number;
  /** The row that met the open rule. */
  openedAtMs: number;
  lastFlaggedAtMs: number;
  /** lastFlaggedAtMs − firstFlaggedAtMs: the anomaly's length, without the clean rows that confirmed the close. */
  durationMs: number;
  /** The row that completed the run of clean rows; present on the close event only. */
  closedAtMs?: number;
  /** When the incident was reported as a level shift; absent before that. */
  levelShiftAtMs?: number;
  /** Rows from the first flagged row on, including the clean rows before a close. */
  rows: number;
  flaggedRows: number;
  peakScore: number;
  /** The threshold the peak row was scored against, so peakScore / threshold reads as "how far over". */
  threshold: number;
  peakAtMs: number;
  /** The KPIs behind the peak row's score, at most `topKpis`, largest share first. */
  top: KpiContribution[];
}

/** The same names as the `event` field of the anomaly payload (src/report/payloads.ts). */
export type AlarmEventType = 'open' | 'update' | 'close' | 'level_shift';

export interface AlarmEvent {
  type: AlarmEventType;
  /** A copy taken when the event was made: later rows do not change an event already handed out. */
  incident: Incident;
}

/** What the tracker decided since it was created; each hidden open is counted once, not per row. */
export interface AlarmCounters {
  /** Events emitted, by type. */
  opens: number;
  updates: number;
  closes: number;
  levelShifts: number;
  /** Level-shifted incidents that ended (silently, see below). */
  levelShiftEnds: number;
  /** Opens not emitted because the site reached maxIncidentsPerHour. */
  suppressed: number;
  /** Opens not emitted because the row was in a maintenance window. */
  silenced: number;
  /** Rows ignored because they were not newer than the entity's previous row. */
  outOfOrder: number;
}

/** Why an open incident is, or is not, visible to the central side. */
type Visibility = 'reported' | 'rate_limited' | 'silenced';

interface OpenIncident {
  incident: Incident;
  visibility: Visibility;
  rowsSinceOpen: number;
  cleanRun: number;
  /** Flag bits of the incident's last `levelShiftRows` rows, as a ring, and how many of them are set. */
  recent: Uint8Array;
  recentNext: number;
  recentFlagged: number;
}

interface EntityState {
  /** The last `windowRows` rows while no incident is open: the open rule's look-back. */
  window: ScoredRow[];
  lastRowMs: number;
  lastSilenced: boolean;
  open: OpenIncident | undefined;
}

export class AlarmTracker {
  private readonly entities = new Map<string, Map<string, EntityState>>();
  /** Row times of the opens emitted within the last hour, for the per-site rate limit. */
  private openTimesMs: number[] = [];
  private readonly count: AlarmCounters = {
    opens: 0,
    updates: 0,
    closes: 0,
    levelShifts: 0,
    levelShiftEnds: 0,
    suppressed: 0,
    silenced: 0,
    outOfOrder: 0,
  };

  constructor(
    private readonly config: AlarmConfig,
    private readonly site: string,
  ) {
    if (config.openFlags > config.windowRows) {
      throw new CellwatchError('CONFIG_INVALID', 'alarms.openFlags must be at most alarms.windowRows', {
        path: '/alarms/openFlags',
      });
    }
  }

  /** Feed one scored row (rows of one entity in time order); returns the events it causes, usually none. */
  observe(row: ScoredRow): AlarmEvent[] {
    const state = this.stateOf(row.pipeline, row.entity);
    if (row.timestampMs <= state.lastRowMs) {
      this.count.outOfOrder++;
      return [];
    }
    state.lastRowMs = row.timestampMs;

    // An incident that opened inside maintenance is never carried past it: the work itself explains it.
    // Dropping it and the look-back at the first row after the window means a fault the work left behind
    // opens a fresh incident after `openFlags` new flags, with an open time after the maintenance.
    if (state.lastSilenced && !row.silenced) {
      if (state.open?.visibility === 'silenced') state.open = undefined;
      if (!state.open) state.window = [];
    }
    state.lastSilenced = row.silenced;

    const events: AlarmEvent[] = [];
    if (state.open) this.advance(state, state.open, row, events);
    else this.tryOpen(state, row, events);
    return events;
  }

  counters(): AlarmCounters {
    return { ...this.count };
  }

  /** Incidents whose open was emitted and that have not closed, including muted level shifts. */
  openIncidents(): Incident[] {
    const list: Incident[] = [];
    for (const byEntity of this.entities.values()) {
      for (const state of byEntity.values()) {
        if (state.open?.visibility === 'reported') list.push(snapshot(state.open.incident));
      }
    }
    return list;
  }

  /**
   * Drop every entity's state of a pipeline, e.g. when its model is swapped and old scores mean nothing.
   * No close is emitted; the reported incidents dropped are returned so the caller can say what happened.
   */
  forget(pipeline: string): Incident[] {
    const dropped: Incident[] = [];
    for (const state of this.entities.get(pipeline)?.values() ?? []) {
      if (state.open?.visibility === 'reported') dropped.push(snapshot(state.open.incident));
    }
    this.entities.delete(pipeline);
    return dropped;
  }

  private stateOf(pipeline: string, entity: string): EntityState {
    let byEntity = this.entities.get(pipeline);
    if (!byEntity) {
      byEntity = new Map();
      this.entities.set(pipeline, byEntity);
    }
    let state = byEntity.get(entity);
    if (!state) {
      state = { window: [], lastRowMs: -Infinity, lastSilenced: false, open: undefined };
      byEntity.set(entity, state);
    }
    return state;
  }

  /**
   * The M-of-N rule: `openFlags` flagged rows among the last `windowRows`, the current one flagged. The
   * look-back counts rows, not time: flags from before a long gap in an entity's rows still count.
   */
  private tryOpen(state: EntityState, row: ScoredRow, events: AlarmEvent[]): void {
    state.window.push(row);
    if (state.window.length > this.config.windowRows) state.window.shift();
    if (!row.flagged) return;
    if (state.window.filter((r) => r.flagged).length < this.config.openFlags) return;

    const open = this.startIncident(state.window, row);
    state.open = open;
    if (row.silenced) {
      open.visibility = 'silenced';
      this.count.silenced++;
    } else if (!this.allowOpen(row.timestampMs)) {
      open.visibility = 'rate_limited';
      this.count.suppressed++;
    } else {
      this.count.opens++;
      events.push({ type: 'open', incident: snapshot(open.incident) });
    }
  }

  /** The incident starts at the window's first flagged row, so its rows, peak and duration include the lead-up. */
  private startIncident(window: readonly ScoredRow[], row: ScoredRow): OpenIncident {
    const rows = window.slice(window.findIndex((r) => r.flagged));
    const first = rows[0] ?? row;
    const incident: Incident = {
      id: `${this.site}:${row.pipeline}:${row.entity}:${row.timestampMs}`,
      pipeline: row.pipeline,
      entity: row.entity,
      modelVersion: row.modelVersion,
      firstFlaggedAtMs: first.timestampMs,
      openedAtMs: row.timestampMs,
      lastFlaggedAtMs: row.timestampMs,
      durationMs: row.timestampMs - first.timestampMs,
      rows: 0,
      flaggedRows: 0,
      peakScore: -Infinity,
      threshold: row.threshold,
      peakAtMs: row.timestampMs,
      top: [],
    };
    const open: OpenIncident = {
      incident,
      visibility: 'reported',
      rowsSinceOpen: 0,
      cleanRun: 0,
      recent: new Uint8Array(this.config.levelShiftRows),
      recentNext: 0,
      recentFlagged: 0,
    };
    for (const r of rows) this.account(open, r);
    return open;
  }

  /** Add one row to an incident's counts, peak and level-shift ring. */
  private account(open: OpenIncident, row: ScoredRow): void {
    const incident = open.incident;
    incident.rows++;
    open.recentFlagged += (row.flagged ? 1 : 0) - (open.recent[open.recentNext] ?? 0);
    open.recent[open.recentNext] = row.flagged ? 1 : 0;
    open.recentNext = (open.recentNext + 1) % open.recent.length;
    if (row.score > incident.peakScore) {
      incident.peakScore = row.score;
      incident.peakAtMs = row.timestampMs;
      incident.threshold = row.threshold;
      incident.top = row.top.slice(0, this.config.topKpis).map((c) => ({ ...c }));
    }
    if (!row.flagged) {
      open.cleanRun++;
      return;
    }
    incident.flaggedRows++;
    incident.lastFlaggedAtMs = row.timestampMs;
    incident.durationMs = row.timestampMs - incident.firstFlaggedAtMs;
    open.cleanRun = 0;
  }

  /**
   * One row of an open incident. Maintenance that starts while an incident is open keeps tracking it but
   * holds back updates and the level-shift notice (the work would only add noise to them); the close is
   * still sent, or the central side would keep an incident open forever. The level-shift notice replaces
   * the incident for the central side (the anomaly payload has no end event for it), so the incident is muted
   * from then on and ends silently after `closeCleanRows` clean rows; then the entity may open a new one.
   * Hidden incidents (rate-limited or born in maintenance) are tracked the same way so one fault stays one
   * decision, but emit nothing. Known shortcoming: a rate-limited incident stays hidden until it closes, even
   * when the hour's budget frees up, so a lasting fault that opened during a storm of incidents is reported
   * only if it closes and opens again.
   */
  private advance(state: EntityState, open: OpenIncident, row: ScoredRow, events: AlarmEvent[]): void {
    const incident = open.incident;
    open.rowsSinceOpen++;
    this.account(open, row);
    const reported = open.visibility === 'reported';

    if (open.cleanRun >= this.config.closeCleanRows) {
      state.open = undefined;
      state.window = []; // a new incident needs new flags, not the tail of this one
      if (!reported) return;
      incident.closedAtMs = row.timestampMs;
      if (incident.levelShiftAtMs !== undefined) {
        this.count.levelShiftEnds++;
        return;
      }
      this.count.closes++;
      events.push({ type: 'close', incident: snapshot(incident) });
      return;
    }

    if (!reported || row.silenced || incident.levelShiftAtMs !== undefined) return;
    if (this.isLevelShift(open)) {
      incident.levelShiftAtMs = row.timestampMs;
      this.count.levelShifts++;
      events.push({ type: 'level_shift', incident: snapshot(incident) });
    } else if (open.rowsSinceOpen % this.config.updateRows === 0) {
      this.count.updates++;
      events.push({ type: 'update', incident: snapshot(incident) });
    }
  }

  /** Checked on every row, over the incident's last `levelShiftRows` rows, so a fault that settles late counts. */
  private isLevelShift(open: OpenIncident): boolean {
    const n = this.config.levelShiftRows;
    return open.incident.rows >= n && open.recentFlagged >= LEVEL_SHIFT_FLAGGED_SHARE * n;
  }

  /** At most maxIncidentsPerHour opens in the rolling hour (t − 1 h, t] of row time, across the whole site. */
  private allowOpen(timestampMs: number): boolean {
    // Pipelines interleave with slightly different clocks, so filter by time rather than trust the order.
    this.openTimesMs = this.openTimesMs.filter((t) => t > timestampMs - HOUR_MS);
    if (this.openTimesMs.length >= this.config.maxIncidentsPerHour) return false;
    this.openTimesMs.push(timestampMs);
    return true;
  }
}

function snapshot(incident: Incident): Incident {
  return { ...incident, top: incident.top.map((c) => ({ ...c })) };
}
