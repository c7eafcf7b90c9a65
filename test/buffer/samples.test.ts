import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { usedSizeBytes } from '../../src/buffer/database.js';
import { Outbox } from '../../src/buffer/outbox.js';
import { SampleStore, type SampleRow } from '../../src/buffer/samples.js';
import { useTempDatabase } from './temp-database.js';

const temp = useTempDatabase();

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function store(limits = { retentionHours: 24, maxMb: 100 }): SampleStore {
  return new SampleStore(temp.db, temp.path, limits);
}

function row(entity: string, timestampMs: number, ...values: number[]): SampleRow {
  return { entity, timestampMs, values: Float64Array.from(values) };
}

describe('SampleStore.insert', () => {
  it('reports per row whether it was new; a repeated timestamp of an entity is not, and keeps its first values', () => {
    const samples = store();

    expect(samples.insert('ran', [row('SITE-042/1', T0, 1), row('SITE-042/2', T0, 2)])).toEqual([true, true]);
    expect(samples.insert('ran', [row('SITE-042/1', T0, 9), row('SITE-042/1', T0 + 60_000, 3)])).toEqual([false, true]);
    expect(samples.insert('host', [row('SITE-042/1', T0, 4)])).toEqual([true]);

    expect(samples.count()).toBe(4);
    expect(samples.countByPipeline()).toEqual({ host: 1, ran: 3 });
    expect(Array.from(samples.history('ran', 'SITE-042/1', 10), (r) => r.values[0])).toEqual([3, 1]);
  });

  it('stores suspect rows but leaves them out of the scoring backlog and of history', () => {
    const samples = store();
    samples.insert('ran', [
      row('S/1', T0, 1),
      { ...row('S/1', T0 + HOUR_MS, 2), suspect: true },
      row('S/1', T0 + 2 * HOUR_MS, 3),
    ]);

    expect(samples.count()).toBe(3);
    expect(samples.unscored('ran', 10).map((r) => r.values[0])).toEqual([1, 3]);
    expect(samples.history('ran', 'S/1', 10).map((r) => r.values[0])).toEqual([3, 1]);
    expect(samples.history('ran', 'S/1', 10, { excludeFlagged: true }).map((r) => r.values[0])).toEqual([3, 1]);
  });

  it('stores a missing value (NaN) and reads it back as NaN next to exact finite values', () => {
    const samples = store();
    samples.insert('ran', [row('S/1', T0, Number.NaN, 0.1 + 0.2, -1e-300, 12.5)]);

    const [stored] = samples.history('ran', 'S/1', 1);
    expect(Array.from(stored?.values ?? [])).toEqual([Number.NaN, 0.1 + 0.2, -1e-300, 12.5]);
  });
});

describe('SampleStore.history', () => {
  it('returns the newest rows first with their scores, and leaves out flagged ones when asked', () => {
    const samples = store();
    samples.insert('ran', [row('S/1', T0, 1), row('S/1', T0 + 1000, 2), row('S/1', T0 + 2000, 3), row('S/2', T0, 7)]);
    expect(
      samples.recordScores('ran', [
        { entity: 'S/1', timestampMs: T0, score: 0.25, flagged: false },
        { entity: 'S/1', timestampMs: T0 + 1000, score: 4.5, flagged: true },
        { entity: 'S/1', timestampMs: T0 + 5000, score: 1, flagged: true },
      ]),
    ).toBe(2);

    const simplify = (rows: ReturnType<SampleStore['history']>) =>
      rows.map((r) => [r.timestampMs, r.values[0], r.score, r.flagged]);
    expect(simplify(samples.history('ran', 'S/1', 10))).toEqual([
      [T0 + 2000, 3, null, null],
      [T0 + 1000, 2, 4.5, true],
      [T0, 1, 0.25, false],
    ]);
    expect(simplify(samples.history('ran', 'S/1', 2, { excludeFlagged: true }))).toEqual([
      [T0 + 2000, 3, null, null],
      [T0, 1, 0.25, false],
    ]);
    expect(simplify(samples.history('ran', 'S/1', 1))).toEqual([[T0 + 2000, 3, null, null]]);
  });
});

describe('SampleStore.latestTimestampMs, entities and unscored', () => {
  it('gives the newest timestamp of a pipeline across its entities, -Infinity when it has none', () => {
    const samples = store();
    expect(samples.latestTimestampMs('ran')).toBe(Number.NEGATIVE_INFINITY);

    samples.insert('ran', [row('S/1', T0 + 5000, 1), row('S/2', T0 + 9000, 1), row('S/3', T0, 1)]);
    samples.insert('host', [row('box', T0 + 99_000, 1)]);

    expect(samples.latestTimestampMs('ran')).toBe(T0 + 9000);
  });

  it('lists the entities of a pipeline once each, sorted', () => {
    const samples = store();
    samples.insert('ran', [row('S/2', T0, 1), row('S/1', T0, 1), row('S/2', T0 + 1000, 1)]);
    samples.insert('host', [row('box', T0, 1)]);

    expect(samples.entities('ran')).toEqual(['S/1', 'S/2']);
    expect(samples.entities('none')).toEqual([]);
  });

  it('lists the samples without a score oldest first, across entities, up to the limit', () => {
    const samples = store();
    samples.insert('ran', [row('S/1', T0 + 3000, 3), row('S/2', T0 + 1000, 1), row('S/1', T0 + 2000, 2)]);
    samples.insert('ran', [row('S/2', T0, 0)]);
    samples.insert('host', [row('box', T0, 5)]);
    samples.recordScores('ran', [{ entity: 'S/2', timestampMs: T0, score: 0.1, flagged: false }]);

    const backlog = samples.unscored('ran', 2);

    expect(backlog.map((r) => [r.entity, r.timestampMs, Array.from(r.values)])).toEqual([
      ['S/2', T0 + 1000, [1]],
      ['S/1', T0 + 2000, [2]],
    ]);
  });
});

describe('SampleStore.resumePointMs', () => {
  it("is the oldest entity's newest row among the entities active within a day of the newest", () => {
    const samples = store();
    expect(samples.resumePointMs('ran')).toBe(Number.NEGATIVE_INFINITY);
    samples.insert('ran', [row('S/1', T0 + 9 * HOUR_MS, 1), row('S/2', T0 + 9 * HOUR_MS, 1)]);
    samples.insert('ran', [row('S/3', T0 + 8 * HOUR_MS, 1), row('S/old', T0 - 48 * HOUR_MS, 1)]);
    // S/3 has not had its 09:00 row yet: a restart reads 09:00 again; S/old stopped long ago and is ignored.
    expect(samples.resumePointMs('ran')).toBe(T0 + 8 * HOUR_MS);
  });
});

describe('SampleStore.enforceRetention', () => {
  it('deletes exactly the samples older than retentionHours before now', () => {
    const samples = store({ retentionHours: 2, maxMb: 100 });
    const nowMs = T0 + 10 * HOUR_MS;
    const cutoffMs = nowMs - 2 * HOUR_MS;
    samples.insert('ran', [row('S/1', cutoffMs - 1, 1), row('S/1', cutoffMs, 2), row('S/1', nowMs, 3)]);
    samples.insert('host', [row('box', T0, 4), row('box', cutoffMs + 1, 5)]);

    expect(samples.enforceRetention(nowMs)).toEqual({ deletedByAge: 2, deletedBySize: 0 });

    expect(samples.history('ran', 'S/1', 10).map((r) => r.timestampMs)).toEqual([nowMs, cutoffMs]);
    expect(samples.history('host', 'box', 10).map((r) => r.timestampMs)).toEqual([cutoffMs + 1]);
  });

  it("counts a pipeline's age from its newest row when that is older than now, so a replay keeps its history", () => {
    const samples = store({ retentionHours: 2, maxMb: 100 });
    const lastYear = T0 - 365 * 24 * HOUR_MS;
    samples.insert('replay', [
      row('S/1', lastYear - 3 * HOUR_MS, 1),
      row('S/1', lastYear - HOUR_MS, 2),
      row('S/1', lastYear, 3),
    ]);

    expect(samples.enforceRetention(T0)).toEqual({ deletedByAge: 1, deletedBySize: 0 });
    expect(samples.history('replay', 'S/1', 10).map((r) => r.timestampMs)).toEqual([lastYear, lastYear - HOUR_MS]);
  });

  it('deletes the oldest samples in steps until the used size is under maxMb, keeping the outbox', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => row(`S/${i % 4}`, T0 + i * 1000, i, i / 3, i * 7));
    const samples = store({ retentionHours: 24 * 365, maxMb: 1 });
    samples.insert('ran', rows);
    const outbox = new Outbox(temp.db, { maxMessages: 10, maxBytes: 10_000 });
    outbox.enqueue({ kind: 'summary', topic: 't', payload: 'kept', qos: 1, retain: false, createdMs: T0 });
    const usedBefore = usedSizeBytes(temp.db);
    const fileBefore = statSync(temp.path).size;
    expect(usedBefore).toBeGreaterThan(1024 * 1024);

    const result = samples.enforceRetention(T0);

    expect(result).toEqual({ deletedByAge: 0, deletedBySize: 12_000 });
    expect(usedSizeBytes(temp.db)).toBeLessThanOrEqual(1024 * 1024);
    expect(samples.count()).toBe(8_000);
    expect(samples.unscored('ran', 1)[0]?.timestampMs).toBe(T0 + 12_000 * 1000);
    expect(outbox.depth().messages).toBe(1);
    // The file keeps its freed pages for reuse; the WAL the deletes went through is folded back and cut.
    expect(statSync(temp.path).size).toBeGreaterThanOrEqual(fileBefore);
    expect(statSync(`${temp.path}-wal`).size).toBe(0);
  });

  it('stops when no samples are left even if the outbox alone is over the limit', () => {
    const samples = store({ retentionHours: 24, maxMb: 0.01 });
    samples.insert('ran', [row('S/1', T0, 1)]);
    const outbox = new Outbox(temp.db, { maxMessages: 100, maxBytes: 1_000_000 });
    outbox.enqueue({ kind: 'event', topic: 't', payload: 'x'.repeat(50_000), qos: 1, retain: false, createdMs: T0 });

    expect(samples.enforceRetention(T0)).toEqual({ deletedByAge: 0, deletedBySize: 1 });
    expect(outbox.depth().messages).toBe(1);
  });
});

describe('SampleStore.freeSpace', () => {
  it('deletes the oldest share of the samples across pipelines, rounding up', () => {
    const samples = store();
    samples.insert('ran', [row('S/1', T0 + 4, 1), row('S/1', T0 + 1, 1), row('S/1', T0 + 6, 1)]);
    samples.insert('host', [row('box', T0 + 2, 1), row('box', T0 + 5, 1)]);

    expect(samples.freeSpace(0.25)).toBe(2);

    expect(samples.countByPipeline()).toEqual({ host: 1, ran: 2 });
    expect(samples.history('ran', 'S/1', 10).map((r) => r.timestampMs - T0)).toEqual([6, 4]);
  });
});
