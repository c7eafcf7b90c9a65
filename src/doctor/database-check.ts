import { constants, existsSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { isSqliteError, SCHEMA_VERSION, usedSizeBytes } from '../buffer/database.js';
import type { Config } from '../config/schema.js';
import { CellwatchError } from '../errors.js';
import { folderAccess } from './disk-check.js';
import { failure, MIB, mib, result, type CheckResult } from './report.js';

/**
 * The buffer, checked without changing a byte of it: the agent may be running, and doctor may be run as
 * root, where a file it created would later lock the service user out.
 *
 * A read-only SQLite connection to a WAL-mode file still creates the -wal and -shm files beside it when they
 * are missing, and leaves them behind (it may not checkpoint, so it may not delete them). So the file is read
 * in place only while both exist (the agent is running, or stopped without its final checkpoint). Otherwise
 * the whole content is in the main file, which is read into memory and checked there, up to
 * MEMORY_CHECK_MAX_BYTES.
 */

/** Largest buffer read into memory for its check; beyond this it is checked by the agent at its next start. */
export const MEMORY_CHECK_MAX_BYTES = 256 * MIB;

/** Rows quick_check may report: the first few name the damage (as the agent's own check does). */
const QUICK_CHECK_MAX_ERRORS = 5;

/** Tables counted, with the names the report uses; each count is one pass, cheap next to quick_check. */
const COUNTED_TABLES = {
  samples: { figure: 'samples', words: 'samples' },
  outbox: { figure: 'outbox', words: 'outbox messages' },
  pm_blocks: { figure: 'pmBlocks', words: 'PM blocks' },
} as const;

/** The SQLite header's read and write format version bytes: 2 means WAL mode. */
const HEADER_WAL_BYTES = [18, 19] as const;

interface Inspection {
  checkedIn: 'place' | 'memory';
  quickCheck: string;
  schemaVersion: number;
  usedBytes: number;
  rows: Record<string, number>;
}

export async function checkDatabase(config: Readonly<Config>): Promise<CheckResult> {
  const path = config.storage.path;
  let folder: Awaited<ReturnType<typeof folderAccess>>;
  try {
    folder = await folderAccess(dirname(path));
  } catch (err) {
    return failure('database', err, { path });
  }
  const file = await checkFile(config);
  const checked = { ...file, folderWritable: folder.writable };
  if (folder.writable) return checked;
  // openDatabase creates the folder and writes beside the file at start: the agent would not start.
  const reason = folder.reason ?? `${folder.checked} is not writable`;
  const code = file.status === 'fail' ? file.code : 'STORAGE_OPEN';
  return { ...checked, status: 'fail', code, detail: `${reason}; ${file.detail}` };
}

/** The file itself: missing (fine before the first start), unusable, damaged, or sound with its figures. */
async function checkFile(config: Readonly<Config>): Promise<CheckResult> {
  const path = config.storage.path;
  try {
    const found = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!found)
      return result('database', 'warn', `${path} does not exist yet: created at first start`, { path, exists: false });
    if (!found.isFile()) throw storageOpen(path, 'not a file');
    // The agent writes a key at every start: a file it can read but not write stops it (checkWritable).
    await access(path, constants.R_OK | constants.W_OK).catch((err: NodeJS.ErrnoException) => {
      throw storageOpen(path, `not readable and writable by this user (${err.code ?? 'denied'})`);
    });
    const walBytes = await sizeOf(`${path}-wal`);
    const figures = { path, exists: true, sizeBytes: found.size, walBytes };
    const inspection = await inspect(path, found.size);
    if (inspection === undefined) {
      const detail =
        `${mib(found.size)}, not checked: over ${mib(MEMORY_CHECK_MAX_BYTES)} and the agent is stopped ` +
        '(checking in place would create -wal/-shm files); the agent checks it at its next start';
      return result('database', 'warn', detail, figures);
    }
    return judge(config, inspection, { ...figures, ...inspection });
  } catch (err) {
    return failure('database', err, { path });
  }
}

function judge(config: Readonly<Config>, found: Inspection, figures: Record<string, unknown>): CheckResult {
  const path = config.storage.path;
  if (found.quickCheck !== 'ok') {
    const message =
      `${path} is damaged (${found.quickCheck}): the agent will move it aside and start a fresh buffer, ` +
      'losing what it holds';
    return failure('database', new CellwatchError('STORAGE_CORRUPT', message, { path }), figures);
  }
  if (found.schemaVersion > SCHEMA_VERSION) {
    // The agent refuses it rather than lose data a newer version wrote (migrate in src/buffer/database.ts).
    const message = `${path} has schema version ${found.schemaVersion}, newer than this cellwatch (${SCHEMA_VERSION})`;
    return failure('database', new CellwatchError('STORAGE_OPEN', message, { path }), figures);
  }
  const counted = Object.values(COUNTED_TABLES)
    .filter(({ figure }) => found.rows[figure] !== undefined)
    .map(({ figure, words }) => `${found.rows[figure]} ${words}`);
  const rows = counted.length > 0 ? counted.join(', ') : 'no tables yet';
  const used = `${mib(found.usedBytes)} used of ${config.storage.maxMb} MiB`;
  const schema =
    found.schemaVersion < SCHEMA_VERSION ? `schema ${found.schemaVersion}, migrated at next start` : 'schema current';
  const size = mib(Number(figures.sizeBytes) + Number(figures.walBytes));
  const where = found.checkedIn === 'place' ? ' (read with its WAL: the agent runs, or did not stop cleanly)' : '';
  const detail = `quick_check ok${where}: ${size} (${used}), ${schema}; ${rows}`;
  const walBytes = Number(figures.walBytes);
  if (found.checkedIn === 'memory' && walBytes > 0) {
    // A -wal without its -shm: reading it would create the -shm; the agent replays it at its next start.
    return result('database', 'warn', `${detail}; the ${walBytes}-byte -wal file without a -shm was not read`, figures);
  }
  return result('database', 'ok', detail, figures);
}

/** quick_check, schema version, used size and row counts; undefined when the file is too large to check. */
async function inspect(path: string, size: number): Promise<Inspection | undefined> {
  const inPlace = existsSync(`${path}-wal`) && existsSync(`${path}-shm`);
  const checkedIn: Inspection['checkedIn'] = inPlace ? 'place' : 'memory';
  let db: Database.Database;
  if (inPlace) {
    db = openReadOnly(path, () => new Database(path, { readonly: true, fileMustExist: true, timeout: 5_000 }));
  } else {
    if (size > MEMORY_CHECK_MAX_BYTES) return undefined;
    const bytes = await readFile(path);
    // SQLite refuses a WAL-mode image in memory. With no -wal file beside it every page is in this file, so
    // reading the copy as a rollback-journal database is the same content (the file on disk is not touched).
    if (bytes.length >= 100 && HEADER_WAL_BYTES.every((i) => bytes[i] === 2)) {
      for (const i of HEADER_WAL_BYTES) bytes[i] = 1;
    }
    db = openReadOnly(path, () => new Database(bytes, { readonly: true }));
  }
  try {
    const problems = db.prepare<[], string>(`PRAGMA quick_check(${QUICK_CHECK_MAX_ERRORS})`).pluck().all();
    const quickCheck = problems.length === 1 && problems[0] === 'ok' ? 'ok' : problems.join('; ').replace(/\s+/g, ' ');
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const rows = quickCheck === 'ok' ? countRows(db) : {};
    return { checkedIn, quickCheck, schemaVersion, usedBytes: usedSizeBytes(db), rows };
  } catch (err) {
    // Garbage bytes fail on the first read with "file is not a database": that is damage, not an open error.
    if (isSqliteError(err, 'SQLITE_NOTADB') || isSqliteError(err, 'SQLITE_CORRUPT')) {
      return { checkedIn, quickCheck: `${err.code}: ${err.message}`, schemaVersion: 0, usedBytes: 0, rows: {} };
    }
    throw isSqliteError(err) ? storageOpen(path, `${err.code}: ${err.message}`) : err;
  } finally {
    db.close();
  }
}

function countRows(db: Database.Database): Record<string, number> {
  const present = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
  const rows: Record<string, number> = {};
  for (const [table, { figure }] of Object.entries(COUNTED_TABLES)) {
    if (!present.has(table)) continue;
    rows[figure] = db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get() ?? 0;
  }
  return rows;
}

function openReadOnly(path: string, open: () => Database.Database): Database.Database {
  try {
    return open();
  } catch (err) {
    throw storageOpen(path, (err as Error).message);
  }
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

function storageOpen(path: string, reason: string): CellwatchError {
  return new CellwatchError('STORAGE_OPEN', `cannot use ${path}: ${reason}`, { path });
}
