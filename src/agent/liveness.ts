import type Database from 'better-sqlite3';
import type { Liveness } from '../service/watchdog.js';

/**
 * Scoring that has not finished a batch for this long is stuck (a hung model run, a hand-over that never
 * completes). Far above the slowest normal batch: a 5,000-cell PM file or a model swap takes seconds.
 */
export const STALL_LIMIT_MS = 120_000;

interface Stallable {
  readonly name: string;
  stalledForMs(nowMs: number): number;
}

/**
 * What the watchdog needs to know: the buffer answers and every pipeline's queue moves. A full disk is not a
 * failure here (the agent keeps scoring and reports it); a restart would not cure it.
 */
export function checkLiveness(db: Database.Database, pipelines: readonly Stallable[], nowMs: number): Liveness {
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    return { healthy: false, reason: `the buffer does not answer: ${(err as Error).message}` };
  }
  for (const pipeline of pipelines) {
    const stalledMs = pipeline.stalledForMs(nowMs);
    if (stalledMs > STALL_LIMIT_MS) {
      const stalledS = Math.round(stalledMs / 1000);
      return { healthy: false, reason: `pipeline ${pipeline.name} has not finished a batch for ${stalledS} s` };
    }
  }
  return { healthy: true };
}
