import { describe, expect, it } from 'vitest';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import type { PmSourceConfig } from '../../src/config/schema.js';
import { pmRowBuilder } from '../../src/sources/pm/pm-source.js';
import type { PmBlock, PmValue } from '../../src/telecom/pm-block.js';

const T0 = Date.UTC(2026, 1, 2);
const PERIOD_MS = 900_000;
const ELEMENT = 'SubNetwork=1,ManagedElement=S1';
const CELLS = 700;

const config: PmSourceConfig = {
  type: 'pm',
  path: '/unused',
  format: 'auto',
  pollMs: 1_000,
  processed: 'done',
  quarantine: 'quarantine',
  entities: [{ object: '^NRCellDU=(?<cell>\\d+)$', set: { site: 'S1' } }],
  counters: [{ match: 'bytes*', kind: 'cumulative', widthBits: 32, array: 'skip' }],
  kpis: { succ_pct: '100 * succ / att' },
};
const context = {
  pipeline: 'cells',
  entityColumns: ['site', 'cell'],
  fixedEntity: {},
  features: ['succ_pct', 'att', 'bytesDl'],
  resumeAfterMs: Number.NEGATIVE_INFINITY,
};

function block(measInfo: string, object: string, period: number, values: Record<string, PmValue>, suspect = false) {
  const beginMs = T0 + period * PERIOD_MS;
  return {
    sender: ELEMENT,
    element: ELEMENT,
    measInfo,
    object,
    beginMs,
    endMs: beginMs + PERIOD_MS,
    suspect,
    values: new Map(Object.entries(values)),
  } satisfies PmBlock;
}

/** Two periods of CELLS cells in two measInfo blocks, with every case the builder counts somewhere in it. */
function largeFile(): PmBlock[] {
  const blocks: PmBlock[] = [];
  for (const period of [1, 2]) {
    for (let cell = 1; cell <= CELLS; cell++) {
      const att = cell % 50 === 0 ? null : 100 + cell;
      blocks.push(block('RRC', `NRCellDU=${cell}`, period, { att, succ: 90 + (cell % 7) }, cell % 97 === 0));
      blocks.push(block('TRAFFIC', `NRCellDU=${cell}`, period, { bytesDl: 1_000 * period + cell, dist: [1, 2] }));
    }
    // An object no rule maps, and a second block giving one cell's att otherwise.
    blocks.push(block('RRC', 'Other=1', period, { att: 1, succ: 1 }));
    blocks.push(block('RRC-extra', 'NRCellDU=3', period, { att: 1 }));
  }
  // The same block twice in one file.
  blocks.push(blocks[0]!);
  return blocks;
}

/** A ledger that has seen period 0 of the cumulative counter, and some of period 1 (one with other values). */
function seededLedger(): PmLedger {
  const ledger = PmLedger.inMemory();
  const earlier = pmRowBuilder(config, context, ledger);
  const before = [
    ...Array.from({ length: CELLS }, (_, i) => block('TRAFFIC', `NRCellDU=${i + 1}`, 0, { bytesDl: i + 1 })),
    block('RRC', 'NRCellDU=10', 1, { att: 110, succ: 93 }),
    block('RRC', 'NRCellDU=11', 1, { att: 0, succ: 0 }),
  ];
  const built = earlier.build(before);
  ledger.commit('cells', built.ledger.blocks, built.ledger.counters);
  return ledger;
}

describe('PmRowBuilder.buildInTurns', () => {
  it('gives exactly the rows, counts and ledger entries build() gives for a file of many blocks', async () => {
    const blocks = largeFile();
    const ledger = seededLedger();

    const inOneGo = pmRowBuilder(config, context, ledger).build(blocks);
    const inTurns = await pmRowBuilder(config, context, ledger).buildInTurns(blocks);

    expect(inTurns).toEqual(inOneGo);
    // The file exercises every path of the builder, across more than one turn of blocks and of rows.
    expect(inOneGo.stats).toMatchObject({
      blocks: 4 * CELLS + 5,
      duplicateBlocks: 2,
      conflictBlocks: 1,
      conflictValues: 2,
      unmappedBlocks: 2,
      skippedArrays: 2 * CELLS,
      rows: 2 * CELLS,
      counterDeltas: {},
    });
    expect(inOneGo.stats.missingValues).toBeGreaterThan(0);
    expect(inOneGo.stats.suspectRows).toBeGreaterThan(0);
    expect(inOneGo.ledger.counters).toHaveLength(CELLS);
    expect(inOneGo.rows[0]).toMatchObject({
      entity: ['S1', '1'],
      values: new Float64Array([(100 * 91) / 101, 101, 1_000]),
    });
  });

  it('gives the event loop turns while it builds', async () => {
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);

    await pmRowBuilder(config, context, PmLedger.inMemory()).buildInTurns(largeFile());
    counting = false;

    expect(turns).toBeGreaterThan(1);
  });
});
