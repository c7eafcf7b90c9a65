import { CellwatchError } from '../errors.js';

/** A pipeline that cannot run as configured: named, with what did not fit. */
export function pipelineError(pipeline: string, message: string, details: Record<string, unknown> = {}) {
  return new CellwatchError('CONFIG_PIPELINE', `pipeline ${pipeline}: ${message}`, { pipeline, ...details });
}
