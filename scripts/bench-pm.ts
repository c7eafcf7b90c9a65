/**
 * Import of one large 3GPP PM file (TS 32.435 XML) and how long it keeps the event loop from turning: an
 * agent whose loop stalls past 1.5 × its MQTT keepalive is dropped by the broker. The file is laid out like a
 * gNB's (one measInfo per counter group, one measValue per cell) and read three ways: measType/r, the same
 * gzipped, and the older measTypes/measResults lists. Each is imported through the real PmSource into a
 * real SQLite buffer, then again step by step to name the step behind the longest stall. With --daemon, the
 * built agent (dist/, `npm run build`) also takes the file while connected to mosquitto with a 5 s
 * keepalive, and the broker's log is checked for a timed-out client. Prints figures; asserts nothing.
 *
 *   npx tsx scripts/bench-pm.ts [cells=5000] [counters=8] [--daemon] [--keep (the temporary files)]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runDaemon } from './bench-pm/daemon-run.js';
import { counterNames, lastPeriodEndMs, writeGnbFile, type GnbFileOptions } from './bench-pm/gnb-file.js';
import { importThroughSource } from './bench-pm/in-process.js';
import { formatLoop } from './bench-pm/loop-probe.js';
import { importByStep } from './bench-pm/steps.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { daemon: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
});
const cells = Number(positionals[0] ?? 5_000);
const counters = Number(positionals[1] ?? 8);
if (!Number.isInteger(cells) || cells < 1 || !Number.isInteger(counters) || counters < 1) {
  throw new Error('usage: npx tsx scripts/bench-pm.ts [cells] [counters] [--daemon]');
}

interface Variant {
  name: string;
  file: string;
  encoding: GnbFileOptions['encoding'];
  gzip: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'measType/r', file: 'r.xml', encoding: 'r', gzip: false },
  { name: 'measType/r, gzip', file: 'r.xml.gz', encoding: 'r', gzip: true },
  { name: 'measTypes/measResults', file: 'lists.xml', encoding: 'lists', gzip: false },
];

const features = counterNames(counters);
const endMs = lastPeriodEndMs();
const root = await mkdtemp(join(tmpdir(), 'cellwatch-bench-pm-'));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const ms = (v: number) => `${v.toFixed(0)} ms`;

console.log(
  `file: ${cells} cells × ${counters} counters, one 15-minute period; node ${process.version}; ` +
    `longest synchronous stretch shown as "max gap"`,
);
for (const [index, variant] of VARIANTS.entries()) {
  const dir = join(root, String(index));
  await mkdir(dir);
  const options = { cells, counters, encoding: variant.encoding, gzip: variant.gzip, endMs };
  const written = await writeGnbFile(join(dir, variant.file), options);

  const steps = await importByStep(written.path, join(dir), features);
  const result = await importThroughSource(written.path, join(dir, 'source'), features);
  const rowsPerS = result.rows / (result.importMs / 1000);
  console.log(
    `\n${variant.name}: ${mib(written.bytes)}, ${written.measInfos} measInfo, ${written.blocks} measValue blocks`,
  );
  console.log(
    `  PmSource → SQLite: ${result.rows} rows in ${ms(result.importMs)} (${rowsPerS.toFixed(0)} rows/s, ` +
      'with the two 50 ms scans that find the file)',
  );
  console.log(
    `  buffered ${result.storedRows} rows in ${result.batches} batches, ledger ${result.ledgerBlocks} blocks, ` +
      `issues ${result.issues.length}`,
  );
  console.log(`  ${formatLoop(result.loop)}`);
  for (const step of steps) {
    console.log(`  step ${step.step.padEnd(19)} ${ms(step.ms).padStart(8)}, max gap ${ms(step.loop.maxGapMs)}`);
  }
}

if (flags.daemon) {
  const dir = join(root, 'daemon');
  await mkdir(dir);
  const written = await writeGnbFile(join(dir, 'gnb.xml'), { cells, counters, encoding: 'r', gzip: false, endMs });
  const run = await runDaemon(written.path, dir, features);
  console.log(`\ncellwatch run (dist/) with mosquitto, keepalive ${run.keepaliveS} s, ${mib(written.bytes)} file:`);
  console.log(`  file in done/ after ${ms(run.importMs)}; rows buffered ${run.storedRows}`);
  console.log(`  agent ${formatLoop(run.loop)}`);
  console.log(
    `  broker: ${run.connects} connect(s) of the agent, ${run.timeouts.length} keepalive timeout(s)` +
      (run.timeouts.length > 0 ? `: ${run.timeouts.join(' | ')}` : ''),
  );
}

if (flags.keep) console.log(`\nfiles kept in ${root}`);
else await rm(root, { recursive: true, force: true });
