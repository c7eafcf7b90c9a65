import { PmLedger } from '../buffer/pm-ledger.js';
import { AUTO_MODEL, type Config, type PipelineConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { MaintenanceCalendar } from '../detect/maintenance.js';
import { modelsTrust } from '../lifecycle/models-config.js';
import { pmRowBuilder } from '../sources/pm/pm-source.js';
import { linkOptions } from './link-options.js';
import { loadPipelineModel } from './scorer.js';

/** A PM source's entity rules and KPI formulas must fit the pipeline's entity columns and features. */
function checkPmSource(pipeline: PipelineConfig, features: readonly string[]): void {
  if (pipeline.source.type !== 'pm') return;
  const context = {
    pipeline: pipeline.name,
    entityColumns: pipeline.entity.columns,
    fixedEntity: pipeline.entity.fixed,
    features,
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
  pmRowBuilder(pipeline.source, context, PmLedger.inMemory());
}

/**
 * Everything `run` would refuse at start-up, checked without starting: the TLS files can be read, every
 * pipeline's model loads in onnxruntime and fits its pipeline, and so do a PM source's rules and formulas.
 * (Schema and secrets are checked by loading.) Returns one line per pipeline for the operator.
 */
export async function checkConfiguration(config: Config, secrets: Secrets): Promise<string[]> {
  const will = () => ({ topic: '', payload: '', qos: 0 as const, retain: false });
  await linkOptions(config, secrets, will);
  await modelsTrust(config);
  MaintenanceCalendar.fromConfig(config.maintenance);
  const lines: string[] = [];
  for (const pipeline of config.pipelines) {
    if (!pipeline.model || pipeline.model === AUTO_MODEL) {
      checkPmSource(pipeline, pipeline.features ?? []);
      const what =
        pipeline.model === AUTO_MODEL
          ? `model auto (trained on the box after ${pipeline.training.baselineHours} h of rows)`
          : 'no model (rows recorded, not scored until a model is pushed)';
      lines.push(`pipeline ${pipeline.name}: ${pipeline.source.type} source, ${what}`);
      continue;
    }
    const session = await loadPipelineModel(pipeline, pipeline.model);
    const { modelId, modelVersion, layout } = session.info.contract;
    await session.close();
    checkPmSource(pipeline, pipeline.features ?? layout.kpis);
    const model = `model ${modelId}@${modelVersion}, ${layout.kpis.length} KPIs`;
    lines.push(`pipeline ${pipeline.name}: ${pipeline.source.type} source, ${model}`);
  }
  return lines;
}
