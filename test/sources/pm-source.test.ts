import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import type { PmSourceConfig } from '../../src/config/schema.js';
import { PmSource } from '../../src/sources/pm/pm-source.js';
import type { SourceContext } from '../../src/sources/source.js';
import { useTempDatabase } from '../buffer/temp-database.js';
import { hourEnd, hourFileName, pmXml, type FixtureFile } from '../telecom/pm-fixture.js';
import { RecordingSink, waitFor } from './recording-sink.js';

const POLL_MS = 30;
const T0 = Date.UTC(2026, 1, 2);
const HOUR_MS = 3_600_000;

const temp = useTempDatabase();
let drop: string;
let running: PmSource[] = [];
beforeEach(async () => {
  drop = join(temp.dir, 'pm');
  await mkdir(drop);
});
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});

function sourceConfig(overrides: Partial<PmSourceConfig> = {}): PmSourceConfig {
  return {
    type: 'pm',
    path: drop,
    format: 'auto',
    pollMs: POLL_MS,
    processed: 'done',
    quarantine: 'quarantine',
    entities: [],
    counters: [],
    kpis: { succ_pct: '100 * succ / att' },
    ...overrides,
  };
}

function context(features = ['succ_pct', 'att']): SourceContext {
  return {
    pipeline: 'cells',
    entityColumns: ['site', 'cell'],
    fixedEntity: {},
    features,
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
}

async function watch(config = sourceConfig(), ctx = context(), ledger = new PmLedger(temp.db)) {
  const sink = new RecordingSink();
  const source = new PmSource(config, ctx, ledger);
  running.push(source);
  await source.start(sink);
  return { sink, source };
}

/** One hourly file for site S1 with cells 1 and 2: counters att and succ. */
function hourFile(hour: number, cells: Record<string, [att: string, succ: string]>, more: Partial<FixtureFile> = {}) {
  return pmXml({
    periods: [
      {
        endTime: hourEnd(T0, hour),
        infos: [
          {
            id: 'RRC',
            types: ['att', 'succ'],
            values: Object.entries(cells).map(([cell, values]) => ({ object: `NRCellDU=${cell}`, values })),
          },
        ],
      },
    ],
    ...more,
  });
}

const rows = (sink: RecordingSink) =>
  sink.received.map((s) => ({
    at: new Date(s.timestampMs).toISOString(),
    entity: s.entity.join('/'),
    values: Array.from(s.values),
    ...(s.suspect ? { suspect: true } : {}),
  }));
const list = async (sub = '') => (await readdir(join(drop, sub)).catch(() => [])).sort();

describe('PmSource', () => {
  it('turns a dropped file into a row per cell and period, KPIs from formulas, and moves it to done/', async () => {
    const { sink, source } = await watch();
    await writeFile(join(drop, hourFileName(T0, 0)), hourFile(0, { '1': ['200', '190'], '2': ['0', '0'] }));

    await waitFor('two rows', () => sink.received.length === 2);
    await waitFor('the move', async () => (await list('done')).length === 1);
    expect(rows(sink)).toEqual([
      { at: '2026-02-02T00:00:00.000Z', entity: 'S1/1', values: [95, 200] },
      // 0 attempts: the success rate is unknown, not 0 or 100.
      { at: '2026-02-02T00:00:00.000Z', entity: 'S1/2', values: [Number.NaN, 0] },
    ]);
    expect(source.fileCounts()).toEqual({ ingested: 1, failed: 0 });
    expect(sink.issues).toEqual([]);
  });

  it('gives the same rows from the r encoding and the older measTypes/measResults lists', async () => {
    const cells = { '1': ['200', '190'] as [string, string], '2': ['50', ''] as [string, string] };
    const first = await watch();
    await writeFile(join(drop, 'r.xml'), hourFile(3, cells));
    await waitFor('rows of r.xml', () => first.sink.received.length === 2);
    await first.source.stop();

    const second = await watch(sourceConfig(), context(), PmLedger.inMemory());
    await writeFile(join(drop, 'lists.xml'), hourFile(3, cells, { encoding: 'lists', root: 'measDataFile' }));
    await waitFor('rows of lists.xml', () => second.sink.received.length === 2);

    expect(rows(second.sink)).toEqual(rows(first.sink));
    expect(rows(first.sink)[1]).toEqual({ at: '2026-02-02T03:00:00.000Z', entity: 'S1/2', values: [NaN, 50] });
  });

  it('ingests a file delivered twice, under any name, once; other values for a block conflict', async () => {
    const { sink } = await watch();
    const text = hourFile(0, { '1': ['10', '9'] });
    await writeFile(join(drop, 'a.xml'), text);
    await waitFor('the first delivery', async () => (await list('done')).length === 1);
    await writeFile(join(drop, 'a.xml'), text);
    await writeFile(join(drop, 'copy-of-a.xml'), text);
    await waitFor('both redeliveries done', async () => (await list('done')).length === 3);

    await writeFile(join(drop, 'changed.xml'), hourFile(0, { '1': ['10', '8'] }));
    await waitFor('the conflict', () => sink.issues.length === 1);

    expect(rows(sink)).toEqual([{ at: '2026-02-02T00:00:00.000Z', entity: 'S1/1', values: [90, 10] }]);
    expect(sink.issues[0]).toMatchObject({ code: 'PM_CONFLICT' });
    expect(await list('quarantine')).toEqual([]);
  });

  it('marks a row suspect when a KPI comes from a suspect block; merges blocks of one cell and period', async () => {
    const { sink } = await watch();
    const file = pmXml({
      periods: [
        {
          endTime: hourEnd(T0, 0),
          infos: [
            { id: 'att', types: ['att'], values: [{ object: 'NRCellDU=1', values: ['100'] }] },
            {
              id: 'succ',
              types: ['succ'],
              values: [
                { object: 'NRCellDU=1', values: ['90'], suspect: true },
                { object: 'NRCellDU=2', values: ['5'], suspect: false },
              ],
            },
          ],
        },
      ],
    });
    await writeFile(join(drop, 'f.xml'), file);
    await waitFor('rows', () => sink.received.length === 1);

    // Cell 2 has succ but no att: neither KPI can be computed, so it gives no row.
    expect(rows(sink)).toEqual([{ at: '2026-02-02T00:00:00.000Z', entity: 'S1/1', values: [90, 100], suspect: true }]);
  });

  it('keeps two files for the same local hour on the day clocks go back apart, as two UTC periods', async () => {
    const { sink } = await watch();
    const at = (offset: string) =>
      pmXml({
        periods: [
          {
            endTime: `2026-10-25T03:00:00${offset}`,
            infos: [{ id: 'RRC', types: ['att', 'succ'], values: [{ object: 'NRCellDU=1', values: ['10', '10'] }] }],
          },
        ],
      });
    await writeFile(join(drop, 'summer.xml'), at('+02:00'));
    await writeFile(join(drop, 'winter.xml'), at('+0100'));
    await waitFor('both rows', () => sink.received.length === 2);

    expect(rows(sink).map((r) => r.at)).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
  });

  it('reads a gzip file whatever its name, and deletes processed files when configured', async () => {
    const { sink } = await watch(sourceConfig({ processed: 'delete' }));
    await writeFile(join(drop, 'A.bin'), gzipSync(hourFile(0, { '1': ['4', '2'] })));
    await waitFor('the row', () => sink.received.length === 1);
    await waitFor('the delete', async () => (await list()).length === 0);

    expect(rows(sink)).toEqual([{ at: '2026-02-02T00:00:00.000Z', entity: 'S1/1', values: [50, 4] }]);
  });

  it('quarantines each kind of unusable file with a coded reason file, and goes on with the next', async () => {
    const { sink, source } = await watch();
    const noValues = pmXml({ periods: [] });
    const unmapped = pmXml({
      periods: [
        { endTime: hourEnd(T0, 0), infos: [{ id: 'x', types: ['other'], values: [{ object: 'C=1', values: ['1'] }] }] },
      ],
    });
    const badPeriod = hourFile(0, { '1': ['1', '1'] }).replace('duration="PT3600S"', 'duration="soon"');
    const allNil = hourFile(0, { '1': ['NIL', ''] });
    const files: Record<string, string | Buffer> = {
      'cut.xml': hourFile(0, { '1': ['1', '1'] }).slice(0, 300),
      'schema.xml': '<?xml version="1.0"?><schema xmlns="http://www.w3.org/2001/XMLSchema"/>',
      'no-values.xml': noValues,
      'unmapped.xml': unmapped,
      'period.xml': badPeriod,
      'nil.xml': allNil,
      'notes.txt': 'hello',
      'broken.gz': gzipSync('<measCollecFile>').subarray(0, 12),
    };
    for (const [name, content] of Object.entries(files)) await writeFile(join(drop, name), content);
    await writeFile(join(drop, 'good.xml'), hourFile(1, { '1': ['10', '5'] }));

    await waitFor('all files taken', async () => (await list()).length === 2);
    const reasons: Record<string, string> = {};
    for (const name of Object.keys(files)) {
      reasons[name] = (await readFile(join(drop, 'quarantine', `${name}.reason.txt`), 'utf8')).split(':')[0]!;
    }
    expect(reasons).toEqual({
      'cut.xml': 'PM_MALFORMED',
      'schema.xml': 'PM_NOT_PM_DATA',
      'no-values.xml': 'PM_NO_VALUES',
      'unmapped.xml': 'PM_UNMAPPED',
      'period.xml': 'PM_PERIOD',
      'nil.xml': 'PM_NO_VALUES',
      'notes.txt': 'PM_NOT_PM_DATA',
      'broken.gz': 'PM_MALFORMED',
    });
    expect(rows(sink)).toEqual([{ at: '2026-02-02T01:00:00.000Z', entity: 'S1/1', values: [50, 10] }]);
    expect(source.fileCounts()).toEqual({ ingested: 1, failed: 8 });
    expect(sink.issues.map((i) => i.code).sort()).toEqual(Object.values(reasons).sort());
  });
});

describe('PmSource counters and values', () => {
  const cumulative = () =>
    sourceConfig({
      counters: [{ match: 'bytes*', kind: 'cumulative', widthBits: 32, array: 'skip' }],
      kpis: {},
    });
  const bytesFile = (hour: number, value: string) =>
    pmXml({
      periods: [
        {
          endTime: hourEnd(T0, hour),
          infos: [{ id: 'T', types: ['bytesDl', 'users'], values: [{ object: 'NRCellDU=1', values: [value, '7'] }] }],
        },
      ],
    });
  const features = ['bytesDl', 'users'];

  it('turns a cumulative counter into deltas: unknown first, wrap, reset, gap, across restarts', async () => {
    const ledger = new PmLedger(temp.db);
    const first = await watch(cumulative(), context(features), ledger);
    const readings = ['4294967000', '200', '700', '300'];
    for (const [hour, value] of readings.entries()) {
      await writeFile(join(drop, hourFileName(T0, hour)), bytesFile(hour, value));
      await waitFor(`hour ${hour}`, () => first.sink.received.length === hour + 1);
    }
    await first.source.stop();

    // A restart keeps the last reading: hour 4 continues from hour 3; hour 6 follows a missing hour 5.
    const second = await watch(cumulative(), context(features), ledger);
    await writeFile(join(drop, hourFileName(T0, 4)), bytesFile(4, '1300'));
    await waitFor('hour 4', () => second.sink.received.length === 1);
    await writeFile(join(drop, hourFileName(T0, 6)), bytesFile(6, '1500'));
    await waitFor('hour 6', () => second.sink.received.length === 2);

    const deltas = [...first.sink.received, ...second.sink.received].map((s) => [
      (s.timestampMs - T0) / HOUR_MS,
      s.values[0],
    ]);
    // first: unknown; 4294967000 → 200 wraps (496); +500; 700 → 300 is a reset (unknown); +1000; gap: unknown.
    expect(deltas).toEqual([
      [0, NaN],
      [1, 496],
      [2, 500],
      [3, NaN],
      [4, 1000],
      [6, NaN],
    ]);
  });

  it('quarantines a file whose cumulative counters feed no KPI, so it can be taken again once they do', async () => {
    const ledger = new PmLedger(temp.db);
    const wrong = await watch(cumulative(), context(['dl_mbps']), ledger);
    await writeFile(join(drop, 'h0.xml'), bytesFile(0, '500'));
    await waitFor('the quarantine', () => existsSync(join(drop, 'quarantine', 'h0.xml.reason.txt')));
    await wrong.source.stop();
    expect(await readFile(join(drop, 'quarantine', 'h0.xml.reason.txt'), 'utf8')).toMatch(/^PM_UNMAPPED: none of/);
    expect(wrong.sink.received).toEqual([]);

    // Nothing of it was recorded: with the features fixed, the same file gives its row.
    const fixed = await watch(cumulative(), context(features), ledger);
    await rename(join(drop, 'quarantine', 'h0.xml'), join(drop, 'h0.xml'));
    await waitFor('the row', () => fixed.sink.received.length === 1);
    expect(fixed.sink.received[0]?.values).toEqual(Float64Array.from([NaN, 7]));
  });

  it('keeps a 64-bit counter above 2^53 exact through the buffer', async () => {
    const ledger = new PmLedger(temp.db);
    const config = sourceConfig({
      counters: [{ match: 'bytes*', kind: 'cumulative', widthBits: 64, array: 'skip' }],
      kpis: {},
    });
    const { sink } = await watch(config, context(features), ledger);
    await writeFile(join(drop, '0.xml'), bytesFile(0, '18446744073709551000'));
    await waitFor('hour 0', () => sink.received.length === 1);
    await writeFile(join(drop, '1.xml'), bytesFile(1, '18446744073709551615'));
    await waitFor('hour 1', () => sink.received.length === 2);

    expect(sink.received[1]?.values[0]).toBe(615);
    expect(ledger.lastReading('cells', 'S1/1', 'bytesDl')?.value).toBe(18446744073709551615n);
  });

  it('never takes the first number of an array value: skips it, or sums it or takes a bin by rule', async () => {
    const arrays = (config: PmSourceConfig) => watch(config, context(['dist']), PmLedger.inMemory());
    const file = pmXml({
      periods: [
        {
          endTime: hourEnd(T0, 0),
          infos: [{ id: 'D', types: ['dist', 'other'], values: [{ object: 'NRCellDU=1', values: ['5,6,7', '1'] }] }],
        },
      ],
    });

    const skipped = await arrays(sourceConfig({ kpis: {} }));
    await writeFile(join(drop, 'a.xml'), file);
    await waitFor('quarantine', async () => (await list('quarantine')).length === 2);
    expect(skipped.sink.issues.map((i) => i.code)).toEqual(['PM_UNMAPPED']);
    expect(await readFile(join(drop, 'quarantine', 'a.xml.reason.txt'), 'utf8')).toContain(
      '1 array (PDF/bin) values were left out',
    );
    await skipped.source.stop();

    const summed = await arrays(sourceConfig({ kpis: {}, counters: [{ match: 'dist', kind: 'gauge', array: 'sum' }] }));
    await writeFile(join(drop, 'b.xml'), file);
    await waitFor('the sum', () => summed.sink.received.length === 1);
    expect(summed.sink.received[0]?.values[0]).toBe(18);
    await summed.source.stop();

    const bin = await arrays(
      sourceConfig({ kpis: {}, counters: [{ match: 'dist', kind: 'gauge', array: 'bin', bin: 2 }] }),
    );
    await writeFile(join(drop, 'c.xml'), file);
    await waitFor('the bin', () => bin.sink.received.length === 1);
    expect(bin.sink.received[0]?.values[0]).toBe(7);
  });
});
