import type Database from 'better-sqlite3';

/**
 * Small pieces of agent state kept across restarts (outbox drop totals, maintenance windows set by command,
 * a pipeline's feature list), as JSON in the kv table. The one place that reads and writes that table.
 */
export class KeyValueStore {
  private statements?: { get: Database.Statement<[string], string>; set: Database.Statement<[string, string]> };

  constructor(private readonly db: Database.Database) {}

  get(key: string): unknown {
    const value = this.sql().get.get(key);
    return value === undefined ? undefined : (JSON.parse(value) as unknown);
  }

  set(key: string, value: unknown): void {
    this.sql().set.run(key, JSON.stringify(value));
  }

  private sql() {
    return (this.statements ??= {
      get: this.db.prepare<[string], string>('SELECT value FROM kv WHERE key = ?').pluck(),
      set: this.db.prepare<[string, string]>(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    });
  }
}
