import Database from 'better-sqlite3';
import { MIGRATIONS } from './database.js';

/** One reading of a cumulative counter: the period it closed and its value, exact. */
export interface CounterReading {
  beginMs: number;
  endMs: number;
  value: number | bigint;
}

export interface IngestedBlock {
  key: string;
  hash: string;
  endMs: number;
}

export interface CounterUpdate {
  entity: string;
  counter: string;
  reading: CounterReading;
}

const INT64_MAX = 2n ** 63n - 1n;

function prepareStatements(db: Database.Database) {
  return {
    blockHash: db
      .prepare<[string, string], string>('SELECT hash FROM pm_blocks WHERE pipeline = ? AND block_key = ?')
      .pluck(),
    putBlock: db.prepare<[string, string, string, number]>(
      'INSERT OR IGNORE INTO pm_blocks (pipeline, block_key, hash, end_ms) VALUES (?, ?, ?, ?)',
    ),
    // safeIntegers: a 64-bit counter above 2^53 comes back as the exact bigint, not a rounded double.
    counter: db
      .prepare<[string, string, string], { begin_ms: bigint; end_ms: bigint; value: bigint | number | string }>(
        'SELECT begin_ms, end_ms, value FROM pm_counters WHERE pipeline = ? AND entity = ? AND counter = ?',
      )
      .safeIntegers(true),
    putCounter: db.prepare<[string, string, string, number, number, bigint | number | string]>(
      `INSERT INTO pm_counters (pipeline, entity, counter, begin_ms, end_ms, value) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (pipeline, entity, counter) DO UPDATE
       SET begin_ms = excluded.begin_ms, end_ms = excluded.end_ms, value = excluded.value`,
    ),
    pruneBlocks: db.prepare<[string, number]>('DELETE FROM pm_blocks WHERE pipeline = ? AND end_ms < ?'),
    deletePipeline: [
      db.prepare<[string]>('DELETE FROM pm_blocks WHERE pipeline = ?'),
      db.prepare<[string]>('DELETE FROM pm_counters WHERE pipeline = ?'),
    ],
  };
}

/**
 * What the PM source remembers between files and restarts: which measurement blocks it has ingested (so a
 * file delivered twice is ingested once) and the last reading of each cumulative counter (so the next
 * period's delta can be computed). It lives in the agent's buffer; `cellwatch train` uses one in memory.
 */
export class PmLedger {
  private readonly sql: ReturnType<typeof prepareStatements>;
  private readonly commitBatch: (pipeline: string, blocks: IngestedBlock[], counters: CounterUpdate[]) => void;

  constructor(private readonly db: Database.Database) {
    this.sql = prepareStatements(db);
    this.commitBatch = db.transaction((pipeline: string, blocks: IngestedBlock[], counters: CounterUpdate[]) => {
      for (const b of blocks) this.sql.putBlock.run(pipeline, b.key, b.hash, b.endMs);
      for (const c of counters) {
        const { beginMs, endMs, value } = c.reading;
        this.sql.putCounter.run(pipeline, c.entity, c.counter, beginMs, endMs, storable(value));
      }
    });
  }

  /** A ledger of its own, in memory: for one-off reads of a folder of files (training, inspection). */
  static inMemory(): PmLedger {
    const db = new Database(':memory:');
    for (const sql of MIGRATIONS) db.exec(sql);
    return new PmLedger(db);
  }

  /** The hash a block was ingested with, or undefined when it never was. */
  blockHash(pipeline: string, key: string): string | undefined {
    return this.sql.blockHash.get(pipeline, key);
  }

  lastReading(pipeline: string, entity: string, counter: string): CounterReading | undefined {
    const row = this.sql.counter.get(pipeline, entity, counter);
    if (!row) return undefined;
    return { beginMs: Number(row.begin_ms), endMs: Number(row.end_ms), value: exact(row.value) };
  }

  /**
   * Record a file's blocks and counter readings in one transaction, once its rows are buffered: a crash leaves
   * the file recorded whole or not at all, and then it is read again whole. Known cost: the transaction holds
   * the event loop, about 5 µs per block on a 2-core box (0.1 s for the 20,000 blocks of 5,000 cells in four
   * measInfo, 0.5 s for 80,000; scripts/bench-pm.ts), well within an MQTT keepalive of 5 s or more.
   */
  commit(pipeline: string, blocks: IngestedBlock[], counters: CounterUpdate[]): void {
    this.commitBatch(pipeline, blocks, counters);
  }

  /** Forget blocks whose period ended before the given time: a redelivery that late is not expected. */
  prune(pipeline: string, beforeMs: number): number {
    return this.sql.pruneBlocks.run(pipeline, beforeMs).changes;
  }

  deletePipeline(pipeline: string): void {
    for (const statement of this.sql.deletePipeline) statement.run(pipeline);
  }
}

/** SQLite integers are signed 64-bit: an unsigned reading above 2^63 - 1 is kept as its decimal text. */
function storable(value: number | bigint): bigint | number | string {
  if (typeof value === 'number') return value;
  return value > INT64_MAX || value < -INT64_MAX ? value.toString() : value;
}

function exact(value: bigint | number | string): number | bigint {
  const big = typeof value === 'string' ? BigInt(value) : value;
  if (typeof big === 'number') return big;
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
}
