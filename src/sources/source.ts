import type { ErrorCode } from '../errors.js';

/**
 * What every source hands the agent: one timestamped row of readings for one entity. Sources of every
 * kind (the host, CSV/JSONL files, telecom performance files) produce this and nothing else, so the buffer,
 * the scorer and the alarms never learn where a row came from.
 */
export interface Sample {
  timestampMs: number;
  /** Entity column values, in the pipeline's entity column order (e.g. ["SITE-042", "2"]). */
  entity: string[];
  /** One value per pipeline feature, in feature order; NaN marks a missing reading (never 0 or -1). */
  values: Float64Array;
  /** The source says the readings are unreliable (a 3GPP suspect flag): buffered, never scored or learnt from. */
  suspect?: boolean;
}

/** A problem a source met and contained: a bad row, a file it could not read, a call that failed. */
export interface SourceIssue {
  code: ErrorCode;
  message: string;
  /** Where: a file path, and a 1-based line when the problem is one row. */
  file?: string;
  line?: number;
}

export interface SourceSink {
  /**
   * Hand over rows, oldest first. The promise resolves once they are buffered; a source awaits it before
   * reading on, so a slow consumer slows the source down instead of piling rows up in memory.
   */
  samples(batch: Sample[]): Promise<void>;
  issue(issue: SourceIssue): void;
  /** A finite source (a replayed file) has handed over everything it will. */
  end(): void;
}

/** What a source needs to know about its pipeline, fixed at construction. */
export interface SourceContext {
  pipeline: string;
  /** Entity column names in order, and values for the columns the source's rows do not carry. */
  entityColumns: readonly string[];
  fixedEntity: Readonly<Record<string, string>>;
  /** Feature (KPI) names in order: Sample.values follows this order. */
  features: readonly string[];
  /** Rows at or before this instant were buffered by an earlier run: a replay skips them without pacing. */
  resumeAfterMs: number;
}

/**
 * A source of rows. The constructor only stores its settings; start() opens files, timers and watchers and
 * resolves once the source is running (not when it is exhausted); stop() ends them and waits for any read
 * or tick in progress, after which the sink is never called again.
 */
export interface Source {
  readonly kind: string;
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
  /** Sources that take whole files: how many were read and how many refused (quarantined), since start;
   * undefined when this source does not take files (a followed file). */
  fileCounts?(): { ingested: number; failed: number } | undefined;
}
