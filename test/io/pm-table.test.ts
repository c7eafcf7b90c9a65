import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPmInput, openPmTable } from '../../src/io/pm-table.js';
import { openTable, type TableEvent } from '../../src/io/read-table.js';
import type { KpiRow, RowIssue } from '../../src/io/table.js';
import { scratchDir } from '../helpers.js';
import { hourEnd, hourFileName, pmXml } from '../telecom/pm-fixture.js';

const START_MS = Date.UTC(2026, 2, 1);
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => ({ dir, cleanup } = await scratchDir()));
afterAll(() => cleanup());

/** Hour `hour` of element S1: cells 1 and 2 with measurements a and b; cell 2 suspect when asked. */
function hourFile(hour: number, suspectCell2 = false): string {
  return pmXml({
    periods: [
      {
        endTime: hourEnd(START_MS, hour),
        infos: [
          {
            types: ['a', 'b'],
            values: [
              { object: 'NRCellDU=1', values: [String(hour), String(10 + hour)] },
              { object: 'NRCellDU=2', values: [String(100 + hour), ''], suspect: suspectCell2 },
            ],
          },
        ],
      },
    ],
  });
}

async function collect(events: AsyncIterable<TableEvent>): Promise<{ rows: KpiRow[]; issues: RowIssue[] }> {
  const rows: KpiRow[] = [];
  const issues: RowIssue[] = [];
  for await (const event of events) {
    if (event.kind === 'row') rows.push(event.row);
    else issues.push(event.issue);
  }
  return { rows, issues };
}

describe('a folder of PM files as a table', () => {
  it('gives rows in time order, each block once, suspect rows and broken files reported with their codes', async () => {
    const folder = join(dir, 'drop');
    await mkdir(folder);
    // Hour 1 comes first by name but holds the later period; hour 0 is also delivered again under another name.
    await writeFile(join(folder, 'A1.xml'), hourFile(1, true));
    await writeFile(join(folder, 'B0.xml'), hourFile(0));
    await copyFile(join(folder, 'B0.xml'), join(folder, 'C0-again.xml'));
    await writeFile(join(folder, 'D-broken.xml'), '<measCollecFile><measData>');
    await writeFile(join(folder, '.hidden.xml'), 'not read');

    const table = await openTable(folder, { features: ['a', 'b'] });
    expect(table.schema).toEqual({
      timestampColumn: 'timestamp',
      entityColumns: ['site', 'cell'],
      features: ['a', 'b'],
    });
    const { rows, issues } = await collect(table.events);

    const view = rows.map((r) => [new Date(r.timestampMs).toISOString(), r.entity.join('/'), [...r.values]]);
    expect(view).toEqual([
      ['2026-03-01T00:00:00.000Z', 'S1/1', [0, 10]],
      ['2026-03-01T00:00:00.000Z', 'S1/2', [100, NaN]],
      ['2026-03-01T01:00:00.000Z', 'S1/1', [1, 11]],
    ]);
    expect(rows.map((r) => r.line)).toEqual([2, 2, 1]);
    expect(issues.map((i) => [i.line, i.code])).toEqual([
      [1, 'PM_VALUE'],
      [4, 'PM_MALFORMED'],
    ]);
    expect(issues[0]?.message).toBe('A1.xml: 1 suspect rows left out');
    expect(issues[1]?.message).toMatch(/^D-broken\.xml: /);
  });

  it('reads one PM file given by name, and a VES perf3gpp event by its content', async () => {
    const file = join(dir, hourFileName(START_MS, 3));
    await writeFile(file, hourFile(3));
    const xml = await collect((await openPmTable(file, { features: ['a', 'b'] })).events);
    // Cell 2 has an empty b and a value for a; cell 1 has both.
    expect(xml.rows.map((r) => [r.entity.join('/'), [...r.values]])).toEqual([
      ['S1/1', [3, 13]],
      ['S1/2', [103, NaN]],
    ]);

    const ves = join(dir, 'event.json');
    const beginUs = (START_MS + 4 * 3_600_000) * 1000;
    const event = {
      event: {
        commonEventHeader: {
          domain: 'perf3gpp',
          eventId: 'e-1',
          eventName: 'perf3gpp_gnb',
          sourceName: 'S1',
          startEpochMicrosec: beginUs,
          lastEpochMicrosec: beginUs + 3_600_000_000,
        },
        perf3gppFields: {
          perf3gppFieldsVersion: '1.0',
          measDataCollection: {
            granularityPeriod: 3600,
            measuredEntityDn: 'ManagedElement=S1',
            measInfoList: [
              {
                measTypes: { sMeasTypesList: ['a', 'b'] },
                measValuesList: [
                  {
                    measObjInstId: 'NRCellDU=1',
                    measResults: [
                      { p: 1, iValue: 4 },
                      { p: 2, iValue: 14 },
                    ],
                  },
                ],
              },
            ],
          },
        },
      },
    };
    await writeFile(ves, JSON.stringify(event));
    const json = await collect((await openPmTable(ves, { features: ['a', 'b'] })).events);
    expect(json.issues).toEqual([]);
    expect(json.rows.map((r) => [r.timestampMs, r.entity.join('/'), [...r.values]])).toEqual([
      [START_MS + 4 * 3_600_000, 'S1/1', [4, 14]],
    ]);
  });

  it('tells PM input from table files, and refuses a missing or empty folder with codes', async () => {
    await mkdir(join(dir, 'folder.csv'));
    await mkdir(join(dir, 'empty'));
    expect(await isPmInput(join(dir, 'folder.csv'))).toBe(false);
    expect(await isPmInput(join(dir, 'empty'))).toBe(true);
    expect(await isPmInput(join(dir, 'x.xml.gz'))).toBe(true);
    expect(await isPmInput(join(dir, 'rows.jsonl'))).toBe(false);
    await expect(openTable(join(dir, 'empty'))).rejects.toMatchObject({ code: 'INPUT_EMPTY' });
    await expect(openPmTable(join(dir, 'none'), {})).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    await expect(openPmTable(join(dir, 'empty'), { features: [] })).rejects.toMatchObject({ code: 'INPUT_COLUMNS' });
  });
});
