import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import type { EntityRule, PmSourceConfig } from '../../src/config/schema.js';
import { commitDroppedFile, pmRowBuilder, readDroppedFile } from '../../src/sources/pm/pm-source.js';
import { scratchDir } from '../helpers.js';
import { hourEnd, pmXml, type FixtureInfo } from '../telecom/pm-fixture.js';

const T0 = Date.UTC(2026, 1, 2);

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(() => cleanup());

/** One dropped file read as the PM source reads it, with KPIs att and succ and entity columns site, cell. */
async function drop(name: string, content: string | Buffer, entities: EntityRule[] = [], ledger = PmLedger.inMemory()) {
  const config: PmSourceConfig = {
    type: 'pm',
    path: dir,
    format: 'auto',
    pollMs: 1_000,
    processed: 'done',
    quarantine: 'quarantine',
    entities,
    counters: [],
    kpis: {},
  };
  const context = {
    pipeline: 'cells',
    entityColumns: ['site', 'cell'],
    fixedEntity: {},
    features: ['att', 'succ'],
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
  await writeFile(join(dir, name), content);
  const file = await readDroppedFile(join(dir, name), 'auto', pmRowBuilder(config, context, ledger));
  const rows = file.built.rows.map((r) => ({ entity: r.entity.join('/'), values: Array.from(r.values) }));
  return { ...file, rows };
}

const hour = (...infos: FixtureInfo[]) => pmXml({ periods: [{ endTime: hourEnd(T0, 0), infos }] });

describe('PM rows of one dropped file', () => {
  it('keeps the first of two blocks that give one counter of a cell and period otherwise, and says so', async () => {
    // Two measInfo blocks of one cell: att differs (a real conflict), succ agrees (nothing is lost).
    const file = hour(
      { id: 'RRC-a', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['10', '9'] }] },
      { id: 'RRC-b', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['30', '9'] }] },
    );
    const { rows, built, issues } = await drop('twice.xml', file);

    expect(rows).toEqual([{ entity: 'S1/1', values: [10, 9] }]);
    expect(built.stats.conflictValues).toBe(1);
    expect(issues).toEqual([
      {
        code: 'PM_CONFLICT',
        message:
          'twice.xml: 1 values of a counter another block gave otherwise for the same entity and period left out, ' +
          'e.g. "att" of S1/1: 10 from "RRC-a" kept, 30 from "RRC-b" left out',
        file: join(dir, 'twice.xml'),
      },
    ]);
  });

  it('says so too when entity rules map two measured objects to one entity', async () => {
    const file = hour({
      id: 'RRC',
      types: ['att', 'succ'],
      values: [
        { object: 'NRCellDU=1', values: ['10', '9'] },
        { object: 'NRCellCU=1', values: ['12', '11'] },
      ],
    });
    const rule = { object: '^NRCell(?:DU|CU)=(?<cell>\\d+)$', set: { site: 'S1' } };
    const { rows, built, issues } = await drop('merged.xml', file, [rule]);

    expect(rows).toEqual([{ entity: 'S1/1', values: [10, 9] }]);
    expect(built.stats.conflictValues).toBe(2);
    expect(issues.map((i) => i.code)).toEqual(['PM_CONFLICT']);
  });

  it('names a value skip for what it is, not as a value that is not a number', async () => {
    // A measValue with fewer r than measTypes: succ has no result and is read as missing (measValue on line 13).
    const file = hour({ id: 'RRC', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['10'] }] });
    const { rows, issues } = await drop('short.xml', file);

    expect(rows).toEqual([{ entity: 'S1/1', values: [10, Number.NaN] }]);
    expect(issues).toEqual([
      {
        code: 'PM_VALUE',
        message:
          'short.xml: 1 values left out or read as missing, e.g. measInfo "RRC", object "NRCellDU=1": ' +
          'no value for measType "succ"; read as missing (line 13)',
        file: join(dir, 'short.xml'),
      },
    ]);
  });

  it('takes a gzip copy of a committed file as done: no rows, every block a duplicate, not refused', async () => {
    const ledger = PmLedger.inMemory();
    const text = hour({ id: 'RRC', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['10', '9'] }] });
    const plain = await drop('A.xml', text, [], ledger);
    commitDroppedFile(ledger, 'cells', plain.built);
    const copy = await drop('A.xml.gz', gzipSync(text), [], ledger);

    expect(plain.rows).toEqual([{ entity: 'S1/1', values: [10, 9] }]);
    expect(copy.rows).toEqual([]);
    expect(copy.built.stats).toMatchObject({ blocks: 1, duplicateBlocks: 1, conflictBlocks: 0 });
    expect(copy.issues).toEqual([]);
  });

  it('forgets block keys by data time, never from later than now: a file from the future prunes nothing', async () => {
    const ledger = PmLedger.inMemory();
    const block = { id: 'RRC', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['10', '9'] }] };
    const current = await drop('now.xml', hour(block), [], ledger);
    const nowMs = T0 + 2 * 3_600_000;
    commitDroppedFile(ledger, 'cells', current.built, nowMs);
    // A node whose clock runs three years ahead.
    const aheadMs = Date.UTC(2029, 1, 2);
    const ahead = await drop(
      'ahead.xml',
      pmXml({ periods: [{ endTime: hourEnd(aheadMs, 0), infos: [block] }] }),
      [],
      ledger,
    );
    commitDroppedFile(ledger, 'cells', ahead.built, nowMs);
    expect((await drop('now-again.xml', hour(block), [], ledger)).built.stats.duplicateBlocks).toBe(1);

    // Forty days later by the data, the first file's keys are gone: a redelivery that late is read again.
    const laterMs = T0 + 40 * 86_400_000;
    const later = await drop(
      'later.xml',
      pmXml({ periods: [{ endTime: hourEnd(laterMs, 0), infos: [block] }] }),
      [],
      ledger,
    );
    commitDroppedFile(ledger, 'cells', later.built, laterMs + 3_600_000);
    expect((await drop('now-late.xml', hour(block), [], ledger)).built.stats.duplicateBlocks).toBe(0);
  });
});
