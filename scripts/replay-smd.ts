/**
 * Real input through the real daemon: replay one SMD machine's test file through `cellwatch run` against
 * a broker over TCP (mosquitto when installed), with a model trained on the machine's training file, and
 * report how the incidents line up with the labelled anomaly segments, how many messages crossed the
 * broker, and the daemon's RSS and CPU over its run.
 *
 *   npx tsx scripts/replay-smd.ts [machine-1-6] [speed=2400]
 *
 * Needs ../shared/data/smd (or SMD_DIR) and a build (npm run build). At 2400× the 23,689 one-minute rows of
 * machine-1-6 take about ten minutes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'yaml';
import { startTestBroker, subscriber } from '../test/agent/broker.js';

const machine = process.argv[2] ?? 'machine-1-6';
const speed = Number(process.argv[3] ?? 2400);
const smd = process.env.SMD_DIR ?? '../shared/data/smd';
const out = resolve('out/smd');
const work = resolve('out/smd-agent');
const main = resolve('dist/cli/main.js');

if (!existsSync(join(smd, `${machine}_test.csv.gz`))) {
  console.log(`no SMD data at ${smd}; skipping`);
  process.exit(0);
}
const testCsv = join(out, `${machine}_test.csv`);
const model = join(out, `${machine}-context.onnx`);
if (!existsSync(testCsv))
  execFileSync('npx', ['tsx', 'scripts/smd-to-csv.ts', smd, machine, out], { stdio: 'inherit' });
if (!existsSync(model)) {
  const train = ['train', '--variant', 'context', '--input', join(out, `${machine}_train.csv`), '--output', model];
  execFileSync('node', [main, ...train, '--time-features', 'none', '--seasonality', 'none'], { stdio: 'inherit' });
}

await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
const broker = await startTestBroker(work);
const central = await subscriber(broker.url, `cellwatch/${machine}/#`);
const config = {
  site: machine,
  pipelines: [
    {
      name: 'smd',
      source: { type: 'file', path: testCsv, mode: 'replay', speed },
      entity: { columns: ['host'] },
      model,
      intervalS: 60,
      // ADAPT_ON_LEVEL_SHIFT=false measures the agent without the per-entity adaptation after a level shift.
      normalization: { adaptOnLevelShift: process.env.ADAPT_ON_LEVEL_SHIFT !== 'false' },
    },
  ],
  storage: { path: join(work, 'state', 'cellwatch.db') },
  mqtt: { url: broker.url },
  summary: { intervalMinutes: 5 },
  health: { intervalS: 60 },
};
await writeFile(join(work, 'cellwatch.yaml'), stringify(config));

console.log(`replaying ${machine} at ${speed}× through cellwatch run against ${broker.kind} at ${broker.url}`);
const started = Date.now();
const child = spawn('node', [main, 'run', '--config', join(work, 'cellwatch.yaml'), '--until-sources-end'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const usage: { minute: number; rssMiB: number; cpuPct: number }[] = [];
let lastCpuS = 0;
const sampler = setInterval(() => {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const cpuS = (Number(stat[11]) + Number(stat[12])) / 100;
  const rssMiB = (Number(stat[21]) * 4096) / 2 ** 20;
  usage.push({ minute: usage.length + 1, rssMiB: Math.round(rssMiB), cpuPct: Math.round((cpuS - lastCpuS) / 0.6) });
  lastCpuS = cpuS;
}, 60_000);
const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 500));
await central.client.endAsync();
await broker.stop();

// Labelled segments: runs of label 1, as [start, end] in epoch ms.
const labels = parse<{ timestamp: string; label: string }>(readFileSync(join(out, `${machine}_test_labels.csv`)), {
  columns: true,
});
const segments: [number, number][] = [];
for (const row of labels) {
  const t = Date.parse(row.timestamp);
  const last = segments.at(-1);
  if (row.label !== '1') continue;
  if (last && t - last[1] <= 60_000) last[1] = t;
  else segments.push([t, t]);
}

// Incidents: each opened one, spanning its first to its last flagged row as of its final event.
const spans = new Map<string, [number, number]>();
const byTopic: Record<string, number> = {};
for (const { topic, body } of central.received) {
  const kind = topic.split('/').pop() as string;
  byTopic[kind] = (byTopic[kind] ?? 0) + 1;
  if (kind !== 'anomaly') continue;
  const incident = body.incident as { incidentId: string; firstFlaggedAt: string; lastFlaggedAt: string };
  spans.set(incident.incidentId, [Date.parse(incident.firstFlaggedAt), Date.parse(incident.lastFlaggedAt)]);
}
const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];
const incidents = [...spans.values()];
const detected = segments.filter((s) => incidents.some((i) => overlaps(i, s))).length;
const outside = incidents.filter((i) => !segments.some((s) => overlaps(i, s))).length;
const messages = Object.values(byTopic).reduce((a, b) => a + b, 0);

console.log(`daemon exit code ${code} after ${((Date.now() - started) / 60_000).toFixed(1)} min`);
console.log(`rows replayed: ${labels.length}; labelled anomaly segments: ${segments.length}`);
console.log(`segments with an incident: ${detected} of ${segments.length}`);
console.log(`incidents: ${incidents.length}; outside every labelled segment: ${outside}`);
console.log(
  `messages over the broker: ${messages} (${JSON.stringify(byTopic)}),`,
  `${(messages / labels.length).toFixed(4)} per row`,
);
console.log(
  `daemon RSS and CPU per minute: ${usage.map((u) => `${u.minute}m ${u.rssMiB} MiB ${u.cpuPct} %`).join('; ')}`,
);
