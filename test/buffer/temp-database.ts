import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach } from 'vitest';
import { openDatabase } from '../../src/buffer/database.js';
import { scratchDir } from '../helpers.js';

export interface TempDatabase {
  dir: string;
  path: string;
  db: Database.Database;
}

/** A fresh buffer file for each test of the calling file: opened before the test, closed and removed after. */
export function useTempDatabase(): TempDatabase {
  const current = {} as TempDatabase;
  let cleanup: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => {
    const scratch = await scratchDir();
    cleanup = scratch.cleanup;
    current.dir = scratch.dir;
    current.path = join(scratch.dir, 'buffer.db');
    current.db = openDatabase(current.path).db;
  });
  afterEach(async () => {
    current.db.close();
    await cleanup();
  });
  return current;
}
