/**
 * The model lifecycle on this machine, through the built agent (dist/, `npm run build`) and a real broker
 * (mosquitto when installed, else the embedded one):
 *
 * 1. on-device training: a site with `model: auto` and the default one-week baseline of hourly rows (a
 *    generated site, --sectors sectors, the default KPI set) trains, probes, calibrates and activates its
 *    own model; printed: rows, epochs, the trainer's time, the whole time from start to activation, and the
 *    agent's memory before and after;
 * 2. swaps: --swaps signed bundles of the shipped context model pushed one after another, a day of rows
 *    scored between two; printed: the agent's resident memory after each swap, to see whether onnxruntime
 *    returns what each released session held;
 * 3. onnxruntime alone: --cycles sessions created, run and released in this process, memory after each.
 *
 *   node --expose-gc --import tsx scripts/bench-lifecycle.ts [--swaps 20] [--sectors 3] [--cycles 200]
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { GENERATE_DEFAULTS, generateDataset } from '../src/generate/generator.js';
import { DEFAULT_KPIS } from '../src/kpis.js';
import { makeBundle } from '../src/lifecycle/make-bundle.js';
import { generateKeyPair } from '../src/lifecycle/signing.js';
import { contractFromMetadata } from '../src/model/model-file.js';
import { contractToMetadata, encodeModel } from '../src/model/onnx-export.js';
import { onnx } from '../src/model/onnx-proto.js';
import { startTestBroker } from '../test/agent/broker.js';
import { startAgent, until, type AgentProcess } from './bench-lifecycle/agent-process.js';
import { sessionCycles } from './bench-lifecycle/session-cycles.js';

const CONTEXT_MODEL = fileURLToPath(new URL('../models/cell-context.onnx', import.meta.url));
const { values: args } = parseArgs({
  options: {
    swaps: { type: 'string', default: '20' },
    sectors: { type: 'string', default: '3' },
    cycles: { type: 'string', default: '200' },
  },
});
const swaps = Number(args.swaps);
const sectors = Number(args.sectors);

const dir = await mkdtemp(join(tmpdir(), 'cellwatch-bench-lifecycle-'));
try {
  const broker = await startTestBroker(dir);
  console.log(`broker: ${broker.kind}; ${sectors} sectors; node ${process.version}, ${process.arch}`);
  const rows = await siteRows(join(dir, 'generated'));
  await training(join(dir, 'training'), rows, broker.url);
  await swapping(join(dir, 'swaps'), rows, broker.url, true);
  await swapping(join(dir, 'control'), rows, broker.url, false);
  await sessionCycles(await readFile(CONTEXT_MODEL), Number(args.cycles));
  await broker.stop();
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** Nine days of hourly rows of one generated site, as CSV records. */
async function siteRows(out: string): Promise<Record<string, string>[]> {
  await generateDataset({
    ...GENERATE_DEFAULTS,
    outDir: out,
    sites: 1,
    sectorsPerSite: sectors,
    days: 9,
    trainDays: 9,
  });
  return parse<Record<string, string>>(await readFile(join(out, 'train.csv')), { columns: true });
}

function agentConfig(dir: string, file: string, model: string, url: string, extra: Record<string, unknown> = {}) {
  return {
    site: 'SITE-000',
    pipelines: [
      {
        name: 'cells',
        source: { type: 'file', path: file, mode: 'follow', pollMs: 100 },
        entity: { columns: ['site', 'sector'] },
        model,
        features: [...DEFAULT_KPIS],
        intervalS: 3600,
      },
    ],
    storage: { path: join(dir, 'state', 'cellwatch.db') },
    mqtt: { url, topicPrefix: 'cw' },
    logLevel: 'info',
    ...extra,
  };
}

async function training(dir: string, rows: Record<string, string>[], url: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'site.csv');
  // Exactly the baseline: a week of hours, first to last, for every sector.
  await writeFile(file, stringify(rows.slice(0, (7 * 24 + 1) * sectors), { header: true }));
  const agent = await startAgent(dir, agentConfig(dir, file, 'auto', url), url);
  const before = await agent.memory();
  const startedMs = Date.now();
  await until('the on-device model', () => agent.results.length > 0, 30 * 60_000);
  const result = agent.results[0] as {
    result: string;
    code?: string;
    message: string;
    details: Record<string, number>;
  };
  const after = await agent.memory();
  await agent.stop();
  if (result.result !== 'accepted') throw new Error(`training refused: ${result.code} ${result.message}`);
  const d = result.details;
  console.log('\non-device training, one-week hourly baseline (model: auto, default settings):');
  console.log(`  rows ${d.rows} (${d.entities} sectors × ${DEFAULT_KPIS.length} KPIs), epochs ${d.epochs}`);
  console.log(`  trainer ${d.durationS?.toFixed(1)} s; training to activation ${d.trainingS?.toFixed(1)} s`);
  console.log(`  (from agent start, buffering the rows included: ${((Date.now() - startedMs) / 1000).toFixed(1)} s)`);
  console.log(`  agent RSS ${before.rssMb.toFixed(0)} MiB before, ${after.rssMb.toFixed(0)} MiB after`);
}

/** The context model re-versioned: same weights, so every swap loads the same amount of native memory. */
function contextModel(bytes: Uint8Array, version: number): Uint8Array {
  const proto = onnx.ModelProto.decode(bytes);
  const props = new Map(proto.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  const contract = { ...contractFromMetadata(props), modelVersion: version };
  proto.metadataProps = contractToMetadata(contract).map((p) => onnx.StringStringEntryProto.create(p));
  return encodeModel(proto);
}

/**
 * With push false, the control: the same agent taking the same days of rows with no swap, so what the
 * buffer, the statistics and the JS heap add is not put down to the swaps.
 */
async function swapping(dir: string, rows: Record<string, string>[], url: string, push: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  const keys = generateKeyPair();
  await writeFile(join(dir, 'fleet.pub'), keys.publicKeyPem);
  const privateKey = createPrivateKey(keys.privateKeyPem);
  const base = await readFile(CONTEXT_MODEL);
  const version = Number(
    contractFromMetadata(new Map(onnx.ModelProto.decode(base).metadataProps.map((p) => [p.key ?? '', p.value ?? ''])))
      .modelVersion,
  );
  const v1 = join(dir, 'v1.onnx');
  await writeFile(v1, base);
  const perDay = 24 * sectors;
  const file = join(dir, 'site.csv');
  await writeFile(file, stringify(rows.slice(0, 7 * perDay), { header: true }));
  // The shipped model was trained on other generated sites: on this one it flags more than its 5 % until the
  // site's own statistics take over, which the calibration check would refuse. Memory is measured here.
  const models = { trustedKeys: [join(dir, 'fleet.pub')], calibrationMaxFactor: 10 };
  const agent = await startAgent(dir, agentConfig(dir, file, v1, url, { models }), url);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const start = await agent.memory();
  const what = push
    ? `${swaps} swaps of the context model (${(base.length / 2 ** 20).toFixed(1)} MiB), a day of rows between two`
    : `control: the same ${swaps} days of rows, no swap`;
  console.log(`\n${what}:`);
  console.log(`  before: RSS ${start.rssMb.toFixed(1)} MiB`);
  const figures: number[] = [];
  for (let i = 1; i <= swaps; i++) {
    if (push) await pushVersion(agent, contextModel(base, version + i), privateKey, i);
    const day = rows.slice(7 * perDay, 8 * perDay);
    await appendFile(file, stringify(day.map((r) => ({ ...r, timestamp: shifted(r.timestamp!, i) }))));
    await new Promise((resolve) => setTimeout(resolve, push ? 500 : 1_500));
    const { rssMb } = await agent.memory();
    figures.push(rssMb);
    if (i === 1 || i % 5 === 0) console.log(`  after day ${String(i).padStart(2)}: RSS ${rssMb.toFixed(1)} MiB`);
  }
  const end = await agent.memory();
  await agent.stop();
  const growth = (figures.at(-1) ?? 0) - (figures[0] ?? 0);
  console.log(`  growth from day 1 to ${swaps}: ${growth.toFixed(1)} MiB; peak RSS ${end.hwmMb.toFixed(1)} MiB`);
}

/** Push one signed version and wait for the agent to accept it. */
async function pushVersion(agent: AgentProcess, onnxBytes: Uint8Array, privateKey: KeyObject, i: number) {
  const { bytes } = await makeBundle(onnxBytes, { pipeline: 'cells', goldenRows: 8, privateKey });
  const count = agent.results.length;
  await agent.central.publishAsync('cw/SITE-000/command/model/push', bytes, { qos: 1 });
  await until(`swap ${i}`, () => agent.results.length > count);
  const result = agent.results[count] as { result: string; code?: string; message: string };
  if (result.result !== 'accepted') throw new Error(`swap ${i} refused: ${result.code} ${result.message}`);
}

/** Rows of a later day with their timestamps moved on, so each day appended is new to the buffer. */
function shifted(timestamp: string, days: number): string {
  return new Date(Date.parse(timestamp) + days * 86_400_000).toISOString();
}
