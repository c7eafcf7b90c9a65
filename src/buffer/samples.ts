import type Database from 'better-sqlite3';
import { checkpoint, usedSizeBytes } from './database.js';
import {
  deleteOldestSamples,
  freeOldestSamples,
  storageWriteError,
  writeWithRoom,
  type DiskFullListener,
} from './full-disk.js';

export interface SampleLimits {
  /** Samples older than this, relative to the time enforceRetention is given, are deleted. */
  retentionHours: number;
  /** The used size of the buffer (samples and outbox) above which the oldest samples are deleted. */
  maxMb: number;
}

export interface SampleRow {
  entity: string;
  timestampMs: number;
  /** One value per feature; NaN for a missing value. */
  values: Float64Array;
  /** The source marked the values suspect: stored for the record, never scored nor used as history. */
  suspect?: boolean;
}

export interface ScoreRow {
  entity: string;
  timestampMs: number;
  score: number;
  flagged: boolean;
}

export interface HistoryRow {
  timestampMs: number;
  values: Float64Array;
  score: number | null;
  flagged: boolean | null;
}

const BYTES_PER_MB = 1024 * 1024;
const MS_PER_HOUR = 3_600_000;

/** Size retention deletes this share of the samples per step, and at least SIZE_STEP_MIN_ROWS. */
const SIZE_STEP_FRACTION = 0.05;
const SIZE_STEP_MIN_ROWS = 1_000;

interface StoredSample {
  ts_ms: number;
  values_json: string;
  score: number | null;
  flagged: number | null;
}

function prepareStatements(db: Database.Database) {
  const insert = db.prepare<[string, string, number, string, number]>(
    'INSERT OR IGNORE INTO samples (pipeline, entity, ts_ms, values_json, suspect) VALUES (?, ?, ?, ?, ?)',
  );
  const score = db.prepare<[number, number, string, string, number]>(
    'UPDATE samples SET score = ?, flagged = ? WHERE pipeline = ? AND entity = ? AND ts_ms = ?',
  );
  const columns = 'ts_ms, values_json, score, flagged';

  return {
    insertBatch: db.transaction((pipeline: string, rows: readonly SampleRow[]) =>
      rows.map(
        (r) => insert.run(pipeline, r.entity, r.timestampMs, encodeValues(r.values), r.suspect ? 1 : 0).changes === 1,
      ),
    ),
    scoreBatch: db.transaction((pipeline: string, rows: readonly ScoreRow[]) => {
      let updated = 0;
      for (const r of rows) updated += score.run(r.score, r.flagged ? 1 : 0, pipeline, r.entity, r.timestampMs).changes;
      return updated;
    }),
    history: db.prepare<[string, string, number], StoredSample>(
      `SELECT ${columns} FROM samples WHERE pipeline = ? AND entity = ? AND suspect = 0 ORDER BY ts_ms DESC LIMIT ?`,
    ),
    historyUnflagged: db.prepare<[string, string, number], StoredSample>(
      `SELECT ${columns} FROM samples WHERE pipeline = ? AND entity = ? AND flagged IS NOT 1 AND suspect = 0
       ORDER BY ts_ms DESC LIMIT ?`,
    ),
    // Scans the pipeline's part of samples_key; it runs once at start-up, so no index of its own.
    latest: db.prepare<[string], number | null>('SELECT max(ts_ms) FROM samples WHERE pipeline = ?').pluck(),
    unscored: db.prepare<[string, number], StoredSample & { entity: string }>(
      `SELECT entity, ${columns} FROM samples WHERE pipeline = ? AND score IS NULL AND suspect = 0
       ORDER BY ts_ms LIMIT ?`,
    ),
    since: db.prepare<[string, number, number], StoredSample & { entity: string }>(
      `SELECT entity, ${columns} FROM samples WHERE pipeline = ? AND ts_ms >= ? AND suspect = 0
       ORDER BY ts_ms, entity LIMIT ?`,
    ),
    sinceUnflagged: db.prepare<[string, number, number], StoredSample & { entity: string }>(
      `SELECT entity, ${columns} FROM samples WHERE pipeline = ? AND ts_ms >= ? AND suspect = 0 AND flagged IS NOT 1
       ORDER BY ts_ms, entity LIMIT ?`,
    ),
    recent: db.prepare<[string, number], StoredSample & { entity: string }>(
      `SELECT entity, ${columns} FROM samples WHERE pipeline = ? AND suspect = 0 ORDER BY ts_ms DESC LIMIT ?`,
    ),
    span: db.prepare<[string], { first: number | null; last: number | null; n: number }>(
      'SELECT min(ts_ms) AS first, max(ts_ms) AS last, count(*) AS n FROM samples WHERE pipeline = ? AND suspect = 0',
    ),
    entities: db
      .prepare<[string], string>('SELECT DISTINCT entity FROM samples WHERE pipeline = ? ORDER BY entity')
      .pluck(),
    latestByEntity: db.prepare<[string], { entity: string; latest: number }>(
      'SELECT entity, max(ts_ms) AS latest FROM samples WHERE pipeline = ? GROUP BY entity',
    ),
    count: db.prepare<[], number>('SELECT count(*) FROM samples').pluck(),
    countByPipeline: db.prepare<[], { pipeline: string; n: number }>(
      'SELECT pipeline, count(*) AS n FROM samples GROUP BY pipeline ORDER BY pipeline',
    ),
    deletePipeline: db.prepare<[string]>('DELETE FROM samples WHERE pipeline = ?'),
    deleteOlder: db.prepare<[string, number]>('DELETE FROM samples WHERE pipeline = ? AND ts_ms < ?'),
  };
}

/**
 * Raw KPI samples per pipeline and entity, with the score the model gave each. The scorer, the statistics and
 * a replay after a restart all read from here; one SampleStore per database file.
 */
export class SampleStore {
  private statements?: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly limits: SampleLimits,
    private readonly onDiskFull?: DiskFullListener,
  ) {}

  /** Store a batch in one transaction. Returns per row whether it was new; a repeated timestamp is not. */
  insert(pipeline: string, rows: readonly SampleRow[]): boolean[] {
    const sql = this.sql();
    return writeWithRoom(this.db, 'samples.insert', () => sql.insertBatch(pipeline, rows), this.onDiskFull);
  }

  /** Attach scores to stored samples in one transaction. Returns how many samples were found and updated. */
  recordScores(pipeline: string, rows: readonly ScoreRow[]): number {
    const sql = this.sql();
    return writeWithRoom(this.db, 'samples.recordScores', () => sql.scoreBatch(pipeline, rows), this.onDiskFull);
  }

  /**
   * The newest `limit` samples of an entity, newest first. `excludeFlagged` leaves out samples the model
   * flagged, so statistics are not pulled by anomalies; samples not yet scored are kept.
   */
  history(pipeline: string, entity: string, limit: number, options: { excludeFlagged?: boolean } = {}): HistoryRow[] {
    const statement = options.excludeFlagged ? this.sql().historyUnflagged : this.sql().history;
    return statement.all(pipeline, entity, limit).map(toHistoryRow);
  }

  /** The newest timestamp stored for a pipeline, -Infinity when it has none; a replay resumes after it. */
  latestTimestampMs(pipeline: string): number {
    return this.sql().latest.get(pipeline) ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * Where a restarted source may resume: the oldest of the entities' newest rows, among the entities seen
   * within a day of the pipeline's newest row. Rows after it are read again and the duplicates dropped, so
   * an hour half-written before a stop is completed, not skipped. -Infinity when the pipeline is empty.
   */
  resumePointMs(pipeline: string): number {
    const latest = this.sql()
      .latestByEntity.all(pipeline)
      .map((r) => r.latest);
    if (latest.length === 0) return Number.NEGATIVE_INFINITY;
    const newest = Math.max(...latest);
    return Math.min(...latest.filter((t) => t >= newest - 86_400_000));
  }

  /** Samples still waiting for a score, oldest first: the backlog a crash between insert and score leaves. */
  unscored(pipeline: string, limit: number): SampleRow[] {
    return this.sql().unscored.all(pipeline, limit).map(toSampleRow);
  }

  /**
   * Samples from sinceMs on, oldest first, at most limit: the rows a model is trained on. excludeFlagged
   * leaves out rows the running model flagged, so a retraining does not learn an anomaly as normal.
   */
  rowsSince(pipeline: string, sinceMs: number, limit: number, options: { excludeFlagged?: boolean } = {}): SampleRow[] {
    const statement = options.excludeFlagged ? this.sql().sinceUnflagged : this.sql().since;
    return statement.all(pipeline, sinceMs, limit).map(toSampleRow);
  }

  /** The newest `limit` samples of a pipeline, all entities, oldest first: what a new model is checked on. */
  recent(pipeline: string, limit: number): SampleRow[] {
    return this.sql().recent.all(pipeline, limit).map(toSampleRow).reverse();
  }

  /** The first and last timestamp of a pipeline's samples and their count (suspect rows left out). */
  span(pipeline: string): { firstMs: number; lastMs: number; rows: number } | undefined {
    const row = this.sql().span.get(pipeline);
    if (!row || row.first === null || row.last === null) return undefined;
    return { firstMs: row.first, lastMs: row.last, rows: row.n };
  }

  /** The entity keys a pipeline has samples for, sorted; a restart rebuilds each one's window from these. */
  entities(pipeline: string): string[] {
    return this.sql().entities.all(pipeline);
  }

  /** Forget a pipeline's rows, when what they mean has changed (another feature list). Returns the count. */
  deletePipeline(pipeline: string): number {
    return writeWithRoom(this.db, 'samples.deletePipeline', () => this.sql().deletePipeline.run(pipeline).changes);
  }

  count(): number {
    return this.sql().count.get() ?? 0;
  }

  countByPipeline(): Record<string, number> {
    return Object.fromEntries(
      this.sql()
        .countByPipeline.all()
        .map((r) => [r.pipeline, r.n]),
    );
  }

  /**
   * Delete samples older than retentionHours, then, while the used size is over maxMb, the oldest samples in
   * steps. The limit is checked against the used size (pages holding data) because SQLite keeps deleted pages
   * in the file for reuse rather than shrinking it; the file stays near its high-water mark, which is the
   * reserve new samples are written into. Outbox rows are never deleted here.
   */
  enforceRetention(nowMs: number): { deletedByAge: number; deletedBySize: number } {
    const sql = this.sql();
    const maxBytes = this.limits.maxMb * BYTES_PER_MB;

    try {
      let deletedByAge = 0;
      for (const { pipeline } of sql.countByPipeline.all()) {
        // Age counts from the pipeline's newest row when that is older than now: a replay of last year's
        // data keeps its history instead of being deleted as it arrives.
        const newestMs = sql.latest.get(pipeline) ?? nowMs;
        const cutoffMs = Math.min(nowMs, newestMs) - this.limits.retentionHours * MS_PER_HOUR;
        deletedByAge += sql.deleteOlder.run(pipeline, cutoffMs).changes;
      }

      let deletedBySize = 0;
      if (usedSizeBytes(this.db) > maxBytes) {
        const stepRows = Math.max(SIZE_STEP_MIN_ROWS, Math.ceil((sql.count.get() ?? 0) * SIZE_STEP_FRACTION));
        while (usedSizeBytes(this.db) > maxBytes) {
          const deleted = deleteOldestSamples(this.db, stepRows);
          if (deleted === 0) break;
          deletedBySize += deleted;
        }
      }

      // Deletes go through the WAL; folding it back keeps the WAL file from growing by what was just freed.
      if (deletedByAge + deletedBySize > 0) checkpoint(this.db);
      return { deletedByAge, deletedBySize };
    } catch (err) {
      throw storageWriteError('samples.enforceRetention', err, { path: this.path });
    }
  }

  /** Delete the oldest `fraction` of the raw samples, to make room when the disk is full. Returns the count. */
  freeSpace(fraction: number): number {
    return freeOldestSamples(this.db, fraction);
  }

  private sql(): ReturnType<typeof prepareStatements> {
    return (this.statements ??= prepareStatements(this.db));
  }
}

/** JSON has no NaN: missing values are stored as null. Infinities are not valid KPI values and become null too. */
function encodeValues(values: Float64Array): string {
  return JSON.stringify(Array.from(values, (v) => (Number.isFinite(v) ? v : null)));
}

function decodeValues(json: string): Float64Array {
  return Float64Array.from(JSON.parse(json) as (number | null)[], (v) => v ?? Number.NaN);
}

function toHistoryRow(r: StoredSample): HistoryRow {
  return {
    timestampMs: r.ts_ms,
    values: decodeValues(r.values_json),
    score: r.score,
    flagged: r.flagged === null ? null : r.flagged === 1,
  };
}

function toSampleRow(r: StoredSample & { entity: string }): SampleRow {
  return { entity: r.entity, timestampMs: r.ts_ms, values: decodeValues(r.values_json) };
}
