import type Database from 'better-sqlite3';
import { CellwatchError } from '../errors.js';
import { isSqliteError } from './database.js';

/**
 * What the buffer does when SQLite says "database or disk is full". Raw samples are the cheapest data on the
 * box (the next sampling round replaces them), reports in the outbox are not, so room is always made by
 * deleting the oldest samples and never by touching the outbox.
 */

/** Share of the raw samples deleted on one full-disk event: enough for a batch of writes, not a purge. */
export const FREE_FRACTION_ON_FULL = 0.1;

export interface DiskFullEvent {
  /** The write that hit the full disk, e.g. 'samples.insert'. */
  operation: string;
  freedSamples: number;
  /** Whether the write went through after the samples were freed. */
  recovered: boolean;
}

/** Told once per full-disk event, so the agent can log and count it where its logger lives. */
export type DiskFullListener = (event: DiskFullEvent) => void;

/**
 * Run a write (one transaction); on SQLITE_FULL delete the oldest samples and try once more. When nothing can
 * be freed, or the retry fails too, throw STORAGE_FULL: the caller counts it and carries on, and since every
 * write starts afresh, writing resumes by itself once space is back. Other SQLite failures become
 * STORAGE_WRITE.
 *
 * Limitation: in WAL mode even a delete appends to the WAL file. On a disk that is truly at 0 bytes free the
 * delete can fail too; then this throws STORAGE_FULL and the next write tries again.
 */
export function writeWithRoom<T>(
  db: Database.Database,
  operation: string,
  write: () => T,
  onDiskFull?: DiskFullListener,
): T {
  try {
    return write();
  } catch (err) {
    if (!isSqliteError(err, 'SQLITE_FULL')) throw storageWriteError(operation, err);
  }

  const freedSamples = freeOldestSamples(db, FREE_FRACTION_ON_FULL);
  if (freedSamples === 0) {
    onDiskFull?.({ operation, freedSamples, recovered: false });
    throw fullError(operation, freedSamples);
  }

  try {
    const result = write();
    onDiskFull?.({ operation, freedSamples, recovered: true });
    return result;
  } catch (err) {
    if (!isSqliteError(err, 'SQLITE_FULL')) throw storageWriteError(operation, err);
    onDiskFull?.({ operation, freedSamples, recovered: false });
    throw fullError(operation, freedSamples);
  }
}

/** Delete the oldest `fraction` of the raw samples (at least one when any exist). Returns how many went. */
export function freeOldestSamples(db: Database.Database, fraction: number): number {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`Expected a fraction in (0, 1], got ${fraction}`);

  try {
    const total = db.prepare<[], number>('SELECT count(*) FROM samples').pluck().get() ?? 0;
    return deleteOldestSamples(db, Math.ceil(total * fraction));
  } catch (err) {
    throw storageWriteError('samples.free', err);
  }
}

/** Delete up to `rows` samples, oldest timestamp first across all pipelines. Returns how many went. */
export function deleteOldestSamples(db: Database.Database, rows: number): number {
  if (rows <= 0) return 0;
  return db
    .prepare<[number]>('DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples ORDER BY ts_ms LIMIT ?)')
    .run(rows).changes;
}

/** Wrap a SQLite failure as STORAGE_WRITE naming the operation; coded errors and programming errors pass. */
export function storageWriteError(operation: string, err: unknown, details: Record<string, unknown> = {}): unknown {
  if (!isSqliteError(err)) return err;
  return new CellwatchError('STORAGE_WRITE', `${operation} failed: ${err.message}`, {
    operation,
    sqliteCode: err.code,
    ...details,
  });
}

function fullError(operation: string, freedSamples: number): CellwatchError {
  return new CellwatchError('STORAGE_FULL', `${operation} failed: the disk or the buffer is full`, {
    operation,
    freedSamples,
  });
}
