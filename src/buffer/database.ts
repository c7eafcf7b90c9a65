import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CellwatchError } from '../errors.js';
import { KeyValueStore } from './kv.js';

export interface OpenedDatabase {
  db: Database.Database;
  /** Set when the file failed its check and was replaced by a fresh one; the caller logs and reports it. */
  recovered?: { movedTo: string; reason: string };
}

/** The WAL file is cut back to this after a checkpoint, so one burst of writes does not hold flash forever. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Rows quick_check may report; the first few name the damage, the rest add nothing for an operator. */
const QUICK_CHECK_MAX_ERRORS = 5;

/**
 * Schema migrations: entry i takes the file from user_version i to i + 1. Append only; never edit an entry
 * that has shipped, because boxes in the field hold files at every earlier version.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE samples (
    pipeline TEXT NOT NULL,
    entity TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    score REAL,
    flagged INTEGER
  );
  -- A rowid table keeps rows in arrival order, so deleting the oldest frees whole pages for reuse.
  CREATE UNIQUE INDEX samples_key ON samples (pipeline, entity, ts_ms);
  CREATE INDEX samples_age ON samples (ts_ms);
  -- Holds only the rows still waiting for a score, so finding a crash backlog stays cheap.
  CREATE INDEX samples_unscored ON samples (pipeline, ts_ms) WHERE score IS NULL;

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    bytes INTEGER NOT NULL
  );
  CREATE INDEX outbox_send ON outbox (priority, id);
  CREATE INDEX outbox_kind ON outbox (kind, id);
  CREATE INDEX outbox_expiry ON outbox (expires_ms) WHERE expires_ms IS NOT NULL;

  CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  `
  -- Rows whose source marked them suspect are kept for the record but never scored or used as history.
  ALTER TABLE samples ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0;
  DROP INDEX samples_unscored;
  CREATE INDEX samples_unscored ON samples (pipeline, ts_ms) WHERE score IS NULL AND suspect = 0;

  -- Measurement blocks of PM files already ingested, by identity, with a hash of their values: a file
  -- delivered twice, under any name, is ingested once.
  CREATE TABLE pm_blocks (
    pipeline TEXT NOT NULL,
    block_key TEXT NOT NULL,
    hash TEXT NOT NULL,
    end_ms INTEGER NOT NULL,
    PRIMARY KEY (pipeline, block_key)
  ) WITHOUT ROWID;
  CREATE INDEX pm_blocks_age ON pm_blocks (end_ms);

  -- The last reading of each cumulative counter. value has no declared type: an integer up to 2^63 is
  -- stored as an integer, a larger unsigned 64-bit reading as its decimal text, both exact.
  CREATE TABLE pm_counters (
    pipeline TEXT NOT NULL,
    entity TEXT NOT NULL,
    counter TEXT NOT NULL,
    begin_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    value,
    PRIMARY KEY (pipeline, entity, counter)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * A buffer that opens but cannot be written (a read-only file, a read-only mount) would lose every report
 * later, one write at a time: it is refused at start-up instead.
 */
function checkWritable(db: Database.Database, path: string): Database.Database {
  try {
    new KeyValueStore(db).set('opened_at', new Date().toISOString());
    return db;
  } catch (err) {
    closeQuietly(db);
    throw openFailure(path, err);
  }
}

/**
 * Open the agent's buffer, creating it and its folder when missing. A file that is not a database or is
 * damaged is moved aside (kept for forensics) and replaced by a fresh one: on an unattended box losing the
 * buffer is better than an agent that cannot start. Throws STORAGE_OPEN only when no file can be used at all.
 */
export function openDatabase(path: string): OpenedDatabase {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw openFailure(path, err);
  }

  const first = attemptOpen(path);
  if (first.corruption === undefined) return { db: checkWritable(first.db, path) };

  // Renamed while the damaged handle is still open: closing the last connection makes SQLite delete the WAL
  // by name, and by then the WAL has left that name, so the evidence survives. This relies on POSIX rename of
  // open files (Linux, macOS); Windows would refuse the rename and the open fails with STORAGE_OPEN.
  let movedTo: string;
  try {
    movedTo = moveAside(path);
  } finally {
    closeQuietly(first.db);
  }

  const fresh = attemptOpen(path);
  if (fresh.corruption === undefined) return { db: fresh.db, recovered: { movedTo, reason: first.corruption } };
  closeQuietly(fresh.db);
  throw new CellwatchError('STORAGE_OPEN', `cannot use ${path}: a fresh buffer is damaged too (${fresh.corruption})`, {
    path,
  });
}

/** Move WAL frames into the main file and cut the WAL file to zero bytes. Returns false when readers blocked it. */
export function checkpoint(db: Database.Database): boolean {
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return result?.busy === 0;
}

/** Bytes the buffer takes on disk: the main file plus its WAL. */
export function fileSizeBytes(path: string): number {
  return sizeOrZero(path) + sizeOrZero(`${path}-wal`);
}

/**
 * Bytes of pages that hold data. SQLite keeps freed pages inside the file for reuse instead of shrinking it,
 * so after deleting rows the file size stays put while this number drops; size limits are checked against it.
 */
export function usedSizeBytes(db: Database.Database): number {
  const pageCount = db.pragma('page_count', { simple: true }) as number;
  const freePages = db.pragma('freelist_count', { simple: true }) as number;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  return (pageCount - freePages) * pageSize;
}

/**
 * Whether an error is SQLite's and, when a code is given, has that primary result code (extended codes such as
 * SQLITE_CORRUPT_INDEX match SQLITE_CORRUPT).
 */
export function isSqliteError(err: unknown, code?: string): err is InstanceType<typeof Database.SqliteError> {
  if (!(err instanceof Database.SqliteError)) return false;
  return code === undefined || err.code === code || err.code.startsWith(`${code}_`);
}

type Attempt = { db: Database.Database; corruption?: undefined } | { db: Database.Database; corruption: string };

/**
 * Open, configure, check and migrate. A damaged file comes back still open with the reason, so the caller can
 * move it aside before closing it; any other failure closes it and throws.
 */
function attemptOpen(path: string): Attempt {
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw openFailure(path, err);
  }

  try {
    configure(db);
    const problems = quickCheck(db);
    if (problems !== undefined) return { db, corruption: `quick_check: ${problems}` };

    migrate(db, path);
    return { db };
  } catch (err) {
    if (isSqliteError(err, 'SQLITE_NOTADB') || isSqliteError(err, 'SQLITE_CORRUPT')) {
      return { db, corruption: `${err.code}: ${err.message}` };
    }
    closeQuietly(db);
    throw err instanceof CellwatchError ? err : openFailure(path, err);
  }
}

function configure(db: Database.Database): void {
  // busy_timeout first: switching to WAL takes a lock another process (a backup, the CLI) may hold briefly.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last commits on power loss but never corrupts the file; the agent
  // re-samples, so the fsync per commit that FULL costs is not worth it on flash.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
}

/** The damage quick_check reports, joined, or undefined when the file is sound. */
function quickCheck(db: Database.Database): string | undefined {
  const rows = db.prepare<[], string>(`PRAGMA quick_check(${QUICK_CHECK_MAX_ERRORS})`).pluck().all();
  if (rows.length === 1 && rows[0] === 'ok') return undefined;
  // One row can hold several lines; a reason on one line reads better in a log field.
  return rows.join('; ').replace(/\s+/g, ' ');
}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    // Written by a newer cellwatch: replacing it would throw away data a rollback should keep.
    throw new CellwatchError(
      'STORAGE_OPEN',
      `${path} has schema version ${version}, newer than this cellwatch supports (${SCHEMA_VERSION})`,
      { path, version, supported: SCHEMA_VERSION },
    );
  }
  if (version === SCHEMA_VERSION) return;

  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(version)) db.exec(sql);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * Rename the file and its -wal/-shm siblings to `<path>.corrupt-<UTC time>` with the same suffixes, so the
 * set can still be opened together with the sqlite3 shell for a post-mortem.
 */
function moveAside(path: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${path}.corrupt-${stamp}-${n}`;

  try {
    renameSync(path, target);
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${target}${suffix}`);
    }
  } catch (err) {
    throw openFailure(path, err);
  }
  return target;
}

function closeQuietly(db: Database.Database): void {
  try {
    db.close();
  } catch {
    // Closing a damaged file can fail on its final checkpoint; the handle is released either way.
  }
}

function sizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function openFailure(path: string, err: unknown): CellwatchError {
  const code = (err as { code?: unknown }).code;
  return new CellwatchError('STORAGE_OPEN', `cannot open ${path}: ${(err as Error).message}`, {
    path,
    ...(typeof code === 'string' ? { cause: code } : {}),
  });
}
