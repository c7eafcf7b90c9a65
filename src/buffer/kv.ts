import type Database from 'better-sqlite3';

/** Small pieces of agent state kept across restarts (maintenance windows set by command), as JSON. */
export class KeyValueStore {
  constructor(private readonly db: Database.Database) {}

  get(key: string): unknown {
    const row = this.db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?').get(key);
    return row === undefined ? undefined : (JSON.parse(row.value) as unknown);
  }

  set(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, JSON.stringify(value));
  }
}
