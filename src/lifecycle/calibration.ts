import type { SampleStore } from '../buffer/samples.js';
import type { PipelineConfig } from '../config/schema.js';
import { CellwatchError } from '../errors.js';
import type { ModelSession } from '../model/session.js';
import { SummaryPeriod } from '../report/summary.js';
import { entityValues } from '../agent/entity-key.js';
import { PipelineScorer, type ScorerServices } from '../agent/scorer.js';

export interface CalibrationLimits {
  /** Recent buffered rows the candidate scores. */
  rows: number;
  /** With fewer scored rows the check says nothing and is skipped. */
  minRows: number;
  /** Refused above this multiple of the share the threshold percentile promises. */
  maxFactor: number;
}

export interface CalibrationResult {
  rowsScored: number;
  rowsFlagged: number;
  /** Share of the scored rows the candidate flags. */
  flaggedShare: number;
  /** Share its own threshold percentile promises: 0.05 for p95. */
  promisedShare: number;
  /** False when there were too few rows to judge. */
  checked: boolean;
}

/**
 * Score the site's recent buffered rows with a candidate model, recording nothing and raising no alarm, and
 * compare the share it flags with the share its threshold percentile promises. A model trained on another
 * site, another season or broken data flags far more: it is refused before it can flood the central side.
 * The rows are the site's real recent traffic, anomalies included, so a margin (maxFactor) is allowed.
 */
export async function checkCalibration(
  config: PipelineConfig,
  session: ModelSession,
  services: ScorerServices & { samples: SampleStore },
  limits: CalibrationLimits,
): Promise<CalibrationResult> {
  const rows = services.samples.recent(config.name, limits.rows);
  const scorer = new PipelineScorer(config, session, services, true);
  const summary = new SummaryPeriod(scorer.features, Date.now());
  const samples = rows.map((r) => ({ timestampMs: r.timestampMs, entity: entityValues(r.entity), values: r.values }));
  for (let i = 0; i < samples.length; i += config.batchSize) {
    await scorer.score(samples.slice(i, i + config.batchSize), summary);
  }
  const { rowsScored, rowsFlagged } = scorer;
  const promisedShare = 1 - session.info.contract.scoring.thresholdPercentile / 100;
  const flaggedShare = rowsScored > 0 ? rowsFlagged / rowsScored : 0;
  const result = { rowsScored, rowsFlagged, flaggedShare, promisedShare, checked: rowsScored >= limits.minRows };
  if (scorer.runFailures > 0) {
    throw new CellwatchError('MODEL_RUNTIME', 'the model failed to score recent rows', { ...result });
  }
  if (result.checked && flaggedShare > limits.maxFactor * promisedShare) {
    const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
    throw new CellwatchError(
      'BUNDLE_CALIBRATION',
      `the model flags ${pct(flaggedShare)} of ${rowsScored} recent rows; its threshold promises ` +
        `${pct(promisedShare)} (limit ${limits.maxFactor}×)`,
      { ...result, maxFactor: limits.maxFactor },
    );
  }
  return result;
}
