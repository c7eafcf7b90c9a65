/**
 * Convert one machine of the Server Machine Dataset (SMD) to cellwatch's wide CSV.
 *
 * SMD rows have no header and no timestamps: row i is start + i minutes. Columns become m01..m38 (1-based,
 * as the interpretation labels count them) and the machine name goes into a `host` entity column.
 *
 *   npx tsx scripts/smd-to-csv.ts ../shared/data/smd machine-1-6 out/smd
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { formatTimestamp } from '../src/io/timestamp.js';

const [smdDir, machine, outDir] = process.argv.slice(2);
if (!smdDir || !machine || !outDir) {
  console.error('usage: smd-to-csv.ts SMD_DIR MACHINE OUT_DIR');
  process.exit(2);
}
const START_MS = Date.UTC(2026, 0, 1);
const STEP_MS = 60_000;

async function* lines(path: string): AsyncGenerator<string> {
  for await (const line of createInterface({
    input: createReadStream(path).pipe(createGunzip()),
    crlfDelay: Infinity,
  })) {
    if (line.trim() !== '') yield line;
  }
}

async function convert(part: 'train' | 'test'): Promise<number> {
  const out = createWriteStream(join(outDir as string, `${machine}_${part}.csv`));
  let i = 0;
  for await (const line of lines(join(smdDir as string, `${machine}_${part}.csv.gz`))) {
    const values = line.split(',');
    if (i === 0) out.write(`timestamp,host,${values.map((_, k) => `m${String(k + 1).padStart(2, '0')}`).join(',')}\n`);
    out.write(`${formatTimestamp(START_MS + i * STEP_MS)},${machine},${values.join(',')}\n`);
    i++;
  }
  out.end();
  await finished(out);
  return i;
}

async function labels(): Promise<number> {
  const out = createWriteStream(join(outDir as string, `${machine}_test_labels.csv`));
  out.write('timestamp,host,label\n');
  let i = 0;
  for await (const line of lines(join(smdDir as string, `${machine}_test_label.csv.gz`))) {
    out.write(`${formatTimestamp(START_MS + i * STEP_MS)},${machine},${line.trim()}\n`);
    i++;
  }
  out.end();
  await finished(out);
  return i;
}

await mkdir(outDir, { recursive: true });
const counts = { train: await convert('train'), test: await convert('test'), labels: await labels() };
console.log(JSON.stringify({ machine, ...counts }));
