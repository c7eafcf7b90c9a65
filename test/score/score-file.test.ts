import { readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scoreFile, type ScoreOptions } from '../../src/score/score-file.js';
import { randomModel, scratchDir, SMALL_LAYOUT } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let options: ScoreOptions;

const CSV = [
  'timestamp,cell,a,b,c',
  '2026-01-01T00:00:00Z,C1,1,2,3',
  '2026-01-01T01:00:00Z,C1,1.5,2,',
  '2026-01-01T02:00:00Z,C1,2,2.5,3',
  '2026-01-01T03:00:00Z,C1,2,2.5',
  '2026-01-01T04:00:00Z,C1,NaN,NaN,NaN',
].join('\n');

beforeEach(async () => {
  ({ dir, cleanup } = await scratchDir());
  await writeFile(join(dir, 'model.onnx'), randomModel(SMALL_LAYOUT).bytes);
  await writeFile(join(dir, 'in.csv'), `${CSV}\n`);
  options = {
    model: join(dir, 'model.onnx'),
    input: join(dir, 'in.csv'),
    output: join(dir, 'out.csv'),
    batchSize: 2,
    topKpis: 2,
    intraOpThreads: 1,
  };
});
afterEach(async () => cleanup());

describe('scoreFile', () => {
  it('writes one line per row read, in file order, with a status for rows it cannot score', async () => {
    const report = await scoreFile(options);
    const lines = (await readFile(options.output, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('timestamp,cell,score,threshold,flag,top_kpis,status');
    expect(lines.slice(1).map((l) => [l.split(',')[0], l.split(',').at(-1)])).toEqual([
      ['2026-01-01T00:00:00Z', 'warmup'],
      ['2026-01-01T01:00:00Z', 'scored'],
      ['2026-01-01T02:00:00Z', 'scored'],
      ['2026-01-01T04:00:00Z', 'scored'],
    ]);
    // Line 5 has four fields and is dropped; line 6 is all missing, filled from line 4 (maxFillRows 1).
    expect(report).toMatchObject({ rowsRead: 4, rowsScored: 3, issueCount: 1 });
    expect(report.issues[0]).toMatchObject({ code: 'INPUT_FIELD_COUNT', line: 5 });
  });

  it('refuses compressed or unknown output formats and output over the input', async () => {
    await expect(scoreFile({ ...options, output: join(dir, 'o.csv.gz') })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(scoreFile({ ...options, output: join(dir, 'o.parquet') })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(scoreFile({ ...options, output: options.input })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('leaves no output file behind when the input fails part-way', async () => {
    const body = gzipSync(`${CSV}\n${'2026-01-02T00:00:00Z,C1,1,2,3\n'.repeat(3000)}`);
    await writeFile(join(dir, 'cut.csv.gz'), body.subarray(0, body.length - 30));
    await expect(scoreFile({ ...options, input: join(dir, 'cut.csv.gz') })).rejects.toMatchObject({
      code: 'INPUT_FORMAT',
    });
    await expect(access(options.output)).rejects.toThrow();
    await expect(access(`${options.output}.partial`)).rejects.toThrow();
  });
});
