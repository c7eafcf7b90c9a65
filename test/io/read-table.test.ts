import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTable, type TableEvent } from '../../src/io/read-table.js';
import { DEFAULT_KPIS } from '../../src/kpis.js';
import { scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(async () => cleanup());

async function collect(events: AsyncIterable<TableEvent>): Promise<TableEvent[]> {
  const out: TableEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('openTable (CSV)', () => {
  it('maps KPI columns by header name, not position, and reads empty cells as missing', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, 'cpu,site,timestamp,rx\n12.5,S1,2026-01-01T00:00:00Z,\n13,S1,2026-01-01T01:00:00Z,-90\n');
    const table = await openTable(path, { features: ['rx', 'cpu'] });
    expect(table.schema).toEqual({ timestampColumn: 'timestamp', entityColumns: ['site'], features: ['rx', 'cpu'] });
    const rows = (await collect(table.events)).flatMap((e) => (e.kind === 'row' ? [e.row] : []));
    expect(rows.map((r) => [r.line, r.entity, Array.from(r.values)])).toEqual([
      [2, ['S1'], [Number.NaN, 12.5]],
      [3, ['S1'], [-90, 13]],
    ]);
  });

  it('rejects a row with the wrong number of fields by its line number and keeps the rows after it', async () => {
    const path = join(dir, 'bad.csv');
    await writeFile(
      path,
      'timestamp,site,a,b\n2026-01-01T00:00:00Z,S1,1,2\n2026-01-01T01:00:00Z,S1,3\n2026-01-01T02:00:00Z,S1,5,6\n',
    );
    const events = await collect((await openTable(path)).events);
    expect(events[1]).toEqual({
      kind: 'issue',
      issue: { code: 'INPUT_FIELD_COUNT', line: 3, message: 'expected 4 fields, found 3', rowDropped: true },
    });
    const rows = events.flatMap((e) => (e.kind === 'row' ? [Array.from(e.row.values)] : []));
    expect(rows).toEqual([
      [1, 2],
      [5, 6],
    ]);
  });

  it('treats a non-numeric cell as missing and reports it, keeping the other values of the row', async () => {
    const path = join(dir, 'text.csv');
    await writeFile(path, 'timestamp,a,b\n2026-01-01T00:00:00Z,oops,2\n');
    const events = await collect((await openTable(path)).events);
    expect(events[0]).toMatchObject({ kind: 'issue', issue: { code: 'INPUT_VALUE', line: 2, rowDropped: false } });
    expect(events[1]).toMatchObject({ kind: 'row' });
    expect(Array.from((events[1] as Extract<TableEvent, { kind: 'row' }>).row.values)).toEqual([Number.NaN, 2]);
  });

  it('drops a row whose timestamp is not ISO 8601', async () => {
    const path = join(dir, 'ts.csv');
    await writeFile(path, 'timestamp,a\nnot-a-time,1\n2026-01-01T00:00:00,2\n');
    const events = await collect((await openTable(path)).events);
    expect(events.map((e) => e.kind)).toEqual(['issue', 'row']);
    expect(events[0]).toMatchObject({ issue: { code: 'INPUT_TIMESTAMP', line: 2 } });
  });

  it('uses the default KPI set in its order when every default KPI is present', async () => {
    const path = join(dir, 'default.csv.gz');
    const header = ['timestamp', 'site', 'sector', ...[...DEFAULT_KPIS].reverse(), 'label'];
    await writeFile(path, gzipSync(`${header.join(',')}\n`));
    const table = await openTable(path);
    expect(table.schema.features).toEqual([...DEFAULT_KPIS]);
    expect(table.schema.entityColumns).toEqual(['site', 'sector']);
  });

  it('fails with INPUT_COLUMNS when a named feature is absent', async () => {
    const path = join(dir, 'cols.csv');
    await writeFile(path, 'timestamp,a\n');
    await expect(openTable(path, { features: ['a', 'zz'] })).rejects.toMatchObject({ code: 'INPUT_COLUMNS' });
  });

  it('fails with INPUT_NOT_FOUND and INPUT_FORMAT before reading', async () => {
    await expect(openTable(join(dir, 'none.csv'))).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    await expect(openTable(join(dir, 'x.parquet'))).rejects.toMatchObject({ code: 'INPUT_FORMAT' });
  });
});

describe('openTable (JSONL)', () => {
  it('reads objects by key and reports a line that is not an object', async () => {
    const path = join(dir, 'kpis.jsonl');
    const lines = [
      { timestamp: '2026-01-01T00:00:00Z', cell: 'C1', a: 1, b: null },
      '[1,2]',
      { timestamp: '2026-01-01T01:00:00+01:00', cell: 'C1', a: '2.5', b: 4 },
    ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
    await writeFile(path, `${lines.join('\n')}\n`);
    const table = await openTable(path);
    expect(table.schema).toEqual({ timestampColumn: 'timestamp', entityColumns: ['cell'], features: ['a', 'b'] });
    const events = await collect(table.events);
    expect(events.map((e) => e.kind)).toEqual(['row', 'issue', 'row']);
    expect(events[1]).toMatchObject({ issue: { code: 'INPUT_JSON', line: 2 } });
    const last = events[2] as Extract<TableEvent, { kind: 'row' }>;
    expect(last.row.timestampMs).toBe(Date.UTC(2026, 0, 1, 0));
    expect(Array.from(last.row.values)).toEqual([2.5, 4]);
  });
});

describe('openTable on damaged files', () => {
  it('reads a stray quote as text (a missing value with an issue) and keeps the rows after it', async () => {
    const path = join(dir, 'quote.csv');
    await writeFile(path, 'timestamp,a\n2026-01-01T00:00:00Z,1\n2026-01-01T01:00:00Z,"2"x\n2026-01-01T02:00:00Z,3\n');
    const events = await collect((await openTable(path)).events);
    expect(events.map((e) => e.kind)).toEqual(['row', 'issue', 'row', 'row']);
    expect(events[1]).toMatchObject({ issue: { code: 'INPUT_VALUE', line: 3, rowDropped: false } });
  });

  it('reports an unclosed quote, then stops with INPUT_FORMAT: the rest of the file cannot be parsed', async () => {
    const path = join(dir, 'open-quote.csv');
    await writeFile(path, 'timestamp,a\n2026-01-01T00:00:00Z,1\n2026-01-01T01:00:00Z,"2\n2026-01-01T02:00:00Z,3\n');
    const seen: TableEvent[] = [];
    const table = await openTable(path);
    const reading = (async () => {
      for await (const e of table.events) seen.push(e);
    })();
    await expect(reading).rejects.toMatchObject({ code: 'INPUT_FORMAT' });
    expect(seen.map((e) => e.kind)).toEqual(['row', 'issue']);
    expect((seen[1] as Extract<TableEvent, { kind: 'issue' }>).issue.message).toMatch(/Quote Not Closed/);
  });

  it('refuses duplicate column names instead of reading the wrong column', async () => {
    const path = join(dir, 'dup.csv');
    await writeFile(path, 'timestamp,a,a\n');
    await expect(openTable(path)).rejects.toMatchObject({ code: 'INPUT_COLUMNS' });
  });

  it('turns a truncated gzip file into INPUT_FORMAT, not a crash', async () => {
    const path = join(dir, 'cut.csv.gz');
    const body = gzipSync(`timestamp,a\n${'2026-01-01T00:00:00Z,1\n'.repeat(2000)}`);
    await writeFile(path, body.subarray(0, body.length - 40));
    const table = await openTable(path);
    await expect(collect(table.events)).rejects.toMatchObject({ code: 'INPUT_FORMAT' });
  });

  it('refuses a folder named as a table file with INPUT_NOT_FOUND; another folder is read as PM files', async () => {
    const folder = join(dir, 'pm-drop');
    await (await import('node:fs/promises')).mkdir(folder);
    await writeFile(join(folder, 'rows.csv'), 'timestamp,a\n2026-01-01T00:00:00Z,1\n');
    const events = await collect((await openTable(folder)).events);
    expect(events.map((e) => (e.kind === 'issue' ? e.issue.code : e.kind))).toEqual(['PM_NOT_PM_DATA']);
    const tableFolder = join(dir, 'folder.csv');
    await (await import('node:fs/promises')).mkdir(tableFolder);
    await expect(openTable(tableFolder)).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
  });

  it('treats hexadecimal and out-of-range readings as missing, with an issue', async () => {
    const path = join(dir, 'range.csv');
    await writeFile(path, 'timestamp,a,b,c\n2026-01-01T00:00:00Z,0x1A,1e20,-3.5e2\n');
    const events = await collect((await openTable(path)).events);
    expect(events.filter((e) => e.kind === 'issue')).toHaveLength(2);
    const row = events.find((e) => e.kind === 'row') as Extract<TableEvent, { kind: 'row' }>;
    expect(Array.from(row.row.values)).toEqual([Number.NaN, Number.NaN, -350]);
  });

  it('JSONL: a KPI absent from the first object is still read when the caller names it; a BOM is dropped', async () => {
    const path = join(dir, 'sparse.jsonl');
    const lines = [
      '\uFEFF{"timestamp":"2026-01-01T00:00:00Z","a":1}',
      '{"timestamp":"2026-01-01T01:00:00Z","a":2,"b":3}',
    ];
    await writeFile(path, `${lines.join('\n')}\n`);
    const table = await openTable(path, { features: ['a', 'b'] });
    const rows = (await collect(table.events)).flatMap((e) => (e.kind === 'row' ? [Array.from(e.row.values)] : []));
    expect(rows).toEqual([
      [1, Number.NaN],
      [2, 3],
    ]);
  });
});
