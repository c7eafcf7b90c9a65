import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANOMALY_KINDS } from '../../src/generate/episodes.js';
import { GENERATE_DEFAULTS, generateDataset, type GenerateSummary } from '../../src/generate/generator.js';
import { scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let summary: GenerateSummary;
const OPTIONS = { ...GENERATE_DEFAULTS, sites: 45, days: 20, trainDays: 10 };

type Csv = { header: string[]; rows: string[][] };
async function readCsv(path: string): Promise<Csv> {
  const [head = '', ...lines] = (await readFile(path, 'utf8')).trim().split('\n');
  return { header: head.split(','), rows: lines.map((l) => l.split(',')) };
}
const sha = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

function correlation(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
    syy += ((ys[i] as number) - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir());
  summary = await generateDataset({ ...OPTIONS, outDir: join(dir, 'a') });
});
afterAll(async () => cleanup());

describe('generateDataset', () => {
  it('writes train and test halves with one row per sector and hour', async () => {
    const train = await readCsv(join(dir, 'a', 'train.csv'));
    const test = await readCsv(join(dir, 'a', 'test.csv'));
    expect(train.header).toEqual([
      'timestamp',
      'site',
      'sector',
      'rsrp_dbm',
      'sinr_db',
      'dl_throughput_mbps',
      'ul_throughput_mbps',
      'prb_util_dl_pct',
      'active_users',
      'rrc_setup_success_pct',
      'erab_drop_pct',
      'ho_success_pct',
      'cpu_load_pct',
    ]);
    expect(train.rows.length).toBe(45 * 3 * 10 * 24);
    expect(test.rows.length).toBe(45 * 3 * 10 * 24);
    expect(summary.rows).toBe(45 * 3 * 20 * 24);
    expect(test.rows[0]?.[0]).toBe('2026-01-15T00:00:00Z');
  });

  it('is deterministic for a seed and changes with the seed', async () => {
    await generateDataset({ ...OPTIONS, outDir: join(dir, 'b') });
    await generateDataset({ ...OPTIONS, outDir: join(dir, 'c'), seed: 43 });
    expect(await sha(join(dir, 'b', 'test.csv'))).toBe(await sha(join(dir, 'a', 'test.csv')));
    expect(await sha(join(dir, 'b', 'test_labels.csv'))).toBe(await sha(join(dir, 'a', 'test_labels.csv')));
    expect(await sha(join(dir, 'c', 'test.csv'))).not.toBe(await sha(join(dir, 'a', 'test.csv')));
  });

  it('injects every anomaly kind and labels maintenance apart, as label 0', async () => {
    expect(Object.keys(summary.episodesByKind).sort()).toEqual([...ANOMALY_KINDS].sort());
    const labels = await readCsv(join(dir, 'a', 'train_labels.csv'));
    const maintenance = labels.rows.filter((r) => r[5] === '1');
    expect(maintenance.length).toBeGreaterThan(0);
    expect(maintenance.every((r) => r[3] === '0' && r[4] === 'maintenance')).toBe(true);
  });

  it('holds the classic review cases: a throughput dip at SITE-042 and night CPU spikes in sector 7', async () => {
    const labels = await readCsv(join(dir, 'a', 'test_labels.csv'));
    const dip = labels.rows.filter((r) => r[1] === 'SITE-042' && r[4] === 'throughput_dip');
    expect(dip.map((r) => r[0] as string).filter((t, i, a) => a.indexOf(t) === i)).toEqual([
      '2026-01-18T14:00:00Z',
      '2026-01-18T15:00:00Z',
      '2026-01-18T16:00:00Z',
    ]);
    expect(new Set(dip.map((r) => r[2]))).toEqual(new Set(['124', '125', '126']));
    const spikes = labels.rows.filter((r) => r[2] === '7' && r[4] === 'cpu_spike');
    expect(spikes.length).toBe(8);
    expect(spikes.every((r) => r[1] === 'SITE-003' && /T0[23]:00/.test(r[0] as string))).toBe(true);

    const data = await readCsv(join(dir, 'a', 'test.csv'));
    const at = (ts: string, sector: string) => data.rows.find((r) => r[0] === ts && r[2] === sector) ?? [];
    const during = at('2026-01-18T15:00:00Z', '125');
    const dayBefore = at('2026-01-17T15:00:00Z', '125');
    expect(Number(during[5])).toBeLessThan(0.3 * Number(dayBefore[5])); // DL throughput
    expect(Number(during[8])).toBeGreaterThan(0.5 * Number(dayBefore[8])); // active users: load is normal
  });

  it('relates KPIs as a radio network does and leaves some values missing', async () => {
    const data = await readCsv(join(dir, 'a', 'train.csv'));
    const labels = await readCsv(join(dir, 'a', 'train_labels.csv'));
    const normal = data.rows.filter((r, i) => labels.rows[i]?.[4] === '' && r.every((v) => v !== ''));
    // Within one sector: sites differ in scale (urban users are many), so pooled correlations would mislead.
    const median = (a: number, b: number) => {
      const values = [...new Set(normal.map((r) => r[2]))].map((sector) => {
        const rows = normal.filter((r) => r[2] === sector);
        return correlation(
          rows.map((r) => Number(r[a])),
          rows.map((r) => Number(r[b])),
        );
      });
      return values.sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
    };
    const [SINR, DL, PRB, USERS, CPU] = [4, 5, 7, 8, 12];
    expect(median(PRB, USERS)).toBeGreaterThan(0.9);
    expect(median(PRB, CPU)).toBeGreaterThan(0.8);
    expect(median(PRB, SINR)).toBeLessThan(-0.5);
    expect(median(PRB, DL)).toBeLessThan(-0.5);
    const empty = data.rows.reduce((n, r) => n + r.filter((v) => v === '').length, 0);
    expect(empty / (data.rows.length * 10)).toBeGreaterThan(0.002);
  });
});
