import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { MaintenanceCalendar } from '../detect/maintenance.js';
import { linkOptions } from './link-options.js';
import { loadPipelineModel } from './scorer.js';

/**
 * Everything `run` would refuse at start-up, checked without starting: the TLS files can be read and every
 * pipeline's model loads in onnxruntime and fits its pipeline. (Schema and secrets are checked by loading.)
 * Returns one line per pipeline for the operator.
 */
export async function checkConfiguration(config: Config, secrets: Secrets): Promise<string[]> {
  const will = () => ({ topic: '', payload: '', qos: 0 as const, retain: false });
  await linkOptions(config, secrets, will);
  MaintenanceCalendar.fromConfig(config.maintenance);
  const lines: string[] = [];
  for (const pipeline of config.pipelines) {
    if (!pipeline.model) {
      lines.push(`pipeline ${pipeline.name}: ${pipeline.source.type} source, no model (rows recorded, not scored)`);
      continue;
    }
    const session = await loadPipelineModel(pipeline);
    const { modelId, modelVersion, layout } = session.info.contract;
    const model = `model ${modelId}@${modelVersion}, ${layout.kpis.length} KPIs`;
    lines.push(`pipeline ${pipeline.name}: ${pipeline.source.type} source, ${model}`);
    await session.close();
  }
  return lines;
}
