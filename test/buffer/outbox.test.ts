import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/buffer/database.js';
import { Outbox, type OutboxKind, type OutboxMessage } from '../../src/buffer/outbox.js';
import { useTempDatabase } from './temp-database.js';

const temp = useTempDatabase();

const T0 = Date.UTC(2026, 0, 1);
const NONE: ReadonlySet<number> = new Set();
const NO_DROPS = { anomaly: 0, event: 0, summary: 0, health: 0, expired: 0 };

function message(kind: OutboxKind, payload: string, extra: Partial<OutboxMessage> = {}): OutboxMessage {
  return { kind, topic: `cellwatch/SITE-042/${kind}`, payload, qos: 1, retain: false, createdMs: T0, ...extra };
}

/** Enqueue and return the id, for tests that only care about order. */
function add(outbox: Outbox, kind: OutboxKind, payload: string, extra: Partial<OutboxMessage> = {}): number {
  return outbox.enqueue(message(kind, payload, extra)).id;
}

function pendingPayloads(outbox: Outbox, exclude = NONE): string[] {
  return outbox.next(100, exclude, T0).map((m) => m.payload);
}

describe('Outbox.next', () => {
  it('hands out anomalies and events first, then summaries, then health, oldest first within a priority', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    add(outbox, 'health', 'h1', { topic: 'cellwatch/SITE-042/status', qos: 0, retain: true });
    add(outbox, 'summary', 's1');
    const anomalyId = add(outbox, 'anomaly', 'a1', { expiresMs: T0 + 60_000 });
    add(outbox, 'event', 'e1');
    add(outbox, 'summary', 's2');

    expect(pendingPayloads(outbox)).toEqual(['a1', 'e1', 's1', 's2', 'h1']);
    expect(outbox.next(1, NONE, T0)).toEqual([
      {
        id: anomalyId,
        kind: 'anomaly',
        topic: 'cellwatch/SITE-042/anomaly',
        payload: 'a1',
        qos: 1,
        retain: false,
        createdMs: T0,
        expiresMs: T0 + 60_000,
      },
    ]);
    expect(outbox.next(1, NONE, T0).map((m) => m.retain)).toEqual([false]);
  });

  it('skips the messages in flight and still fills the limit', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    const a1 = add(outbox, 'anomaly', 'a1');
    const a2 = add(outbox, 'anomaly', 'a2');
    add(outbox, 'summary', 's1');
    add(outbox, 'health', 'h1');

    expect(outbox.next(2, new Set([a1, a2]), T0).map((m) => m.payload)).toEqual(['s1', 'h1']);
  });

  it('deletes expired messages unsent and counts them, keeping one that expires exactly now', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    add(outbox, 'health', 'stale', { topic: 'a', expiresMs: T0 - 1 });
    add(outbox, 'health', 'due now', { topic: 'b', expiresMs: T0 });
    add(outbox, 'summary', 'forever');

    expect(pendingPayloads(outbox)).toEqual(['forever', 'due now']);
    expect(outbox.droppedTotals()).toEqual({ ...NO_DROPS, expired: 1 });
    expect(outbox.depth()).toEqual({ messages: 2, bytes: 14, byKind: { anomaly: 0, event: 0, summary: 1, health: 1 } });
  });
});

describe('Outbox.ack', () => {
  it('deletes an acknowledged message once and reports a second ack as already gone', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    const id = add(outbox, 'event', 'e1');
    add(outbox, 'event', 'e2');

    expect(outbox.ack(id)).toBe(true);
    expect(outbox.ack(id)).toBe(false);

    expect(pendingPayloads(outbox)).toEqual(['e2']);
    expect(outbox.depth()).toEqual({ messages: 1, bytes: 2, byKind: { anomaly: 0, event: 1, summary: 0, health: 0 } });
  });
});

describe('Outbox.enqueue', () => {
  it('keeps only the newest pending health message per topic', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    add(outbox, 'health', 'site up 1', { topic: 'cellwatch/SITE-042/status' });
    add(outbox, 'health', 'host 1', { topic: 'cellwatch/SITE-042/host' });
    const result = outbox.enqueue(message('health', 'site up 2', { topic: 'cellwatch/SITE-042/status' }));

    expect(result.dropped).toEqual(NO_DROPS);
    expect(pendingPayloads(outbox)).toEqual(['host 1', 'site up 2']);
    expect(outbox.depth().byKind.health).toBe(2);
  });

  it('drops health, then summaries, then events, and anomalies last when over maxMessages', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 3, maxBytes: 100_000 });
    add(outbox, 'anomaly', 'a1');
    add(outbox, 'summary', 's1');
    add(outbox, 'health', 'h1');

    expect(outbox.enqueue(message('anomaly', 'a2')).dropped).toEqual({ ...NO_DROPS, health: 1 });
    expect(outbox.enqueue(message('anomaly', 'a3')).dropped).toEqual({ ...NO_DROPS, summary: 1 });
    expect(outbox.enqueue(message('event', 'e1')).dropped).toEqual({ ...NO_DROPS, event: 1 });
    expect(outbox.enqueue(message('health', 'h2')).dropped).toEqual({ ...NO_DROPS, health: 1 });
    expect(outbox.enqueue(message('anomaly', 'a4')).dropped).toEqual({ ...NO_DROPS, anomaly: 1 });

    expect(pendingPayloads(outbox)).toEqual(['a2', 'a3', 'a4']);
    expect(outbox.droppedTotals()).toEqual({ ...NO_DROPS, anomaly: 1, event: 1, summary: 1, health: 2 });
  });

  it('bounds the summed UTF-8 payload bytes, dropping the least important first', () => {
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 10 });
    add(outbox, 'anomaly', '12345');
    add(outbox, 'summary', 'abcd');
    expect(outbox.depth().bytes).toBe(9);

    const result = outbox.enqueue(message('event', 'é!'));

    expect(result.dropped).toEqual({ ...NO_DROPS, summary: 1 });
    expect(pendingPayloads(outbox)).toEqual(['12345', 'é!']);
    expect(outbox.depth()).toEqual({ messages: 2, bytes: 8, byKind: { anomaly: 1, event: 1, summary: 0, health: 0 } });
  });

  it('drops many messages at once when the bound is lower than what is stored', () => {
    const big = new Outbox(temp.db, { maxMessages: 1000, maxBytes: 100_000 });
    for (let i = 0; i < 600; i++) add(big, i % 2 === 0 ? 'summary' : 'anomaly', `m${i}`);

    const small = new Outbox(temp.db, { maxMessages: 100, maxBytes: 100_000 });
    const result = small.enqueue(message('anomaly', 'new'));

    expect(result.dropped).toEqual({ ...NO_DROPS, summary: 300, anomaly: 201 });
    expect(small.depth().byKind).toEqual({ anomaly: 100, event: 0, summary: 0, health: 0 });
    expect(pendingPayloads(small).slice(0, 2)).toEqual(['m403', 'm405']);
    expect(pendingPayloads(small).at(-1)).toBe('new');
  });
});

describe('Outbox after a restart', () => {
  it('keeps the pending messages, their totals and the cumulative drop counts', () => {
    const before = new Outbox(temp.db, { maxMessages: 3, maxBytes: 100_000 });
    add(before, 'summary', 's1');
    add(before, 'health', 'h1');
    add(before, 'anomaly', 'a1');
    add(before, 'event', 'e1', { expiresMs: T0 - 1 });
    expect(pendingPayloads(before)).toEqual(['a1', 's1']);
    temp.db.close();

    temp.db = openDatabase(temp.path).db;
    const after = new Outbox(temp.db, { maxMessages: 3, maxBytes: 100_000 });
    expect(after.droppedTotals()).toEqual({ ...NO_DROPS, health: 1, expired: 1 });
    expect(after.enqueue(message('anomaly', 'a2')).dropped).toEqual(NO_DROPS);
    expect(after.enqueue(message('anomaly', 'a3')).dropped).toEqual({ ...NO_DROPS, summary: 1 });

    expect(after.droppedTotals()).toEqual({ ...NO_DROPS, health: 1, summary: 1, expired: 1 });
    expect(pendingPayloads(after)).toEqual(['a1', 'a2', 'a3']);
  });
});
