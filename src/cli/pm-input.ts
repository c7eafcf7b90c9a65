import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { PipelineConfig, PmSourceConfig } from '../config/schema.js';
import { CellwatchError } from '../errors.js';
import type { TableOptions } from '../io/read-table.js';

export interface PmInputFlags {
  pmConfig?: string;
  pipeline?: string;
}

/** The options `train` and `score` share for an input that is a folder of PM files. */
export function addPmInputOptions(command: Command): Command {
  return command
    .option(
      '--pm-config <file>',
      "for a folder of PM files: read them with this agent configuration's pm pipeline (rules, entities, KPIs)",
    )
    .option('--pipeline <name>', 'the pm pipeline of --pm-config to take (default: its only pm pipeline)');
}

/**
 * How a folder of PM files is read offline: with the rules of the agent's own pm pipeline, so a model is
 * trained on exactly the rows the site will score, or with the defaults when no configuration is named.
 * Options given on the command line (entity columns, features) win over the pipeline's.
 */
export async function pmTableOptions(
  flags: PmInputFlags,
): Promise<Pick<TableOptions, 'pm' | 'entityColumns' | 'features'>> {
  if (flags.pmConfig === undefined) {
    if (flags.pipeline !== undefined) throw new CellwatchError('USAGE', '--pipeline needs --pm-config');
    return {};
  }
  const config = await loadConfig(flags.pmConfig);
  const pipeline = pickPipeline(config.pipelines, flags.pipeline, flags.pmConfig);
  const source = pipeline.source as PmSourceConfig;
  return {
    pm: {
      rules: { format: source.format, entities: source.entities, counters: source.counters, kpis: source.kpis },
      fixedEntity: pipeline.entity.fixed,
    },
    entityColumns: [...pipeline.entity.columns],
    features: pipeline.features ? [...pipeline.features] : undefined,
  };
}

function pickPipeline(pipelines: readonly PipelineConfig[], name: string | undefined, path: string): PipelineConfig {
  const pm = pipelines.filter((p) => p.source.type === 'pm');
  if (name !== undefined) {
    const named = pipelines.find((p) => p.name === name);
    if (!named) {
      const names = pipelines.map((p) => p.name).join(', ');
      throw new CellwatchError('USAGE', `no pipeline "${name}" in ${path} (it has ${names})`, { pipeline: name });
    }
    if (named.source.type !== 'pm') {
      throw new CellwatchError('USAGE', `pipeline "${name}" reads a ${named.source.type} source, not PM files`, {
        pipeline: name,
      });
    }
    return named;
  }
  const [only, ...more] = pm;
  if (!only) throw new CellwatchError('USAGE', `${path} has no pipeline with a pm source`, { path });
  if (more.length > 0) {
    throw new CellwatchError('USAGE', `${path} has ${pm.length} pm pipelines: name one with --pipeline`, {
      pipelines: pm.map((p) => p.name),
    });
  }
  return only;
}
