import { mkdir, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSourceConfig } from '../../src/config/schema.js';
import { CellwatchError } from '../../src/errors.js';
import { FileSource, type FileSourceOptions } from '../../src/sources/file.js';
import { scratchDir } from '../helpers.js';
import { context, RecordingSink, sleep, waitFor } from './recording-sink.js';

const POLL_MS = 50;

let drop: string;
let cleanup: () => Promise<void>;
let running: FileSource | undefined;
beforeEach(async () => {
  const scratch = await scratchDir();
  cleanup = scratch.cleanup;
  drop = join(scratch.dir, 'drop');
  await mkdir(drop);
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await cleanup();
});

const config: () => FileSourceConfig = () => ({
  type: 'file',
  path: drop,
  mode: 'directory',
  speed: 1,
  timestampColumn: 'timestamp',
  fromEnd: false,
  pollMs: POLL_MS,
});

async function watch(options: FileSourceOptions = {}): Promise<RecordingSink> {
  const sink = new RecordingSink();
  running = new FileSource(config(), context(), options);
  await running.start(sink);
  return sink;
}

const csv = (site: string, a: number) => `timestamp,site,a,b\n2026-03-01T00:00:00Z,${site},${a},0\n`;
const list = async (sub = '') => (await readdir(join(drop, sub))).sort();

describe('FileSource directory', () => {
  it('leaves a file alone while it has a temporary name, then takes it and moves it to done/', async () => {
    const sink = await watch();
    await writeFile(join(drop, 'kpis.csv.tmp'), csv('S1', 1));
    await sleep(5 * POLL_MS);
    expect(sink.received).toEqual([]);

    await rename(join(drop, 'kpis.csv.tmp'), join(drop, 'kpis.csv'));
    await waitFor('the file in done/', () => sink.received.length === 1);
    await waitFor('the move', async () => (await list()).length === 1);

    expect(sink.received[0]?.entity).toEqual(['S1']);
    expect(await list()).toEqual(['done']);
    expect(await list('done')).toEqual(['kpis.csv']);
  });

  it('moves a file it cannot read to failed/ with the reason, and goes on with the next', async () => {
    const sink = await watch();
    await writeFile(join(drop, 'garbage.csv'), '\u0000\u0001 binary junk, no header');
    await waitFor('an issue', () => sink.issues.length === 1);
    await writeFile(join(drop, 'good.csv'), csv('S2', 2));
    await waitFor('the good file', () => sink.received.length === 1);

    expect(sink.issues[0]).toMatchObject({ code: 'INPUT_COLUMNS', file: join(drop, 'garbage.csv') });
    expect(await list('failed')).toEqual(['garbage.csv', 'garbage.csv.reason.txt']);
    const reason = await readFile(join(drop, 'failed', 'garbage.csv.reason.txt'), 'utf8');
    expect(reason).toMatch(/^INPUT_COLUMNS: timestamp column "timestamp" not in /);
    expect(await list('done')).toEqual(['good.csv']);
  });

  it('reports bad rows of a file with their line numbers and still moves it to done/', async () => {
    const sink = await watch();
    const file = join(drop, 'rows.csv');
    await writeFile(
      file,
      'timestamp,site,a,b\n2026-03-01T00:00:00Z,S1,1,0\nnot-a-time,S1,2,0\n2026-03-01T01:00:00Z,S1,3\n',
    );
    await waitFor('the move to done/', () => sink.issues.length === 2);
    await waitFor('the move', async () => (await list('done').catch(() => [])).length === 1);

    expect(sink.received.length).toBe(1);
    expect(sink.issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['INPUT_TIMESTAMP', file, 3],
      ['INPUT_FIELD_COUNT', file, 4],
    ]);
  });

  it('takes files oldest first, and keeps both when a name is used twice', async () => {
    await writeFile(join(drop, 'b.csv'), csv('OLD', 1));
    await writeFile(join(drop, 'a.csv'), csv('NEW', 2));
    await utimes(join(drop, 'b.csv'), new Date('2026-01-01'), new Date('2026-01-01'));
    await mkdir(join(drop, 'done'));
    await writeFile(join(drop, 'done', 'a.csv'), 'taken yesterday');
    const sink = await watch();

    await waitFor('both files', () => sink.received.length === 2);
    await waitFor('both moved', async () => (await list('done')).length === 3);
    expect(sink.received.map((s) => s.entity[0])).toEqual(['OLD', 'NEW']);
    expect(await list('done')).toEqual(['a.csv', 'a~1.csv', 'b.csv']);
  });

  it('takes any file format through a parser plugged in', async () => {
    const parse = (path: string) => {
      if (!path.endsWith('.xml')) return Promise.reject(new CellwatchError('INPUT_FORMAT', 'not PM XML'));
      async function* events() {
        const text = await readFile(path, 'utf8');
        yield {
          kind: 'sample' as const,
          sample: { timestampMs: 0, entity: [text.trim()], values: new Float64Array([1, 2]) },
        };
      }
      return Promise.resolve({ events: events() });
    };
    const sink = await watch({ parse });
    await writeFile(join(drop, 'A1.xml'), 'S5\n');
    await writeFile(join(drop, 'notes.csv'), csv('S1', 1));
    await waitFor('the sample and the refusal', () => sink.received.length === 1 && sink.issues.length === 1);

    expect(sink.received[0]?.entity).toEqual(['S5']);
    expect(sink.issues[0]).toMatchObject({ code: 'INPUT_FORMAT', file: join(drop, 'notes.csv') });
  });

  it('waits for a drop directory that does not exist yet', async () => {
    const sink = new RecordingSink();
    const missing = join(drop, 'later');
    running = new FileSource({ ...config(), path: missing }, context());
    await running.start(sink);
    await sleep(4 * POLL_MS);
    await mkdir(missing);
    await writeFile(join(missing, 'k.csv'), csv('S3', 3));
    await waitFor('the file', () => sink.received.length === 1);

    expect(sink.issues.map((i) => i.code)).toEqual(['SOURCE_READ']);
  });
});
