import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/eval/evaluate.js';
import { scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(async () => cleanup());

const SCORES = [
  'timestamp,site,sector,score,threshold,flag,top_kpis,status',
  '2026-01-01T00:00:00Z,S1,1,0.1,1,0,,scored',
  '2026-01-01T01:00:00Z,S1,1,5,1,1,cpu_load_pct 95 vs 20 (90%),scored',
  '2026-01-01T02:00:00Z,S1,1,2,1,1,,scored',
  '2026-01-01T03:00:00Z,S1,1,,,,,warmup',
  '2026-01-01T00:00:00+00:00,S1,2,0.5,1,0,,scored',
].join('\n');

async function files(labels: string[]): Promise<{ scores: string; labels: string }> {
  const scores = join(dir, 'scores.csv');
  const labelPath = join(dir, 'labels.csv');
  await writeFile(scores, `${SCORES}\n`);
  await writeFile(labelPath, `${['timestamp,site,sector,label,kind,maintenance', ...labels].join('\n')}\n`);
  return { scores, labels: labelPath };
}

const base = { timestampColumn: 'timestamp', entityColumns: undefined, topRows: 2 };

describe('evaluate', () => {
  it('joins on timestamp and entity, leaves maintenance out of the metrics and reports it apart', async () => {
    const paths = await files([
      '2026-01-01T00:00:00Z,S1,1,0,,0',
      '2026-01-01T01:00:00Z,S1,1,1,cpu_spike,0',
      '2026-01-01T02:00:00Z,S1,1,0,maintenance,1',
      '2026-01-01T03:00:00Z,S1,1,1,cpu_spike,0',
      '2026-01-01T00:00:00Z,S1,2,0,,0',
    ]);
    const { report } = await evaluate({ ...base, ...paths });
    expect(report.rowsEvaluated).toBe(3);
    expect(report.anomalousRows).toBe(1);
    expect(report.rocAuc).toBe(1);
    expect(report.flagRateNormal).toBe(0);
    expect(report.flagRateMaintenance).toBe(1);
    expect(report.recallByKind).toEqual({ cpu_spike: { rows: 1, recall: 1 } });
    expect(report.unscoredLabelledRows).toBe(1);
    expect(report.top.map((t) => [t.entity, t.score, t.kind])).toEqual([
      ['S1/1', 5, 'cpu_spike'],
      ['S1/1', 2, 'maintenance'],
    ]);
    expect(report.top[0]?.topKpis).toBe('cpu_load_pct 95 vs 20 (90%)');
  });

  it('skips and reports a label that is not 0 or 1, a bad timestamp and a score that is not a number', async () => {
    const paths = await files([
      '2026-01-01T00:00:00Z,S1,1,yes,,0',
      'yesterday,S1,1,1,,0',
      '2026-01-01T01:00:00Z,S1,1,1,cpu_spike,0',
      '2026-01-01T00:00:00Z,S1,2,0,,0',
    ]);
    await writeFile(paths.scores, `${SCORES.replace(',0.5,1,0,', ',NaN,1,0,')}\n`);
    const { report } = await evaluate({ ...base, ...paths });
    expect(report.skippedLines.count).toBe(3);
    expect(report.skippedLines.first.map((s) => [s.file, s.line, s.code])).toEqual([
      ['labels', 2, 'INPUT_VALUE'],
      ['labels', 3, 'INPUT_TIMESTAMP'],
      ['scores', 6, 'INPUT_VALUE'],
    ]);
    expect(report.rowsEvaluated).toBe(1);
  });

  it('fails with LABELS_MISMATCH when no scored row has a label', async () => {
    const paths = await files(['2027-01-01T00:00:00Z,S1,1,1,,0']);
    await expect(evaluate({ ...base, ...paths })).rejects.toMatchObject({ code: 'LABELS_MISMATCH' });
  });
});

describe('evaluate with repeated rows', () => {
  it('counts a repeated score or label once and reports the repeat', async () => {
    const paths = await files([
      '2026-01-01T00:00:00Z,S1,1,0,,0',
      '2026-01-01T01:00:00Z,S1,1,1,cpu_spike,0',
      '2026-01-01T01:00:00Z,S1,1,0,,0',
    ]);
    await writeFile(paths.scores, `${SCORES}\n2026-01-01T01:00:00Z,S1,1,0.2,1,0,,scored\n`);
    const { report } = await evaluate({ ...base, ...paths });
    expect(report.rowsEvaluated).toBe(2);
    expect(report.anomalousRows).toBe(1);
    expect(report.skippedLines.first.map((s) => [s.file, s.code])).toEqual([
      ['labels', 'INPUT_DUPLICATE'],
      ['scores', 'INPUT_DUPLICATE'],
    ]);
  });
});
