import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers.js';
import { runCli } from './run-cli.js';

let dir: string;
let cleanup: () => Promise<void>;
const reports: Record<
  string,
  { rocAuc: number; prAuc: number; flagRateNormal: number; top: unknown[]; plots: string[] }
> = {};

async function trainScoreEval(variant: string): Promise<void> {
  const model = join(dir, `${variant}.onnx`);
  const train = await runCli([
    'train',
    '--input',
    join(dir, 'data', 'train.csv'),
    '--maintenance',
    join(dir, 'data', 'train_labels.csv'),
    '--output',
    model,
    '--variant',
    variant,
    '--epochs',
    '25',
    '--seed',
    '3',
    '--json',
  ]);
  expect(train.stderr).toBe('');
  expect(train.code).toBe(0);
  const scores = join(dir, `${variant}-scores.csv`);
  const score = await runCli(['score', '--model', model, '--input', join(dir, 'data', 'test.csv'), '--output', scores]);
  expect(score.code).toBe(0);
  const plots = join(dir, `${variant}-plots`);
  const evaluation = await runCli([
    'eval',
    '--scores',
    scores,
    '--labels',
    join(dir, 'data', 'test_labels.csv'),
    '--plots',
    plots,
    '--json',
  ]);
  expect(evaluation.code).toBe(0);
  reports[variant] = JSON.parse(evaluation.stdout) as (typeof reports)[string];
}

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir());
  const gen = await runCli([
    'generate',
    '--out',
    join(dir, 'data'),
    '--sites',
    '10',
    '--days',
    '42',
    '--train-days',
    '28',
  ]);
  expect(gen.code).toBe(0);
  await Promise.all([trainScoreEval('field'), trainScoreEval('context')]);
}, 240_000);
afterAll(async () => cleanup());

describe('generate → train → score → eval', () => {
  it('the default (context) model beats the field-method baseline and detects well', () => {
    const context = reports.context;
    const field = reports.field;
    expect(context?.rocAuc).toBeGreaterThan(0.93);
    expect(context?.rocAuc).toBeGreaterThan((field?.rocAuc ?? 1) + 0.03);
    expect(context?.prAuc).toBeGreaterThan(field?.prAuc ?? 1);
  });

  it('flags close to the threshold percentile of normal rows, not a multiple of it', () => {
    for (const r of Object.values(reports)) {
      expect(r.flagRateNormal).toBeGreaterThan(0.01);
      expect(r.flagRateNormal).toBeLessThan(0.12);
    }
  });

  it('keeps timestamp and entity columns and adds score, threshold, flag and top KPIs', async () => {
    const text = await readFile(join(dir, 'context-scores.csv'), 'utf8');
    const [header, first] = text.split('\n');
    expect(header).toBe('timestamp,site,sector,score,threshold,flag,top_kpis,status');
    expect(first).toMatch(/^2026-02-02T00:00:00Z,SITE-001,1,,,,,warmup$/);
    const scored = text.split('\n').find((l) => l.endsWith(',scored')) ?? '';
    expect(scored).toMatch(/^\S+Z,SITE-\d{3},\d+,[\d.e-]+,[\d.]+,[01],"?[a-z_]+ -?[\d.]+ vs -?[\d.]+ \(\d+%\)/);
  });

  it('lists the top 10 rows and writes plots as SVG files', async () => {
    expect(reports.context?.top).toHaveLength(10);
    const files = await readdir(join(dir, 'context-plots'));
    expect(files).toContain('score-distribution.svg');
    expect(files.filter((f) => f.startsWith('error-over-time_')).length).toBe(6);
    const svg = await readFile(join(dir, 'context-plots', 'score-distribution.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
  });
});

describe('CLI errors', () => {
  it('a missing input file exits 3 with INPUT_NOT_FOUND', async () => {
    const r = await runCli(['train', '--input', join(dir, 'nope.csv'), '--output', join(dir, 'x.onnx')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error INPUT_NOT_FOUND: cannot read input/);
  });

  it('a file that is not a model exits 4 with MODEL_READ', async () => {
    const r = await runCli([
      'score',
      '--model',
      join(dir, 'data', 'test.csv'),
      '--input',
      join(dir, 'data', 'test.csv'),
      '--output',
      join(dir, 'o.csv'),
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error MODEL_READ/);
  });

  it('a bad option value exits 2 and names the option', async () => {
    const r = await runCli(['train', '--input', 'a.csv', '--output', 'b.onnx', '--epochs', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--epochs <n>' argument 'many' is invalid");
  });
});
