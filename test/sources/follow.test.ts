import { appendFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSourceConfig } from '../../src/config/schema.js';
import { FileSource } from '../../src/sources/file.js';
import type { SourceContext } from '../../src/sources/source.js';
import { scratchDir } from '../helpers.js';
import { context, RecordingSink, sleep, waitFor } from './recording-sink.js';

const POLL_MS = 50;

let dir: string;
let path: string;
let cleanup: () => Promise<void>;
let running: FileSource | undefined;
beforeEach(async () => {
  ({ dir, cleanup } = await scratchDir());
  path = join(dir, 'live.csv');
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await cleanup();
});

function followConfig(file: string, fromEnd = false): FileSourceConfig {
  return { type: 'file', path: file, mode: 'follow', speed: 1, timestampColumn: 'timestamp', fromEnd, pollMs: POLL_MS };
}

async function follow(ctx: SourceContext = context(), fromEnd = false, file = path): Promise<RecordingSink> {
  const sink = new RecordingSink();
  running = new FileSource(followConfig(file, fromEnd), ctx);
  await running.start(sink);
  return sink;
}

/** A CSV row of site S1 at hour `hour` of 2026-03-01 with a = `a`. */
const row = (hour: number, a: number) => `2026-03-01T${String(hour).padStart(2, '0')}:00:00Z,S1,${a},0\n`;
const HEADER = 'timestamp,site,a,b\n';
const aValues = (sink: RecordingSink) => sink.received.map((s) => s.values[0]);

describe('FileSource follow', () => {
  it('reads the file, then lines as they are appended, waiting for a line written in two parts', async () => {
    await writeFile(path, HEADER + row(0, 1));
    const sink = await follow();
    await waitFor('the first row', () => sink.received.length === 1);

    await appendFile(path, row(1, 2));
    await waitFor('the appended row', () => sink.received.length === 2);
    await appendFile(path, '2026-03-01T02:00:00Z,S1,3');
    await sleep(4 * POLL_MS);
    expect(sink.received.length).toBe(2);
    await appendFile(path, '5,0\n');
    await waitFor('the completed row', () => sink.received.length === 3);

    expect(aValues(sink)).toEqual([1, 2, 35]);
    expect(sink.issues).toEqual([]);
  });

  it('starts over, header first, when the file is truncated', async () => {
    await writeFile(path, HEADER + row(0, 1) + row(1, 2));
    const sink = await follow();
    await waitFor('two rows', () => sink.received.length === 2);

    await truncate(path, 0);
    await sleep(3 * POLL_MS);
    await appendFile(path, 'timestamp,b,site,a\n2026-03-01T05:00:00Z,9,S1,7\n');
    await waitFor('the row after the truncation', () => sink.received.length === 3);

    expect(sink.received[2]?.values).toEqual(new Float64Array([7, 9]));
  });

  it('reads the rest of a rotated file, then the new file from its beginning', async () => {
    await writeFile(path, HEADER + row(0, 1));
    const sink = await follow();
    await waitFor('the first row', () => sink.received.length === 1);

    await rename(path, `${path}.1`);
    await appendFile(`${path}.1`, row(1, 2));
    await writeFile(path, HEADER + row(2, 3));
    await waitFor('the rows of both files', () => sink.received.length === 3);
    await appendFile(path, row(3, 4));
    await waitFor('a row appended to the new file', () => sink.received.length === 4);

    expect(aValues(sink)).toEqual([1, 2, 3, 4]);
  });

  it('waits for a file that does not exist yet, saying so once', async () => {
    const sink = await follow();
    await sleep(5 * POLL_MS);
    await writeFile(path, HEADER + row(0, 1));
    await waitFor('the row of the new file', () => sink.received.length === 1);

    expect(sink.issues).toEqual([
      { code: 'SOURCE_READ', message: `${path} is missing; waiting for it to appear`, file: path },
    ]);
  });

  it('from the end: skips what is there, reads the header and what comes, with true line numbers', async () => {
    await writeFile(path, HEADER + row(0, 1) + row(1, 2));
    const sink = await follow(context(), true);
    await sleep(3 * POLL_MS);
    await appendFile(path, row(2, 3) + '2026-03-01T03:00:00Z,S1,oops,0\n');
    await waitFor('the appended rows', () => sink.received.length === 2);

    expect(aValues(sink)).toEqual([3, Number.NaN]);
    expect(sink.issues.map((i) => [i.code, i.line])).toEqual([['INPUT_VALUE', 5]]);
  });

  it('after a restart, skips rows at or before the resume point even when asked to start from the end', async () => {
    await writeFile(path, HEADER + row(0, 1) + row(1, 2) + row(2, 3));
    const sink = await follow(context({ resumeAfterMs: Date.parse('2026-03-01T00:00:00Z') }), true);
    await waitFor('the rows after the resume point', () => sink.received.length === 2);
    expect(aValues(sink)).toEqual([2, 3]);
  });

  it('follows JSONL, reading an entity column the pipeline fixes from lines that carry it', async () => {
    const jsonl = join(dir, 'live.jsonl');
    await writeFile(jsonl, '{"timestamp":"2026-03-01T00:00:00Z","a":1,"b":2}\n');
    const sink = await follow(context({ fixedEntity: { site: 'S0' } }), false, jsonl);
    await appendFile(jsonl, '{"timestamp":"2026-03-01T01:00:00Z","site":"S9","a":3}\nnot json\n');
    await waitFor('two rows', () => sink.received.length === 2);

    expect(sink.received.map((s) => [s.entity, Array.from(s.values)])).toEqual([
      [['S0'], [1, 2]],
      [['S9'], [3, Number.NaN]],
    ]);
    await waitFor('the issue', () => sink.issues.length === 1);
    expect(sink.issues).toEqual([{ code: 'INPUT_JSON', message: 'not a JSON object', file: jsonl, line: 3 }]);
  });

  it('refuses to start on a header that lacks an entity column the pipeline does not fix', async () => {
    await writeFile(path, 'timestamp,a,b\n');
    const source = new FileSource(followConfig(path), context());
    await expect(source.start(new RecordingSink())).rejects.toMatchObject({ code: 'CONFIG_PIPELINE' });
  });

  it('stops promptly and calls the sink no more', async () => {
    await writeFile(path, HEADER + row(0, 1));
    const sink = await follow();
    await waitFor('the first row', () => sink.received.length === 1);
    await running?.stop();
    sink.closed = true;
    await appendFile(path, row(1, 2));
    await sleep(4 * POLL_MS);
    expect(sink.callsAfterClose).toBe(0);
    expect(sink.received.length).toBe(1);
  });
});
