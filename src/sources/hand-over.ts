import { setTimeout as delay, setImmediate as yieldToLoop } from 'node:timers/promises';
import { isCellwatchError } from '../errors.js';
import type { Sample, SourceIssue, SourceSink } from './source.js';

/**
 * How the file modes hand rows to the agent: in batches, awaiting the sink for back-pressure, and never
 * again once stop() has aborted the source's signal (the Source contract: no sink call after stop()).
 */

/** What a file parser yields: a sample, or a problem it met and contained (a bad row, a bad cell). */
export type SourceEvent = { kind: 'sample'; sample: Sample } | { kind: 'issue'; issue: SourceIssue };

/** Big enough to make one buffer transaction worth its cost, small enough to keep a stop() prompt. */
export const MAX_BATCH_SAMPLES = 500;

/** setTimeout refuses delays past 2^31-1 ms (it fires at once instead), so longer waits go in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SampleBatcher {
  private batch: Sample[] = [];
  private sinkFailing = false;

  constructor(
    private readonly sink: SourceSink,
    private readonly signal: AbortSignal,
    private readonly maxSamples = MAX_BATCH_SAMPLES,
  ) {}

  get size(): number {
    return this.batch.length;
  }

  /** Timestamp of the newest sample waiting in the batch, if any. */
  get lastTimestampMs(): number | undefined {
    return this.batch.at(-1)?.timestampMs;
  }

  async add(sample: Sample): Promise<void> {
    this.batch.push(sample);
    if (this.batch.length >= this.maxSamples) await this.flush();
  }

  issue(issue: SourceIssue): void {
    if (!this.signal.aborted) this.sink.issue(issue);
  }

  /**
   * Hand the batch over and wait until it is buffered, then give the event loop a turn. A sink that refuses a
   * batch (a full disk) loses those rows but not the source: the refusal is reported once per run of refusals
   * and reading goes on.
   */
  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0 || this.signal.aborted) return;

    await this.handOver(batch);
    // The agent buffers a batch synchronously, so its promise settles as a microtask, which lets no timer run:
    // without this turn a file's rows would go into the buffer batch after batch in one stretch of the loop.
    await yieldToLoop();
  }

  private async handOver(batch: Sample[]): Promise<void> {
    try {
      await this.sink.samples(batch);
      this.sinkFailing = false;
    } catch (err) {
      if (this.sinkFailing) return;
      this.sinkFailing = true;
      this.issue({
        code: isCellwatchError(err) ? err.code : 'SOURCE_READ',
        message: `the agent refused ${batch.length} rows; they are lost: ${errorText(err)}`,
      });
    }
  }

  /** Route one parser event: samples into the batch, issues straight to the sink. */
  async take(event: SourceEvent): Promise<void> {
    if (event.kind === 'sample') await this.add(event.sample);
    else this.issue(event.issue);
  }
}

/** Wait, or return early when the signal aborts. True when the full time passed. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(left, MAX_TIMER_MS);
    try {
      await delay(step, undefined, { signal });
    } catch {
      return false;
    }
    left -= step;
  }
  return !signal.aborted;
}

/** Run `poll`, wait `pollMs`, and again, until the signal aborts. `poll` must contain its own faults. */
export async function pollUntilAborted(pollMs: number, signal: AbortSignal, poll: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    await poll();
    if (!(await pause(pollMs, signal))) return;
  }
}

/** An error as one line of text for an issue or a reason file. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
