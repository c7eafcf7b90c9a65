import type Database from 'better-sqlite3';
import { storageWriteError, writeWithRoom, type DiskFullListener } from './full-disk.js';
import { KeyValueStore } from './kv.js';

export const OUTBOX_KINDS = ['anomaly', 'event', 'summary', 'health'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

/** Lower is sent first. */
export const OUTBOX_PRIORITY: Readonly<Record<OutboxKind, number>> = { anomaly: 0, event: 0, summary: 1, health: 2 };

/** When the outbox is over a bound, the oldest messages go in this order: health is re-sent every minute anyway. */
const DROP_ORDER: readonly OutboxKind[] = ['health', 'summary', 'event', 'anomaly'];

/** Rows read per step while dropping; a bound lowered in the config can mean many drops at one start-up. */
const DROP_STEP_ROWS = 256;

const DROPPED_TOTALS_KEY = 'outbox.droppedTotals';

/** Messages lost per kind, and those deleted unsent because they had expired. */
export type DropCounts = Record<OutboxKind | 'expired', number>;

export interface OutboxLimits {
  maxMessages: number;
  /** Bound on the summed UTF-8 size of the payloads. */
  maxBytes: number;
}

export interface OutboxMessage {
  kind: OutboxKind;
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  createdMs: number;
  /** After this the message is worthless (a stale health) and is deleted unsent. */
  expiresMs?: number;
}

export interface PendingMessage extends OutboxMessage {
  id: number;
}

export interface OutboxDepth {
  messages: number;
  bytes: number;
  byKind: Record<OutboxKind, number>;
}

interface Totals {
  messages: number;
  bytes: number;
}

interface StoredMessage {
  id: number;
  kind: OutboxKind;
  topic: string;
  payload: string;
  qos: number;
  retain: number;
  created_ms: number;
  expires_ms: number | null;
}

function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare<[string, number, string, string, number, number, number, number | null, number]>(
      `INSERT INTO outbox (kind, priority, topic, payload, qos, retain, created_ms, expires_ms, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteHealthFor: db.prepare<[string], { bytes: number }>(
      "DELETE FROM outbox WHERE kind = 'health' AND topic = ? RETURNING bytes",
    ),
    oldestOfKind: db.prepare<[string, number], { id: number; bytes: number }>(
      'SELECT id, bytes FROM outbox WHERE kind = ? ORDER BY id LIMIT ?',
    ),
    deleteKindThrough: db.prepare<[string, number]>('DELETE FROM outbox WHERE kind = ? AND id <= ?'),
    deleteExpired: db.prepare<[number], { bytes: number }>(
      'DELETE FROM outbox WHERE expires_ms IS NOT NULL AND expires_ms < ? RETURNING bytes',
    ),
    head: db.prepare<[number], StoredMessage>(
      `SELECT id, kind, topic, payload, qos, retain, created_ms, expires_ms FROM outbox
       ORDER BY priority, id LIMIT ?`,
    ),
    ack: db.prepare<[number], { bytes: number }>('DELETE FROM outbox WHERE id = ? RETURNING bytes'),
    totals: db.prepare<[], Totals>('SELECT count(*) AS messages, total(bytes) AS bytes FROM outbox'),
    byKind: db.prepare<[], { kind: OutboxKind; n: number; bytes: number }>(
      'SELECT kind, count(*) AS n, total(bytes) AS bytes FROM outbox GROUP BY kind',
    ),
  };
}

/**
 * Every outgoing MQTT message is stored here first and deleted only when the broker acknowledges it, so a
 * lost link or a restart loses nothing that fits within the bounds. One Outbox per database file: it keeps
 * the message and byte totals in memory to avoid counting the table on every enqueue.
 */
export class Outbox {
  private statements?: ReturnType<typeof prepareStatements>;
  private totals?: Totals;

  private readonly kv: KeyValueStore;

  constructor(
    private readonly db: Database.Database,
    private readonly limits: OutboxLimits,
    private readonly onDiskFull?: DiskFullListener,
  ) {
    this.kv = new KeyValueStore(db);
  }

  /**
   * Store a message. A health message replaces the pending ones for its topic (it is retained, only the newest
   * matters). Then, while over a bound, the oldest messages are dropped in DROP_ORDER, the new one included if
   * it is the least important. Returns the id and what was dropped.
   */
  enqueue(msg: OutboxMessage): { id: number; dropped: DropCounts } {
    const sql = this.sql();
    const bytes = Buffer.byteLength(msg.payload, 'utf8');

    const transaction = this.db.transaction(() => {
      const totals = { ...this.currentTotals() };
      if (msg.kind === 'health') subtractRows(totals, sql.deleteHealthFor.all(msg.topic));

      const { lastInsertRowid } = sql.insert.run(
        msg.kind,
        OUTBOX_PRIORITY[msg.kind],
        msg.topic,
        msg.payload,
        msg.qos,
        msg.retain ? 1 : 0,
        msg.createdMs,
        msg.expiresMs ?? null,
        bytes,
      );
      totals.messages += 1;
      totals.bytes += bytes;

      const dropped = this.dropToBounds(totals);
      this.addToDroppedTotals(dropped);
      return { id: Number(lastInsertRowid), dropped, totals };
    });

    const { id, dropped, totals } = writeWithRoom(this.db, 'outbox.enqueue', transaction, this.onDiskFull);
    this.totals = totals;
    return { id, dropped };
  }

  /**
   * Up to `limit` pending messages not in `exclude` (those in flight), most important first, oldest first
   * within a priority. Expired messages are deleted first and counted as dropped 'expired'; one that expires
   * while in flight is counted so even if its acknowledgement arrives later.
   */
  next(limit: number, exclude: ReadonlySet<number>, nowMs: number = Date.now()): PendingMessage[] {
    const sql = this.sql();

    const transaction = this.db.transaction(() => {
      const totals = { ...this.currentTotals() };
      const expired = sql.deleteExpired.all(nowMs);
      subtractRows(totals, expired);
      if (expired.length > 0) this.addToDroppedTotals({ ...zeroDrops(), expired: expired.length });

      // The excluded ids are in flight, so they sit at the head: reading that many more is always enough.
      const head = sql.head.all(limit + exclude.size);
      return { messages: head.filter((r) => !exclude.has(r.id)).slice(0, limit), totals };
    });

    const { messages, totals } = writeWithRoom(this.db, 'outbox.next', transaction, this.onDiskFull);
    this.totals = totals;
    return messages.map(toPending);
  }

  /** Delete a message the broker acknowledged. False when it was already gone (coalesced, expired or dropped). */
  ack(id: number): boolean {
    const sql = this.sql();
    const totals = this.currentTotals();

    let removed: { bytes: number }[];
    try {
      removed = sql.ack.all(id);
    } catch (err) {
      throw storageWriteError('outbox.ack', err, { id });
    }

    this.totals = { ...totals };
    subtractRows(this.totals, removed);
    return removed.length > 0;
  }

  depth(): OutboxDepth {
    const byKind = Object.fromEntries(OUTBOX_KINDS.map((k) => [k, 0])) as Record<OutboxKind, number>;
    let messages = 0;
    let bytes = 0;
    for (const row of this.sql().byKind.all()) {
      byKind[row.kind] = row.n;
      messages += row.n;
      bytes += row.bytes;
    }
    return { messages, bytes, byKind };
  }

  /** Messages dropped since the buffer was created; kept in the database so restarts do not reset them. */
  droppedTotals(): DropCounts {
    const stored = this.kv.get(DROPPED_TOTALS_KEY) as Partial<DropCounts> | undefined;
    return { ...zeroDrops(), ...stored };
  }

  /** Drop oldest-first in DROP_ORDER until `totals` is within the limits; updates `totals` as it goes. */
  private dropToBounds(totals: Totals): DropCounts {
    const sql = this.sql();
    const dropped = zeroDrops();
    const over = () => totals.messages > this.limits.maxMessages || totals.bytes > this.limits.maxBytes;

    for (const kind of DROP_ORDER) {
      while (over()) {
        const oldest = sql.oldestOfKind.all(kind, DROP_STEP_ROWS);
        if (oldest.length === 0) break;

        let lastId = 0;
        for (const row of oldest) {
          if (!over()) break;
          totals.messages -= 1;
          totals.bytes -= row.bytes;
          lastId = row.id;
          dropped[kind] += 1;
        }
        sql.deleteKindThrough.run(kind, lastId);
      }
    }
    return dropped;
  }

  private addToDroppedTotals(dropped: DropCounts): void {
    if (Object.values(dropped).every((n) => n === 0)) return;

    const totals = this.droppedTotals();
    for (const key of Object.keys(totals) as (keyof DropCounts)[]) totals[key] += dropped[key];
    this.kv.set(DROPPED_TOTALS_KEY, totals);
  }

  private currentTotals(): Totals {
    return (this.totals ??= this.sql().totals.get() ?? { messages: 0, bytes: 0 });
  }

  private sql(): ReturnType<typeof prepareStatements> {
    return (this.statements ??= prepareStatements(this.db));
  }
}

function zeroDrops(): DropCounts {
  return { anomaly: 0, event: 0, summary: 0, health: 0, expired: 0 };
}

function subtractRows(totals: Totals, rows: readonly { bytes: number }[]): void {
  for (const row of rows) {
    totals.messages -= 1;
    totals.bytes -= row.bytes;
  }
}

function toPending(r: StoredMessage): PendingMessage {
  return {
    id: r.id,
    kind: r.kind,
    topic: r.topic,
    payload: r.payload,
    qos: r.qos === 1 ? 1 : 0,
    retain: r.retain === 1,
    createdMs: r.created_ms,
    ...(r.expires_ms === null ? {} : { expiresMs: r.expires_ms }),
  };
}
