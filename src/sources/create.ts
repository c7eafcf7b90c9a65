import type { PmLedger } from '../buffer/pm-ledger.js';
import type { PipelineConfig } from '../config/schema.js';
import { FileSource } from './file.js';
import { PmSource } from './pm/pm-source.js';
import type { Source, SourceContext } from './source.js';
import { SystemSource } from './system.js';

/** What some sources keep in the agent's buffer besides rows. */
export interface SourceServices {
  pmLedger: PmLedger;
}

/** The source a pipeline's configuration names. */
export function createSource(config: PipelineConfig, context: SourceContext, services: SourceServices): Source {
  const source = config.source;
  switch (source.type) {
    case 'system':
      return new SystemSource(source, context, config.intervalS * 1000);
    case 'file':
      return new FileSource(source, context);
    case 'pm':
      return new PmSource(source, context, services.pmLedger);
  }
}
