import { existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkpoint, fileSizeBytes, MIGRATIONS, openDatabase, SCHEMA_VERSION } from '../../src/buffer/database.js';
import { thrown, scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const open: Database.Database[] = [];
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(async () => {
  for (const db of open.splice(0)) if (db.open) db.close();
  vi.useRealTimers();
  await cleanup();
});

function openTracked(path: string): ReturnType<typeof openDatabase> {
  const opened = openDatabase(path);
  open.push(opened.db);
  return opened;
}

/** Bytes that are not a SQLite file, the same on every run. */
function garbage(bytes: number): Buffer {
  return Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 31 + 7) & 0xff));
}

function tableNames(db: Database.Database): string[] {
  return db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
}

describe('openDatabase', () => {
  it('creates the folder and a WAL-mode file at the current schema version', () => {
    const path = join(dir, 'state', 'agent', 'buffer.db');
    const { db, recovered } = openTracked(path);

    expect(recovered).toBeUndefined();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(SCHEMA_VERSION).toBe(2);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('journal_size_limit', { simple: true })).toBe(64 * 1024 * 1024);
    expect(tableNames(db)).toEqual(['kv', 'outbox', 'pm_blocks', 'pm_counters', 'samples', 'sqlite_sequence']);
  });

  it('migrates a version 1 file in place, keeping its rows, which are not suspect', () => {
    const path = join(dir, 'v1.db');
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old.prepare("INSERT INTO samples (pipeline, entity, ts_ms, values_json) VALUES ('p', 'e', 1, '[1]')").run();
    old.close();

    const { db } = openTracked(path);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare('SELECT entity, ts_ms, suspect FROM samples').all()).toEqual([
      { entity: 'e', ts_ms: 1, suspect: 0 },
    ]);
  });

  it('reopens an existing file with its rows and without migrating again', () => {
    const path = join(dir, 'buffer.db');
    const first = openDatabase(path).db;
    first.prepare("INSERT INTO kv (key, value) VALUES ('k', 'v')").run();
    first.close();

    const { db, recovered } = openTracked(path);
    expect(recovered).toBeUndefined();
    expect(db.prepare("SELECT value FROM kv WHERE key = 'k'").pluck().get()).toBe('v');
  });

  it('moves a file that is not a database aside with its WAL and starts a fresh one', () => {
    vi.useFakeTimers({ now: new Date('2026-01-02T03:04:05.678Z'), toFake: ['Date'] });
    const path = join(dir, 'buffer.db');
    writeFileSync(path, garbage(64 * 1024));
    writeFileSync(`${path}-wal`, garbage(100));

    const { db, recovered } = openTracked(path);

    const movedTo = `${path}.corrupt-20260102T030405Z`;
    expect(recovered).toEqual({ movedTo, reason: 'SQLITE_NOTADB: file is not a database' });
    expect(readFileSync(movedTo)).toEqual(garbage(64 * 1024));
    expect(readFileSync(`${movedTo}-wal`)).toEqual(garbage(100));
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.prepare("INSERT INTO kv (key, value) VALUES ('fresh', 'yes')").run();
    expect(db.prepare('SELECT count(*) FROM kv').pluck().get()).toBe(1);
  });

  it('numbers a second corrupt copy made within the same second instead of overwriting the first', () => {
    vi.useFakeTimers({ now: new Date('2026-01-02T03:04:05Z'), toFake: ['Date'] });
    const path = join(dir, 'buffer.db');
    writeFileSync(path, garbage(8192));
    openDatabase(path).db.close();
    writeFileSync(path, garbage(4096));

    const { recovered } = openTracked(path);

    expect(recovered?.movedTo).toBe(`${path}.corrupt-20260102T030405Z-2`);
    expect(statSync(`${path}.corrupt-20260102T030405Z`).size).toBe(8192);
    expect(statSync(`${path}.corrupt-20260102T030405Z-2`).size).toBe(4096);
  });

  it('moves aside a real database whose quick_check fails after a page in the middle was overwritten', () => {
    vi.useFakeTimers({ now: new Date('2026-01-02T03:04:05Z'), toFake: ['Date'] });
    const path = join(dir, 'buffer.db');
    const db = openDatabase(path).db;
    db.exec('CREATE TABLE filler (n INTEGER, text TEXT)');
    const insert = db.prepare<[number, string]>('INSERT INTO filler VALUES (?, ?)');
    db.transaction(() => {
      for (let n = 0; n < 2000; n++) insert.run(n, `row ${n} `.padEnd(60, 'x'));
    })();
    db.close();
    const sizeBytes = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 4096 * 3);
    closeSync(fd);

    const fresh = openTracked(path);

    expect(fresh.recovered).toEqual({
      movedTo: `${path}.corrupt-20260102T030405Z`,
      reason: 'quick_check: *** in database main *** Tree 4 page 4: btreeInitPage() returns error code 11',
    });
    expect(statSync(`${path}.corrupt-20260102T030405Z`).size).toBe(sizeBytes);
    expect(tableNames(fresh.db)).toEqual(['kv', 'outbox', 'pm_blocks', 'pm_counters', 'samples', 'sqlite_sequence']);
  });

  it('refuses a file written by a newer schema and leaves it in place', () => {
    const path = join(dir, 'buffer.db');
    const db = openDatabase(path).db;
    db.pragma('user_version = 7');
    db.close();

    const error = thrown(() => openDatabase(path));

    expect(error).toMatchObject({ code: 'STORAGE_OPEN', details: { path, version: 7, supported: SCHEMA_VERSION } });
    expect(existsSync(path)).toBe(true);
  });

  it('fails with STORAGE_OPEN when no file can be created because a file sits where the folder should be', () => {
    writeFileSync(join(dir, 'state'), 'not a folder');
    const path = join(dir, 'state', 'buffer.db');

    const error = thrown(() => openDatabase(path));

    expect(error).toMatchObject({ code: 'STORAGE_OPEN', details: { path, cause: 'EEXIST' } });
  });
});

describe('checkpoint and fileSizeBytes', () => {
  it('counts the WAL in the file size and cuts the WAL to zero on a checkpoint', () => {
    const path = join(dir, 'buffer.db');
    const { db } = openTracked(path);
    db.prepare<[string]>("INSERT INTO kv (key, value) VALUES ('blob', ?)").run('x'.repeat(50_000));
    const walBytes = statSync(`${path}-wal`).size;
    expect(walBytes).toBeGreaterThan(50_000);
    expect(fileSizeBytes(path)).toBe(statSync(path).size + walBytes);

    expect(checkpoint(db)).toBe(true);

    expect(statSync(`${path}-wal`).size).toBe(0);
    expect(fileSizeBytes(path)).toBe(statSync(path).size);
    expect(fileSizeBytes(join(dir, 'missing.db'))).toBe(0);
  });
});
