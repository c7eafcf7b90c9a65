import type { PipelineConfig } from '../config/schema.js';
import { FileSource } from './file.js';
import type { Source, SourceContext } from './source.js';
import { SystemSource } from './system.js';

/** The source a pipeline's configuration names. New kinds (telecom performance files) plug in here. */
export function createSource(config: PipelineConfig, context: SourceContext): Source {
  const source = config.source;
  switch (source.type) {
    case 'system':
      return new SystemSource(source, context, config.intervalS * 1000);
    case 'file':
      return new FileSource(source, context);
  }
}
