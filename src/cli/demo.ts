import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parse } from 'csv-parse';
import { stringify as stringifyCsv } from 'csv-stringify';
import mqtt from 'mqtt';
import { stringify as stringifyYaml } from 'yaml';
import { GENERATE_DEFAULTS, generateDataset } from '../generate/generator.js';
import { startEmbeddedBroker } from '../report/embedded-broker.js';
import { describeMessage } from './describe-message.js';

interface DemoFlags {
  out: string;
  site: string;
  speed: number;
}

const HOUR_MS = 3_600_000;
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('replay a generated site through the full agent and an embedded broker; print what arrives')
    .option('--out <dir>', 'working folder', 'out/demo-agent')
    .option('--site <id>', 'site of the generated data set to replay', 'SITE-042')
    .option('--speed <x>', 'replay pace: 86400 plays a day per second', Number, 86_400)
    .action(async (flags: DemoFlags) => {
      process.exitCode = await runDemo(flags);
    });
}

async function runDemo(flags: DemoFlags): Promise<number> {
  const out = resolve(flags.out);
  const dataDir = join(out, 'data');
  if (!existsSync(join(dataDir, 'test.csv'))) {
    console.log(`generating the 60-day data set in ${dataDir} (once) …`);
    await generateDataset({ ...GENERATE_DEFAULTS, outDir: dataDir });
  }
  const replayFile = join(out, `${flags.site}.csv`);
  const rows = await extractSite(join(dataDir, 'test.csv'), replayFile, flags.site);
  const maintenance = await maintenanceWindows(join(dataDir, 'test_labels.csv'), flags.site);
  console.log(`replaying ${rows} rows of ${flags.site} (30 days, 3 sectors) at ${flags.speed}× through cellwatch run`);
  console.log(
    `${maintenance.length} planned maintenance windows in its configuration; what a central subscriber gets:`,
  );

  const broker = await startEmbeddedBroker();
  await rm(join(out, 'state'), { recursive: true, force: true });
  const configPath = join(out, 'cellwatch.yaml');
  await writeFile(
    configPath,
    stringifyYaml(demoConfig(flags, replayFile, join(out, 'state'), broker.url, maintenance)),
  );

  const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'demo-central', protocolVersion: 4 });
  const counts: Record<string, number> = {};
  let sample: string | undefined;
  subscriber.on('message', (topic, payload) => {
    const kind = topic.split('/').pop() ?? topic;
    counts[kind] = (counts[kind] ?? 0) + 1;
    if (kind === 'anomaly' && sample === undefined) sample = payload.toString();
    console.log(describeMessage(kind, payload.toString()));
  });
  await subscriber.subscribeAsync(`cellwatch/${flags.site}/#`, { qos: 1 });

  const code = await runDaemon(configPath, join(out, 'agent.log'));
  await new Promise((r) => setTimeout(r, 300));
  await subscriber.endAsync();
  await broker.close();

  console.log(`\nagent exited with ${code}; its JSON log is ${join(out, 'agent.log')}`);
  console.log(`messages received: ${JSON.stringify(counts)} for ${rows} rows replayed`);
  if (sample) console.log(`\nfirst anomaly message as received:\n${JSON.stringify(JSON.parse(sample), null, 2)}`);
  return code;
}

/** The rows of one site, as the site's own controller would see them. */
async function extractSite(input: string, output: string, site: string): Promise<number> {
  const parser = createReadStream(input).pipe(parse({ columns: true }));
  const writer = stringifyCsv({ header: true });
  const done = finished(writer.pipe(createWriteStream(output)));
  let rows = 0;
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    if (record.site !== site) continue;
    rows++;
    if (!writer.write(record)) await new Promise((r) => writer.once('drain', r));
  }
  writer.end();
  await done;
  return rows;
}

/**
 * The site's planned maintenance nights, as an operator would enter them in the configuration: the data
 * set labels them, and a switched-off cell would otherwise look exactly like a dead one.
 */
async function maintenanceWindows(labels: string, site: string): Promise<{ start: string; end: string }[]> {
  const parser = createReadStream(labels).pipe(parse({ columns: true }));
  const windows: { startMs: number; endMs: number }[] = [];
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    if (record.site !== site || record.maintenance !== '1') continue;
    const startMs = Date.parse(record.timestamp as string);
    const last = windows.at(-1);
    if (last && startMs <= last.endMs) last.endMs = Math.max(last.endMs, startMs + HOUR_MS);
    else windows.push({ startMs, endMs: startMs + HOUR_MS });
  }
  return windows.map((w) => ({ start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString() }));
}

function demoConfig(
  flags: DemoFlags,
  replayFile: string,
  stateDir: string,
  url: string,
  maintenance: { start: string; end: string }[],
) {
  return {
    site: flags.site,
    pipelines: [
      {
        name: 'cells',
        source: { type: 'file', path: replayFile, mode: 'replay', speed: flags.speed },
        entity: { columns: ['site', 'sector'] },
        model: join(PACKAGE_ROOT, 'models', 'cell-context.onnx'),
        intervalS: 3600,
      },
      {
        name: 'host',
        source: { type: 'system' },
        entity: { columns: ['host'] },
        features: ['cpu_load_pct', 'mem_used_pct', 'load_avg_1m'],
        intervalS: 5,
      },
    ],
    storage: { path: join(stateDir, 'cellwatch.db') },
    mqtt: { url, protocolVersion: 4 },
    maintenance: maintenance.map((w) => ({ ...w, reason: 'planned maintenance night' })),
    summary: { intervalMinutes: 0.25 },
    health: { intervalS: 10 },
    logLevel: 'info',
  };
}

/** The daemon as a separate process, exactly as systemd would run it, stopping when the replay ends. */
async function runDaemon(configPath: string, logPath: string): Promise<number> {
  await mkdir(join(logPath, '..'), { recursive: true });
  const log = createWriteStream(logPath);
  const main = process.argv[1] as string;
  const child = spawn(
    process.execPath,
    [...process.execArgv, main, 'run', '--config', configPath, '--until-sources-end'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child.stdout.pipe(log);
  return new Promise((resolveCode) => child.on('exit', (code) => resolveCode(code ?? 1)));
}
