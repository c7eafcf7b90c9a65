import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { TIME_FEATURES, type TimeFeature } from '../features/time-features.js';
import { inputColumns, type Layout } from '../model/contract.js';
import type { EpochReport } from '../model/trainer.js';
import { TRAIN_DEFAULTS, trainModel, variantShape, type TrainReport } from '../train/train.js';
import { VARIANT_NAMES, type VariantName } from '../train/variants.js';
import { fixed, printIssues, table } from './output.js';
import { addPmInputOptions, pmTableOptions, type PmInputFlags } from './pm-input.js';
import { integer, integerList, list, oneOf, real } from './parse.js';

interface TrainFlags extends PmInputFlags {
  input: string;
  output: string;
  entity?: string;
  features?: string[];
  timestampColumn?: string;
  entityColumns?: string[];
  maintenance?: string;
  variant: VariantName;
  normalize: 'per_entity' | 'global';
  window?: number;
  timeFeatures?: TimeFeature[];
  hidden?: number[];
  bottleneck?: number;
  trimPercentile?: number;
  scoreLagDecay?: number;
  seasonality?: 'none' | 'hour_of_day';
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  validationFraction: number;
  thresholdPercentile: number;
  maxFillRows: number;
  utcOffsetMinutes: number;
  seed: number;
  modelId?: string;
  modelVersion: number;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const command = program
    .command('train')
    .description('train an autoencoder on a KPI file or a folder of PM files and write it as an ONNX model')
    .requiredOption('--input <path>', 'KPI rows: .csv or .jsonl, optionally .gz; or a folder of 3GPP PM / VES files')
    .requiredOption('--output <model>', 'ONNX file to write')
    .option('--entity <column>', 'entity column normalised on its own (default: the most specific present)')
    .option('--features <list>', 'KPI columns, in model order (default: the default KPI set, else all)', list)
    .option('--timestamp-column <name>', 'timestamp column', 'timestamp')
    .option('--entity-columns <list>', 'entity columns (default: site, sector, cell, host… as present)', list)
    .option('--maintenance <file>', 'labels file; rows with maintenance=1 are left out of training')
    .addOption(new Option('--variant <name>', 'model variant').choices(VARIANT_NAMES).default(d.variant))
    .addOption(
      new Option('--normalize <mode>', 'z-score per entity or globally')
        .choices(['per_entity', 'global'])
        .default(d.normalize),
    )
    .addOption(
      new Option('--seasonality <mode>', 'normalise per local hour of day, or not').choices(['none', 'hour_of_day']),
    )
    .option('--window <rows>', 'rows per input: current row and the ones before it', integer(1, 64))
    .option('--time-features <list>', `calendar features: ${TIME_FEATURES.join(', ')} or none`, timeFeatureList)
    .option('--hidden <sizes>', 'hidden layer sizes of the encoder, e.g. 32,16', integerList)
    .option('--bottleneck <units>', 'bottleneck units', integer(1, 1024))
    .option(
      '--trim-percentile <p>',
      'keep training rows up to this error percentile for a second fit; 100 = off',
      real(50, 100),
    )
    .option('--score-lag-decay <x>', 'weight of earlier window rows in the score, per row back', real(0, 1))
    .option('--epochs <n>', 'maximum epochs', integer(1, 10_000), d.maxEpochs)
    .option('--patience <n>', 'epochs without validation improvement before stopping', integer(1, 1000), d.patience)
    .option('--batch-size <n>', 'mini-batch size', integer(1, 65_536), d.batchSize)
    .option('--learning-rate <x>', 'Adam learning rate', real(1e-7, 1), d.learningRate)
    .option('--validation-fraction <x>', 'share of rows held out for validation', real(0.01, 0.9), d.validationFraction)
    .option(
      '--threshold-percentile <p>',
      'threshold percentile of validation scores',
      real(50, 99.999),
      d.thresholdPercentile,
    )
    .option('--max-fill-rows <n>', 'rows a missing KPI is forward-filled for', integer(0, 10_000), d.maxFillRows)
    .option(
      '--utc-offset-minutes <n>',
      'local time offset for calendar features',
      integer(-840, 840),
      d.utcOffsetMinutes,
    )
    .option('--seed <n>', 'random seed', integer(0, 2 ** 31 - 1), d.seed)
    .option('--model-id <id>', 'model id (default: the output file name)')
    .option('--model-version <n>', 'model version', integer(1), d.modelVersion)
    .option('--json', 'print the report as JSON');
  addPmInputOptions(command).action(async (flags: TrainFlags) => {
    const shape = variantShape(flags.variant);
    const pm = await pmTableOptions(flags);
    const timeFeatures = flags.timeFeatures;
    const progress = flags.json || !process.stderr.isTTY ? undefined : newProgressBar();
    progress?.start(flags.epochs, 0, { loss: 'n/a' });
    // Without a terminal (a log, a pipe, systemd) a line every few epochs shows the run is alive.
    const onEpoch = (r: EpochReport) => {
      if (progress) progress.update(r.epoch, { loss: fixed(r.validationLoss, 4) });
      else if (!flags.json && (r.epoch === 1 || r.epoch % 5 === 0)) {
        process.stderr.write(
          `training: epoch ${r.epoch}/${flags.epochs}, validation loss ${fixed(r.validationLoss, 4)}\n`,
        );
      }
    };
    let report: TrainReport;
    try {
      report = await trainModel(
        {
          ...TRAIN_DEFAULTS,
          ...shape,
          window: flags.window ?? shape.window,
          timeFeatures: timeFeatures ?? shape.timeFeatures,
          hidden: flags.hidden ?? shape.hidden,
          bottleneck: flags.bottleneck ?? shape.bottleneck,
          trimPercentile: flags.trimPercentile ?? shape.trimPercentile,
          scoreLagDecay: flags.scoreLagDecay ?? shape.scoreLagDecay,
          seasonality: flags.seasonality ?? shape.seasonality,
          input: flags.input,
          output: flags.output,
          maintenanceFile: flags.maintenance,
          schema: {
            timestampColumn: flags.timestampColumn,
            entityColumns: flags.entityColumns ?? pm.entityColumns,
            features: flags.features ?? pm.features,
            pm: pm.pm,
          },
          entity: flags.entity,
          normalize: flags.normalize,
          variant: flags.variant,
          learningRate: flags.learningRate,
          batchSize: flags.batchSize,
          maxEpochs: flags.epochs,
          patience: flags.patience,
          validationFraction: flags.validationFraction,
          thresholdPercentile: flags.thresholdPercentile,
          maxFillRows: flags.maxFillRows,
          utcOffsetMinutes: flags.utcOffsetMinutes,
          seed: flags.seed,
          modelId: flags.modelId ?? modelIdFrom(flags.output),
          modelVersion: flags.modelVersion,
        },
        onEpoch,
      );
    } finally {
      progress?.stop();
    }
    if (flags.json) {
      const { history, contract, ...rest } = report;
      console.log(
        JSON.stringify({ ...rest, history, training: contract.training, threshold: contract.scoring.threshold }),
      );
      return;
    }
    printTrainReport(report);
  });
}

function newProgressBar() {
  return new cliProgress.SingleBar(
    {
      format: 'training |{bar}| epoch {value}/{total} · validation loss {loss}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

function modelIdFrom(path: string): string {
  const base = path.split('/').pop() ?? 'model';
  return base.replace(/\.onnx$/, '') || 'model';
}

function printTrainReport(report: TrainReport): void {
  const t = report.contract.training;
  const { layout, scoring } = report.contract;
  const width = inputColumns(layout).length;
  const hidden = t?.hidden ?? [];
  console.log(`trained ${report.contract.modelId} v${report.contract.modelVersion} → ${report.output}`);
  printIssues(report.issues, report.issueCount);
  if (report.maintenanceIssues.length > 0)
    console.log('maintenance file lines not read (their rows stay in training):');
  printIssues(report.maintenanceIssues, report.maintenanceIssues.length);
  console.log(
    table([
      ['variant', t?.variant ?? ''],
      ['features', layout.kpis.join(', ')],
      ['input columns', inputText(layout)],
      ['architecture', [width, ...hidden, t?.bottleneck ?? 0, ...[...hidden].reverse(), width].join(' → ')],
      ['normalisation', normalisationText(report)],
      ['rows read', report.inputRows],
      ['maintenance rows left out', report.maintenanceRowsExcluded],
      [
        'rows skipped',
        Object.entries(report.skipped)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ],
      ['input issues', report.issueCount],
      ['train / validation rows', `${t?.rows ?? 0} / ${t?.validationRows ?? 0}`],
      ['epochs (best)', `${t?.epochs ?? 0} (${t?.bestEpoch ?? 0})`],
      ['loss train / validation', `${fixed(t?.trainLoss ?? NaN, 4)} / ${fixed(t?.validationLoss ?? NaN, 4)}`],
      ['threshold', `${fixed(scoring.threshold, 4)} (p${scoring.thresholdPercentile} of validation scores)`],
      ['model size', `${(report.modelBytes / 1024).toFixed(1)} KiB`],
      ['seconds', report.durationS.toFixed(1)],
    ]),
  );
}

function normalisationText(report: TrainReport): string {
  const n = report.contract.normalization;
  const hourly = n.seasonality === 'hour_of_day' ? ', per local hour' : '';
  return `${n.mode} on ${n.entityColumns.join('/') || '-'}${hourly} (${report.entities} buckets)`;
}

function inputText(layout: Layout): string {
  const time = layout.timeFeatures.join('+') || 'none';
  const width = inputColumns(layout).length;
  return `${width} (window ${layout.window}, time ${time}, frozen share ${layout.frozenShare ? 'yes' : 'no'})`;
}

/** "none" or a list of time features; commander reports anything else against the option. */
function timeFeatureList(text: string): TimeFeature[] {
  const items = list(text);
  if (items.length === 1 && items[0] === 'none') return [];
  return items.map(oneOf(TIME_FEATURES));
}
