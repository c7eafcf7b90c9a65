import { CellwatchError } from '../errors.js';
import type { TableOptions } from '../io/read-table.js';
import type { RowIssue } from '../io/table.js';
import { percentile, scoresFromErrors, scoreWeights } from '../model/calibrate.js';
import { CONTRACT_VERSION, type Layout, type ModelContract } from '../model/contract.js';
import { checkWritable, writeFailure } from '../io/output-file.js';
import { checkDistinct } from '../io/source-file.js';
import { contractFromMetadata } from '../model/model-file.js';
import { contractToMetadata, roundToFloat32, writeOnnxModel } from '../model/onnx-export.js';
import type { DenseLayer } from '../model/network.js';
import { fitAutoencoder, squaredErrors, type EpochReport } from '../model/trainer.js';
import { VERSION } from '../version.js';
import {
  buildMatrix,
  computeNormalization,
  loadMaintenanceKeys,
  loadTable,
  normalisationColumns,
  rowKey,
} from './dataset.js';
import { VARIANTS, type ModelShape, type VariantName } from './variants.js';

export interface TrainOptions extends ModelShape {
  input: string;
  output: string;
  /** Labels-style file whose maintenance=1 rows are left out of training. */
  maintenanceFile: string | undefined;
  /** Columns and features of the input; for a folder of PM files, also how the files are read. */
  schema: TableOptions;
  /** Entity column whose values get their own normalisation; default the most specific present. */
  entity: string | undefined;
  normalize: 'per_entity' | 'global';
  variant: VariantName;
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  validationFraction: number;
  thresholdPercentile: number;
  maxFillRows: number;
  minRowsPerBucket: number;
  utcOffsetMinutes: number;
  seed: number;
  modelId: string;
  modelVersion: number;
}

export const TRAIN_DEFAULTS = {
  normalize: 'per_entity',
  variant: 'context',
  learningRate: 0.001,
  batchSize: 64,
  maxEpochs: 50,
  patience: 5,
  validationFraction: 0.1,
  thresholdPercentile: 95,
  maxFillRows: 3,
  minRowsPerBucket: 10,
  utcOffsetMinutes: 0,
  seed: 1,
  modelVersion: 1,
} as const;

/** The rows of a matrix whose weighted reconstruction error is at or below the given percentile. */
function trimWorstRows(
  layers: readonly DenseLayer[],
  matrix: Float32Array,
  width: number,
  lossWeights: Float64Array,
  keepPercentile: number,
): Float32Array {
  const rows = matrix.length / width;
  const all = Uint32Array.from({ length: rows }, (_, i) => i);
  const weights = Array.from(lossWeights);
  const scores = scoresFromErrors(squaredErrors(layers, matrix, width, all), weights);
  const cut = percentile(scores, keepPercentile);
  const kept = new Float32Array(matrix.length);
  let count = 0;
  for (let n = 0; n < rows; n++) {
    if ((scores[n] as number) > cut) continue;
    kept.set(matrix.subarray(n * width, (n + 1) * width), count++ * width);
  }
  return kept.subarray(0, count * width);
}

export interface TrainReport {
  output: string;
  modelBytes: number;
  contract: ModelContract;
  inputRows: number;
  maintenanceRowsExcluded: number;
  /** Lines of the maintenance file that could not be read. */
  maintenanceIssues: RowIssue[];
  issueCount: number;
  /** The first input issues, with their line numbers. */
  issues: RowIssue[];
  skipped: Record<string, number>;
  entities: number;
  durationS: number;
  history: EpochReport[];
}

export function variantShape(name: VariantName): ModelShape {
  const v = VARIANTS[name];
  return { ...v, timeFeatures: [...v.timeFeatures], hidden: [...v.hidden] };
}

/** Train an autoencoder on a KPI file and write it as an ONNX model that carries its own contract. */
export async function trainModel(options: TrainOptions, onEpoch?: (r: EpochReport) => void): Promise<TrainReport> {
  const started = performance.now();
  if (options.thresholdPercentile <= 0 || options.thresholdPercentile >= 100) {
    throw new CellwatchError('TRAIN_CONFIG', 'threshold percentile must be between 0 and 100', {});
  }
  if (options.modelId.trim() === '') throw new CellwatchError('TRAIN_CONFIG', 'model id must not be empty', {});
  await checkDistinct(options.input, options.output);
  if (options.maintenanceFile) await checkDistinct(options.maintenanceFile, options.output);
  await checkWritable(options.output);
  const table = await loadTable(options.input, options.schema);
  let excludedRows = 0;
  let maintenanceIssues: RowIssue[] = [];
  if (options.maintenanceFile) {
    const { keys, unreadable } = await loadMaintenanceKeys(options.maintenanceFile, table.schema);
    maintenanceIssues = unreadable;
    const before = table.rows.length;
    table.rows = table.rows.filter((row) => !keys.has(rowKey(row.timestampMs, row.entity)));
    excludedRows = before - table.rows.length;
  }
  const keyColumns = options.normalize === 'global' ? [] : normalisationColumns(table.schema, options.entity);
  const normalization = computeNormalization(table.rows, table.schema, {
    keyColumns,
    seasonality: options.seasonality,
    utcOffsetMinutes: options.utcOffsetMinutes,
    minRowsPerBucket: options.minRowsPerBucket,
  });
  const layout: Layout = {
    kpis: table.schema.features,
    window: options.window,
    frozenShare: options.frozenShare,
    timeFeatures: options.timeFeatures,
    utcOffsetMinutes: options.utcOffsetMinutes,
    maxFillRows: options.maxFillRows,
  };
  const data = buildMatrix(table.rows, table.schema, layout, normalization);

  const k = layout.kpis.length;
  const lossWeights = new Float64Array(data.width);
  for (let j = 0; j < layout.window * k; j++) lossWeights[j] = j < k ? 1 : options.lagLossWeight;
  if (layout.frozenShare) lossWeights[layout.window * k] = 1;
  const fitOptions = {
    hidden: options.hidden,
    bottleneck: options.bottleneck,
    learningRate: options.learningRate,
    batchSize: options.batchSize,
    maxEpochs: options.maxEpochs,
    patience: options.patience,
    validationFraction: options.validationFraction,
    seed: options.seed,
    lossWeights,
  };
  let fit = fitAutoencoder(data.matrix, data.width, fitOptions, onEpoch);
  let matrix = data.matrix;
  let trimmedRows = 0;
  if (options.trimPercentile < 100) {
    // The training data holds anomalies too. Drop the rows the first model reconstructs worst and train
    // again, so a recurring fault (a sleeping cell, a stuck feed) is not learned as one more normal state.
    const trimmed = trimWorstRows(fit.layers, data.matrix, data.width, lossWeights, options.trimPercentile);
    trimmedRows = data.rows - trimmed.length / data.width;
    matrix = trimmed;
    fit = fitAutoencoder(matrix, data.width, fitOptions, onEpoch);
  }

  // Calibrate on the held-out rows, with the float32 weights the ONNX file will hold.
  const layers = roundToFloat32(fit.layers);
  const validationErrors = squaredErrors(layers, matrix, data.width, fit.validationIndex);
  const weights = scoreWeights(layout, validationErrors, options.scoreWeighting, options.scoreLagDecay);
  const threshold = percentile(scoresFromErrors(validationErrors, weights), options.thresholdPercentile);
  const durationS = (performance.now() - started) / 1000;
  // SOURCE_DATE_EPOCH (reproducible-builds convention) pins what would differ between identical runs.
  const pinned = process.env.SOURCE_DATE_EPOCH;
  const createdAt = pinned ? new Date(Number(pinned) * 1000).toISOString() : new Date().toISOString();

  const contract: ModelContract = {
    contractVersion: CONTRACT_VERSION,
    modelId: options.modelId,
    modelVersion: options.modelVersion,
    layout,
    normalization,
    scoring: { weights, threshold, thresholdPercentile: options.thresholdPercentile },
    training: {
      variant: options.variant,
      rows: fit.trainRows,
      validationRows: fit.validationIndex.length,
      skippedRows: data.skipped.incomplete + data.skipped.warmup + data.skipped.out_of_order,
      trimmedRows,
      epochs: fit.epochs,
      bestEpoch: fit.bestEpoch,
      trainLoss: fit.trainLoss,
      validationLoss: fit.validationLoss,
      seed: options.seed,
      durationS: pinned ? 0 : Math.round(durationS * 10) / 10,
      createdAt,
      hidden: options.hidden,
      bottleneck: options.bottleneck,
      learningRate: options.learningRate,
      batchSize: options.batchSize,
    },
  };
  // Read the contract back as the agent will, so a model that could not be loaded is never written.
  contractFromMetadata(new Map(contractToMetadata(contract).map(({ key, value }) => [key, value])));
  let modelBytes: number;
  try {
    modelBytes = await writeOnnxModel(options.output, layers, contract, VERSION);
  } catch (err) {
    throw writeFailure(options.output, err);
  }
  return {
    output: options.output,
    modelBytes,
    contract,
    inputRows: table.rows.length + excludedRows,
    maintenanceRowsExcluded: excludedRows,
    maintenanceIssues,
    issueCount: table.issueCount,
    issues: table.issues,
    skipped: data.skipped,
    entities: Object.keys(normalization.entities).length,
    durationS,
    history: fit.history,
  };
}
