import { hostname } from 'node:os';
import type { SystemSourceConfig } from '../config/schema.js';
import { CellwatchError, isCellwatchError, type ErrorCode } from '../errors.js';
import { errorText } from './hand-over.js';
import type { Source, SourceContext, SourceSink } from './source.js';
import {
  isSystemFeature,
  SYSTEM_CALLS,
  SYSTEM_FEATURES,
  systemInformation,
  type Reading,
  type SystemCall,
  type SystemCollector,
  type SystemFeature,
} from './system-metrics.js';

export interface SystemSourceOptions {
  /** The library calls; default: systeminformation itself. Tests pass slow or failing ones. */
  collect?: SystemCollector;
}

export interface SystemSourceCounters {
  /** Ticks started. */
  ticks: number;
  /** Ticks not started because the previous one was still running. */
  skippedOverlaps: number;
  /** Call results missing from a tick because the call took longer than callTimeoutMs (or still ran). */
  callTimeouts: number;
  /** Calls that failed outright. */
  callFailures: number;
}

interface CallState {
  call: SystemCall;
  /** A call abandoned by an earlier tick that has not answered yet: not started again until it does. */
  pending: Promise<Reading> | undefined;
  /** Reported as failing; cleared by the next good answer, so a burst of failures is one issue. */
  failing: boolean;
}

type Outcome = { kind: 'value'; value: Reading } | { kind: 'error'; error: unknown } | { kind: 'timeout' | 'stopped' };

/**
 * The controller's own KPIs, sampled every `intervalMs` with wall-clock timestamps. Ticks never overlap:
 * one still running when the next is due makes that one skip. Each library call runs under a timeout; a
 * call that misses it leaves its KPIs missing for the tick and is not started again while it still runs,
 * so a hung `df` or sensor read cannot pile up processes or hold the other KPIs back.
 */
export class SystemSource implements Source {
  readonly kind = 'system';
  private readonly counts: SystemSourceCounters = { ticks: 0, skippedOverlaps: 0, callTimeouts: 0, callFailures: 0 };
  private calls: CallState[] = [];
  private entity: string[] = [];
  private featureIndex = new Map<SystemFeature, number>();
  private sink: SourceSink | undefined;
  private sinkFailing = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private abort = new AbortController();

  constructor(
    private readonly config: SystemSourceConfig,
    private readonly context: SourceContext,
    private readonly intervalMs: number,
    private readonly options: SystemSourceOptions = {},
  ) {}

  async start(sink: SourceSink): Promise<void> {
    if (this.timer) throw new CellwatchError('USAGE', `source of pipeline ${this.context.pipeline} already started`);
    this.featureIndex = this.resolveFeatures();
    this.entity = this.resolveEntity();
    const needed = SYSTEM_CALLS.filter((call) => call.features.some((f) => this.featureIndex.has(f)));
    this.calls = needed.map((call) => ({ call, pending: undefined, failing: false }));

    this.sink = sink;
    this.abort = new AbortController();
    this.onTimer();
    this.timer = setInterval(() => this.onTimer(), this.intervalMs);
    return Promise.resolve();
  }

  /**
   * No new ticks. A tick still waiting on its calls is cut short (the calls abandoned) and hands nothing over;
   * one already handing its sample over is waited for.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.ticking;
  }

  counters(): SystemSourceCounters {
    return { ...this.counts };
  }

  private resolveFeatures(): Map<SystemFeature, number> {
    const unknown = this.context.features.filter((f) => !isSystemFeature(f));
    if (unknown.length > 0) {
      throw new CellwatchError(
        'CONFIG_PIPELINE',
        `pipeline ${this.context.pipeline}: the system source has no feature ${unknown.join(', ')} ` +
          `(it has ${SYSTEM_FEATURES.join(', ')})`,
        { pipeline: this.context.pipeline, unknown },
      );
    }
    return new Map(this.context.features.map((f, i) => [f as SystemFeature, i]));
  }

  /** Entity values are all fixed, except `host`, which is this machine's name unless fixed. */
  private resolveEntity(): string[] {
    const { entityColumns, fixedEntity, pipeline } = this.context;
    const unnamed = entityColumns.filter((c) => fixedEntity[c] === undefined && c !== 'host');
    if (unnamed.length > 0) {
      throw new CellwatchError(
        'CONFIG_PIPELINE',
        `pipeline ${pipeline}: entity column ${unnamed.join(', ')} needs a fixed value for the system source`,
        { pipeline, columns: unnamed },
      );
    }
    return entityColumns.map((c) => fixedEntity[c] ?? hostname());
  }

  private onTimer(): void {
    if (this.ticking) {
      this.counts.skippedOverlaps++;
      return;
    }
    this.ticking = this.tick().finally(() => (this.ticking = undefined));
  }

  /** One sample. Never rejects: every fault is reported through the sink and counted. */
  private async tick(): Promise<void> {
    const timestampMs = Date.now();
    this.counts.ticks++;
    const readings = await Promise.all(this.calls.map((state) => this.read(state)));
    if (this.abort.signal.aborted || this.sink === undefined) return;

    const values = new Float64Array(this.featureIndex.size).fill(Number.NaN);
    for (const reading of readings) {
      for (const [feature, value] of Object.entries(reading) as Array<[SystemFeature, number]>) {
        const index = this.featureIndex.get(feature);
        if (index !== undefined) values[index] = value;
      }
    }

    try {
      await this.sink.samples([{ timestampMs, entity: [...this.entity], values }]);
      this.sinkFailing = false;
    } catch (err) {
      if (!this.sinkFailing) this.report(isCellwatchError(err) ? err.code : 'SOURCE_SYSTEM', errorText(err));
      this.sinkFailing = true;
    }
  }

  private async read(state: CallState): Promise<Reading> {
    const { call } = state;
    if (state.pending) {
      this.counts.callTimeouts++;
      return {};
    }

    const pending = call.read(this.options.collect ?? systemInformation, this.config.iface);
    state.pending = pending;
    const settled = () => {
      if (state.pending === pending) state.pending = undefined;
    };
    pending.then(settled, settled);

    const outcome = await settleWithin(pending, this.config.callTimeoutMs, this.abort.signal);
    switch (outcome.kind) {
      case 'value':
        state.failing = false;
        return outcome.value;
      case 'timeout':
        this.counts.callTimeouts++;
        this.callFailed(state, `took longer than ${this.config.callTimeoutMs} ms`);
        return {};
      case 'error':
        this.counts.callFailures++;
        this.callFailed(state, `failed: ${errorText(outcome.error)}`);
        return {};
      case 'stopped':
        return {};
    }
  }

  private callFailed(state: CallState, why: string): void {
    if (state.failing || this.abort.signal.aborted) return;
    state.failing = true;
    const kpis = state.call.features.filter((f) => this.featureIndex.has(f)).join(', ');
    this.report('SOURCE_SYSTEM', `systeminformation ${state.call.name} ${why}; ${kpis} missing until it answers`);
  }

  private report(code: ErrorCode, message: string): void {
    if (!this.abort.signal.aborted) this.sink?.issue({ code, message });
  }
}

/** The promise's outcome, or 'timeout' after `ms`, or 'stopped' when the signal aborts first. */
function settleWithin(promise: Promise<Reading>, ms: number, signal: AbortSignal): Promise<Outcome> {
  if (signal.aborted) return Promise.resolve({ kind: 'stopped' });
  return new Promise((resolve) => {
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => finish({ kind: 'stopped' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), ms);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => finish({ kind: 'value', value }),
      (error: unknown) => finish({ kind: 'error', error }),
    );
  });
}
