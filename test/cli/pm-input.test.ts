import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelFile } from '../../src/model/model-file.js';
import { scratchDir } from '../helpers.js';
import { writePmFolder } from '../io/pm-folder.js';
import { runCli } from './run-cli.js';

const DAY_MS = 86_400_000;
const START_MS = Date.UTC(2026, 0, 5);

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir());
  const cells = ['1', '2', '3'];
  await writePmFolder(join(dir, 'train'), { startMs: START_MS, days: 14, cells, seed: 1 });
  // Day 2 of the test folder, 06:00 to 11:00: cell 2's downlink throughput falls to a tenth.
  await writePmFolder(join(dir, 'test'), {
    startMs: START_MS + 14 * DAY_MS,
    days: 3,
    cells,
    seed: 2,
    dip: { cell: '2', fromHour: 30, toHour: 35 },
  });
});
afterAll(() => cleanup());

interface ScoreRow {
  timestamp: string;
  site: string;
  cell: string;
  score: string;
  status: string;
}

describe('train and score on a folder of 3GPP PM files', () => {
  it('trains on the default KPIs that TS 28.552 gives and finds the throughput dip', async () => {
    const model = join(dir, 'pm.onnx');
    const train = await runCli(['train', '--input', join(dir, 'train'), '--output', model, '--epochs', '20']);
    expect(train.code, train.stderr).toBe(0);
    const { contract } = await inspectModelFile(model);
    expect(contract.layout.kpis).toEqual([
      'dl_throughput_mbps',
      'ul_throughput_mbps',
      'prb_util_dl_pct',
      'active_users',
      'rrc_setup_success_pct',
      'erab_drop_pct',
      'ho_success_pct',
    ]);
    expect(contract.normalization.entityColumns).toEqual(['site', 'cell']);
    expect(train.stdout).toMatch(/rows read\s+1008\b/);

    const scores = join(dir, 'pm-scores.csv');
    const score = await runCli(['score', '--model', model, '--input', join(dir, 'test'), '--output', scores]);
    expect(score.code, score.stderr).toBe(0);
    const rows = parse<ScoreRow>(await readFile(scores, 'utf8'), { columns: true });
    expect(rows).toHaveLength(3 * 3 * 24);
    expect(new Set(rows.map((r) => r.site))).toEqual(new Set(['GNB1']));
    const top = rows
      .filter((r) => r.score !== '')
      .sort((a, b) => Number(b.score) - Number(a.score))
      .slice(0, 6);
    const dipHours = Array.from({ length: 6 }, (_, i) => new Date(START_MS + (14 * 24 + 30 + i) * 3_600_000));
    expect(top.map((r) => `${r.cell} ${r.timestamp}`).sort()).toEqual(
      dipHours.map((d) => `2 ${d.toISOString().replace('.000Z', 'Z')}`),
    );
  });

  it("reads the files with an agent configuration's pm pipeline: entities, vendor formulas, features", async () => {
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'site: GNB1',
        'mqtt: { url: embedded }',
        'storage: { path: ./buffer.db }',
        'pipelines:',
        '  - name: host',
        '    source: { type: system }',
        '    entity: { columns: [host] }',
        '    features: [cpu_load_pct]',
        '  - name: radio',
        '    source:',
        '      type: pm',
        '      path: ./drop',
        '      entities:',
        '        - object: "NRCellDU=(?<cell>\\\\d+)$"',
        '          set: { region: north }',
        '      kpis:',
        '        users_per_prb: "RRC.ConnMean / RRU.PrbUsedDl * 1e6"',
        '    entity: { columns: [region, cell] }',
        '    features: [dl_throughput_mbps, users_per_prb]',
        '',
      ].join('\n'),
    );
    const model = join(dir, 'vendor.onnx');
    const args = ['--input', join(dir, 'train'), '--output', model, '--epochs', '3', '--pm-config', config];
    const train = await runCli(['train', ...args, '--pipeline', 'radio']);
    expect(train.code, train.stderr).toBe(0);
    const { contract } = await inspectModelFile(model);
    expect(contract.layout.kpis).toEqual(['dl_throughput_mbps', 'users_per_prb']);
    expect(contract.normalization.entityColumns).toEqual(['region', 'cell']);
    expect(Object.keys(contract.normalization.entities).some((k) => k.startsWith('north/2'))).toBe(true);

    // Without --pipeline the only pm pipeline is taken; naming the system pipeline is a usage error.
    const only = await runCli(['train', ...args]);
    expect(only.code, only.stderr).toBe(0);
    const wrong = await runCli(['train', ...args, '--pipeline', 'host']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error USAGE: pipeline "host" reads a system source, not PM files/);
    const alone = await runCli(['train', '--input', join(dir, 'train'), '--output', model, '--pipeline', 'radio']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--pipeline needs --pm-config/);
  });

  it('refuses features that TS 28.552 cannot give with a coded input error naming them', async () => {
    const model = join(dir, 'rsrp.onnx');
    const args = ['--input', join(dir, 'train'), '--output', model, '--features', 'rsrp_dbm,dl_throughput_mbps'];
    const train = await runCli(['train', ...args]);
    expect(train.code).toBe(3);
    expect(train.stderr).toMatch(/^error INPUT_COLUMNS: features rsrp_dbm have no TS 28\.552 measurement/);
  });
});
