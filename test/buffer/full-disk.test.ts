import { beforeEach, describe, expect, it } from 'vitest';
import type { DiskFullEvent } from '../../src/buffer/full-disk.js';
import { Outbox, type OutboxMessage } from '../../src/buffer/outbox.js';
import { SampleStore, type SampleRow } from '../../src/buffer/samples.js';
import { thrown } from '../helpers.js';
import { useTempDatabase } from './temp-database.js';

const temp = useTempDatabase();

const T0 = Date.UTC(2026, 0, 1);
const BATCH_ROWS = 20;

let events: DiskFullEvent[];
let samples: SampleStore;
let outbox: Outbox;
beforeEach(() => {
  events = [];
  const listener = (e: DiskFullEvent) => events.push(e);
  samples = new SampleStore(temp.db, temp.path, { retentionHours: 24, maxMb: 100 }, listener);
  outbox = new Outbox(temp.db, { maxMessages: 1000, maxBytes: 1_000_000 }, listener);
});

/** A real SQLITE_FULL: the database may grow by this many pages and no more. */
function capPages(extraPages: number): void {
  const pageCount = temp.db.pragma('page_count', { simple: true }) as number;
  temp.db.pragma(`max_page_count = ${pageCount + extraPages}`);
}

function batch(first: number, rows = BATCH_ROWS): SampleRow[] {
  return Array.from({ length: rows }, (_, i) => ({
    entity: `SITE-${(first + i) % 5}/1`,
    timestampMs: T0 + (first + i) * 60_000,
    values: Float64Array.from([first + i, 0.5, -70.25, Number.NaN]),
  }));
}

function report(payload: string): OutboxMessage {
  return { kind: 'anomaly', topic: 'cellwatch/SITE-1/anomaly', payload, qos: 1, retain: false, createdMs: T0 };
}

/** Insert batches until the first full-disk event, and return how many samples were inserted. */
function fillWithSamples(): number {
  let inserted = 0;
  while (events.length === 0) {
    expect(samples.insert('ran', batch(inserted))).toEqual(new Array<boolean>(BATCH_ROWS).fill(true));
    inserted += BATCH_ROWS;
    if (inserted > 100_000) throw new Error('the page cap never filled');
  }
  return inserted;
}

describe('a full disk while inserting samples', () => {
  it('frees the oldest tenth of the samples and writes the batch on the retry', () => {
    capPages(40);
    const inserted = fillWithSamples();
    const before = inserted - BATCH_ROWS;
    const freed = Math.ceil(before * 0.1);

    expect(events).toEqual([{ operation: 'samples.insert', freedSamples: freed, recovered: true }]);
    expect(samples.count()).toBe(before - freed + BATCH_ROWS);
    expect(samples.unscored('ran', 1)[0]?.timestampMs).toBe(T0 + freed * 60_000);
    expect(samples.latestTimestampMs('ran')).toBe(T0 + (inserted - 1) * 60_000);
  });

  it('keeps writing as the disk stays full, each time at the cost of the oldest samples', () => {
    capPages(40);
    let inserted = fillWithSamples();
    for (let i = 0; i < 100; i++, inserted += BATCH_ROWS) samples.insert('ran', batch(inserted));

    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.recovered && e.operation === 'samples.insert')).toBe(true);
    expect(samples.latestTimestampMs('ran')).toBe(T0 + (inserted - 1) * 60_000);
  });

  it('throws STORAGE_FULL when the freed tenth is not enough for the batch, and leaves no part of it', () => {
    capPages(40);
    const inserted = fillWithSamples();
    const before = samples.count();

    const error = thrown(() => samples.insert('ran', batch(inserted, 5_000)));

    const freed = Math.ceil(before * 0.1);
    expect(error).toMatchObject({
      code: 'STORAGE_FULL',
      details: { operation: 'samples.insert', freedSamples: freed },
    });
    expect(events.at(-1)).toEqual({ operation: 'samples.insert', freedSamples: freed, recovered: false });
    expect(samples.count()).toBe(before - freed);
    expect(samples.latestTimestampMs('ran')).toBe(T0 + (inserted - 1) * 60_000);
  });
});

describe('a full disk while enqueueing a report', () => {
  it('frees samples and keeps every message already in the outbox', () => {
    capPages(40);
    const earlier = [outbox.enqueue(report('first')).id, outbox.enqueue(report('second')).id];
    fillWithSamples();
    events.length = 0;
    const samplesBefore = samples.count();

    let enqueued = 0;
    while (events.length === 0 && enqueued < 200) {
      outbox.enqueue(report(`big ${enqueued} `.padEnd(2000, '.')));
      enqueued += 1;
    }

    expect(events).toEqual([
      { operation: 'outbox.enqueue', freedSamples: Math.ceil(samplesBefore * 0.1), recovered: true },
    ]);
    expect(samples.count()).toBe(samplesBefore - Math.ceil(samplesBefore * 0.1));
    const pending = outbox.next(1000, new Set(), T0);
    expect(pending.length).toBe(2 + enqueued);
    expect(pending.slice(0, 2).map((m) => [m.id, m.payload])).toEqual([
      [earlier[0], 'first'],
      [earlier[1], 'second'],
    ]);
  });

  it('throws STORAGE_FULL when there are no samples to free, and writes again once there is room', () => {
    capPages(3);
    let enqueued = 0;
    let error: { code?: string; details?: unknown } | undefined;
    while (error === undefined && enqueued < 100) {
      try {
        outbox.enqueue(report('x'.repeat(1000)));
        enqueued += 1;
      } catch (err) {
        error = err as { code?: string };
      }
    }

    expect(error).toMatchObject({ code: 'STORAGE_FULL', details: { operation: 'outbox.enqueue', freedSamples: 0 } });
    expect(events).toEqual([{ operation: 'outbox.enqueue', freedSamples: 0, recovered: false }]);
    expect(outbox.depth().messages).toBe(enqueued);

    temp.db.pragma('max_page_count = 100000');
    const { id } = outbox.enqueue(report('after the cleanup'));

    expect(outbox.next(1000, new Set(), T0).at(-1)).toMatchObject({ id, payload: 'after the cleanup' });
    expect(outbox.depth().messages).toBe(enqueued + 1);
  });
});

describe('other write failures', () => {
  it('become STORAGE_WRITE with the SQLite code, without freeing any samples', () => {
    samples.insert('ran', batch(0));
    temp.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused by test'); END");

    const error = thrown(() => outbox.enqueue(report('r')));

    expect(error).toMatchObject({
      code: 'STORAGE_WRITE',
      message: 'outbox.enqueue failed: refused by test',
      details: { operation: 'outbox.enqueue', sqliteCode: 'SQLITE_CONSTRAINT_TRIGGER' },
    });
    expect(events).toEqual([]);
    expect(samples.count()).toBe(BATCH_ROWS);
  });
});
