import { describe, expect, it } from 'vitest';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import { useTempDatabase } from './temp-database.js';

describe('PmLedger', () => {
  const temp = useTempDatabase();

  it('remembers ingested blocks per pipeline with their hash', () => {
    const ledger = new PmLedger(temp.db);
    expect(ledger.blockHash('cells', 'k1')).toBeUndefined();

    ledger.commit('cells', [{ key: 'k1', hash: 'h1', endMs: 1_000 }], []);

    expect(ledger.blockHash('cells', 'k1')).toBe('h1');
    expect(ledger.blockHash('other', 'k1')).toBeUndefined();
  });

  it('keeps 64-bit counter readings exact, including unsigned ones above 2^63', () => {
    const ledger = new PmLedger(temp.db);
    const above53 = 2n ** 53n + 1n;
    const above63 = 2n ** 64n - 5n;
    ledger.commit(
      'cells',
      [],
      [
        { entity: 'S1/1', counter: 'a', reading: { beginMs: 0, endMs: 900_000, value: above53 } },
        { entity: 'S1/1', counter: 'b', reading: { beginMs: 0, endMs: 900_000, value: above63 } },
        { entity: 'S1/1', counter: 'c', reading: { beginMs: 0, endMs: 900_000, value: 42 } },
      ],
    );

    expect(ledger.lastReading('cells', 'S1/1', 'a')).toEqual({ beginMs: 0, endMs: 900_000, value: above53 });
    expect(ledger.lastReading('cells', 'S1/1', 'b')).toEqual({ beginMs: 0, endMs: 900_000, value: above63 });
    expect(ledger.lastReading('cells', 'S1/1', 'c')).toEqual({ beginMs: 0, endMs: 900_000, value: 42 });
    expect(ledger.lastReading('cells', 'S1/2', 'a')).toBeUndefined();
  });

  it('replaces a counter reading with the newer one', () => {
    const ledger = new PmLedger(temp.db);
    ledger.commit('cells', [], [{ entity: 'e', counter: 'a', reading: { beginMs: 0, endMs: 1, value: 5 } }]);
    ledger.commit('cells', [], [{ entity: 'e', counter: 'a', reading: { beginMs: 1, endMs: 2, value: 9 } }]);

    expect(ledger.lastReading('cells', 'e', 'a')).toEqual({ beginMs: 1, endMs: 2, value: 9 });
  });

  it('prunes blocks whose period ended before a time, and only those', () => {
    const ledger = new PmLedger(temp.db);
    ledger.commit(
      'cells',
      [
        { key: 'old', hash: 'h', endMs: 100 },
        { key: 'new', hash: 'h', endMs: 200 },
      ],
      [],
    );

    expect(ledger.prune('cells', 150)).toBe(1);
    expect(ledger.blockHash('cells', 'old')).toBeUndefined();
    expect(ledger.blockHash('cells', 'new')).toBe('h');
  });

  it('works in memory for one-off reads', () => {
    const ledger = PmLedger.inMemory();
    ledger.commit('p', [{ key: 'k', hash: 'h', endMs: 1 }], []);
    expect(ledger.blockHash('p', 'k')).toBe('h');
  });
});
