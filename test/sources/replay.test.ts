import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSourceConfig } from '../../src/config/schema.js';
import { FileSource } from '../../src/sources/file.js';
import type { SourceContext } from '../../src/sources/source.js';
import { scratchDir } from '../helpers.js';
import { context, plain, RecordingSink, waitFor } from './recording-sink.js';

let dir: string;
let cleanup: () => Promise<void>;
let running: FileSource | undefined;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await cleanup();
});

function replayConfig(path: string, speed = 0): FileSourceConfig {
  return { type: 'file', path, mode: 'replay', speed, timestampColumn: 'timestamp', fromEnd: false, pollMs: 1_000 };
}

async function replayFile(path: string, ctx: SourceContext, speed = 0): Promise<RecordingSink> {
  const sink = new RecordingSink();
  running = new FileSource(replayConfig(path, speed), ctx);
  await running.start(sink);
  await waitFor('the end of the replay', () => sink.ended);
  return sink;
}

/** `n` rows of one site, an hour apart from 2026-03-01T00:00Z, with a = i and b = 10 i. */
function hourlyCsv(n: number): string {
  const rows = Array.from({ length: n }, (_, i) => `2026-03-01T${String(i).padStart(2, '0')}:00:00Z,S1,${i},${10 * i}`);
  return ['timestamp,site,a,b', ...rows, ''].join('\n');
}

describe('FileSource replay at speed 0', () => {
  it('hands over every row in order, features in pipeline order, entity from the file, NaN for missing', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(
      path,
      [
        'b,timestamp,sector,site,a',
        '2,2026-03-01T00:00:00Z,1,S1,1',
        ',2026-03-01T00:00:00Z,2,S1,3',
        '6,2026-03-01T01:00:00Z,1,S1,NaN',
        '',
      ].join('\n'),
    );
    const sink = await replayFile(path, context({ entityColumns: ['site', 'sector'], features: ['a', 'b'] }));

    expect(sink.received.map(plain)).toEqual([
      { t: '2026-03-01T00:00:00.000Z', entity: ['S1', '1'], values: [1, 2] },
      { t: '2026-03-01T00:00:00.000Z', entity: ['S1', '2'], values: [3, Number.NaN] },
      { t: '2026-03-01T01:00:00.000Z', entity: ['S1', '1'], values: [Number.NaN, 6] },
    ]);
    expect(sink.issues).toEqual([]);
  });

  it('fills entity columns the file lacks from the fixed values, and the file wins where it has one', async () => {
    const path = join(dir, 'kpis.jsonl.gz');
    const lines = [
      { timestamp: '2026-03-01T00:00:00Z', site: 'S7', a: 1, b: 2 },
      { timestamp: '2026-03-01T01:00:00Z', a: 3, b: null },
    ];
    await writeFile(path, gzipSync(lines.map((l) => JSON.stringify(l)).join('\n')));
    const ctx = context({ entityColumns: ['site', 'sector'], fixedEntity: { site: 'S0', sector: '3' } });
    const sink = await replayFile(path, ctx);

    expect(sink.received.map(plain)).toEqual([
      { t: '2026-03-01T00:00:00.000Z', entity: ['S7', '3'], values: [1, 2] },
      { t: '2026-03-01T01:00:00.000Z', entity: ['S0', '3'], values: [3, Number.NaN] },
    ]);
  });

  it('refuses to start when an entity column is neither in the file nor fixed, naming the column', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, hourlyCsv(2));
    const source = new FileSource(replayConfig(path), context({ entityColumns: ['site', 'cell'] }));
    await expect(source.start(new RecordingSink())).rejects.toMatchObject({
      code: 'CONFIG_PIPELINE',
      message: expect.stringContaining('cell') as unknown,
    });
  });

  it('refuses to start on a file without a pipeline feature', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, hourlyCsv(2));
    const source = new FileSource(replayConfig(path), context({ features: ['a', 'rsrp_dbm'] }));
    await expect(source.start(new RecordingSink())).rejects.toMatchObject({ code: 'INPUT_COLUMNS' });
  });

  it('skips rows at or before the resume point', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, hourlyCsv(5));
    const sink = await replayFile(path, context({ resumeAfterMs: Date.parse('2026-03-01T02:00:00Z') }));
    expect(sink.received.map((s) => s.values[0])).toEqual([3, 4]);
  });

  it('reports bad rows with their line and file and goes on', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(
      path,
      [
        'timestamp,site,a,b',
        '2026-03-01T00:00:00Z,S1,1,2',
        'yesterday,S1,1,2',
        '2026-03-01T01:00:00Z,S1,x,4',
        '2026-03-01T02:00:00Z,S1,5',
        '2026-03-01T03:00:00Z,,5,6',
        '2026-03-01T04:00:00Z,S1,7,8',
        '',
      ].join('\n'),
    );
    const sink = await replayFile(path, context());

    expect(sink.received.map((s) => s.values[0])).toEqual([1, Number.NaN, 7]);
    expect(sink.issues.map((i) => [i.code, i.line, i.file])).toEqual([
      ['INPUT_TIMESTAMP', 3, path],
      ['INPUT_VALUE', 4, path],
      ['INPUT_FIELD_COUNT', 5, path],
      ['INPUT_COLUMNS', 6, path],
    ]);
  });
});

describe('FileSource replay pacing', () => {
  it('paces rows by their timestamps divided by the speed', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, hourlyCsv(10));
    const startedMs = Date.now();
    const sink = await replayFile(path, context(), 36_000);

    // Nine gaps of an hour at 36000x are 900 ms; only the lower bound is safe to assert on a busy box.
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(850);
    expect(sink.received.map((s) => s.values[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('hands rows that share a timestamp over in one batch', async () => {
    const path = join(dir, 'kpis.csv');
    const rows = ['S1', 'S2', 'S3'].flatMap((site) => [`2026-03-01T00:00:00Z,${site},1,1`]);
    const later = ['S1', 'S2', 'S3'].flatMap((site) => [`2026-03-01T00:01:00Z,${site},2,2`]);
    await writeFile(path, ['timestamp,site,a,b', ...rows, ...later, ''].join('\n'));
    const sink = await replayFile(path, context(), 3_600);

    expect(sink.batches.map((b) => b.map((s) => s.entity[0]))).toEqual([
      ['S1', 'S2', 'S3'],
      ['S1', 'S2', 'S3'],
    ]);
  });

  it('stop() during a wait of a day returns at once, without ending the replay', async () => {
    const path = join(dir, 'kpis.csv');
    await writeFile(path, 'timestamp,site,a,b\n2026-03-01T00:00:00Z,S1,1,1\n2026-03-02T00:00:00Z,S1,2,2\n');
    const sink = new RecordingSink();
    const source = new FileSource(replayConfig(path, 1), context());
    running = source;
    await source.start(sink);
    await waitFor('the first row', () => sink.received.length === 1);

    const stopped = await Promise.race([
      source.stop().then(() => true),
      new Promise((r) => setTimeout(r, 10_000, false)),
    ]);
    expect(stopped).toBe(true);
    expect(sink.received.length).toBe(1);
    expect(sink.ended).toBe(false);
  });
});
