/**
 * Speed and memory of the offline path on this machine: training time of a model configuration on a
 * generated data set, and scoring throughput through onnxruntime (batched, and one row at a time as the
 * agent scores a live row). Prints figures; asserts nothing.
 *
 *   npx tsx scripts/bench.ts [--sites 100] [--variant context] [--skip-train]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GENERATE_DEFAULTS, generateDataset } from '../src/generate/generator.js';
import { percentile } from '../src/model/calibrate.js';
import { ModelSession } from '../src/model/session.js';
import { Rng } from '../src/rng.js';
import { TRAIN_DEFAULTS, trainModel, variantShape } from '../src/train/train.js';
import { VARIANT_NAMES, type VariantName } from '../src/train/variants.js';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '100' },
    variant: { type: 'string', default: 'context' },
    out: { type: 'string', default: 'out/bench' },
    'skip-train': { type: 'boolean', default: false },
    model: { type: 'string', default: 'models/cell-context.onnx' },
  },
});
const variant = args.variant as VariantName;
if (!VARIANT_NAMES.includes(variant)) throw new Error(`variant must be one of ${VARIANT_NAMES.join(', ')}`);
const sites = Number(args.sites);
const dataDir = join(args.out, `data-${sites}`);

if (!existsSync(join(dataDir, 'train.csv'))) {
  const t = performance.now();
  await generateDataset({ ...GENERATE_DEFAULTS, outDir: dataDir, sites });
  console.log(
    `generate: ${sites} sites × 3 sectors × 60 days hourly in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}

let modelPath = args.model;
if (!args['skip-train']) {
  modelPath = join(args.out, `bench-${variant}.onnx`);
  const report = await trainModel({
    ...TRAIN_DEFAULTS,
    ...variantShape(variant),
    variant,
    input: join(dataDir, 'train.csv'),
    maintenanceFile: join(dataDir, 'train_labels.csv'),
    output: modelPath,
    schema: {},
    entity: undefined,
    modelId: `bench-${variant}`,
  });
  const t = report.contract.training;
  const epochs = report.history.length;
  console.log(
    `train ${variant}: ${report.durationS.toFixed(1)} s for ${t?.rows ?? 0} training rows, ${epochs} epochs in all ` +
      `(${(((t?.rows ?? 0) * epochs) / report.durationS / 1000).toFixed(1)} k row-epochs/s), ` +
      `peak RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
}

const session = await ModelSession.fromFile(modelPath, { intraOpThreads: 1 });
const rng = new Rng(1);
const width = session.width;
for (const batch of [1024, 64]) {
  const input = Float32Array.from({ length: batch * width }, () => rng.normal());
  const rounds = Math.ceil(200_000 / batch);
  await session.run(input, batch);
  const t = performance.now();
  for (let r = 0; r < rounds; r++) await session.run(input, batch);
  const seconds = (performance.now() - t) / 1000;
  console.log(
    `score batch ${batch}: ${Math.round((rounds * batch) / seconds)} rows/s (onnxruntime, 1 intra-op thread)`,
  );
}
const single = Float32Array.from({ length: width }, () => rng.normal());
const latencies: number[] = [];
for (let i = 0; i < 5000; i++) {
  const t = performance.now();
  await session.run(single, 1);
  latencies.push((performance.now() - t) * 1000);
}
console.log(
  `score one row: p50 ${percentile(latencies, 50).toFixed(0)} µs, p99 ${percentile(latencies, 99).toFixed(0)} µs; ` +
    `RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);
await session.close();
