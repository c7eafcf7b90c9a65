import { TRAIN_DEFAULTS, trainModel, variantShape } from '../train/train.js';
import { serveOneRequest } from './child-launch.js';
import type { TrainChildReply, TrainChildRequest } from './local-training.js';

/**
 * The other side of local-training.ts: trains one model with the defaults of `cellwatch train` and the
 * agent's pipeline (entities, features), writes it where asked, replies once and exits.
 */
async function train(request: TrainChildRequest): Promise<TrainChildReply> {
  const report = await trainModel({
    ...TRAIN_DEFAULTS,
    ...variantShape(TRAIN_DEFAULTS.variant),
    input: request.input,
    output: request.output,
    maintenanceFile: undefined,
    schema: { timestampColumn: 'timestamp', entityColumns: request.entityColumns, features: request.features },
    entity: undefined,
    maxEpochs: request.maxEpochs,
    utcOffsetMinutes: request.utcOffsetMinutes,
    modelId: request.modelId,
    modelVersion: request.modelVersion,
  });
  const training = report.contract.training;
  return {
    type: 'result',
    figures: {
      durationS: report.durationS,
      rows: report.inputRows,
      // The trainer's "entities" counts normalisation buckets (with hour_of_day seasonality, entity and hour).
      normalizationBuckets: report.entities,
      epochs: training?.epochs ?? 0,
      threshold: report.contract.scoring.threshold,
      validationLoss: training?.validationLoss ?? Number.NaN,
    },
  };
}

serveOneRequest(train, 'MODEL_TRAIN');
