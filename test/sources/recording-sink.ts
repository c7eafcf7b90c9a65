import type { Sample, SourceContext, SourceIssue, SourceSink } from '../../src/sources/source.js';

/** A sink that keeps everything it is handed, and notes any call made after the test declared it closed. */
export class RecordingSink implements SourceSink {
  readonly batches: Sample[][] = [];
  readonly issues: SourceIssue[] = [];
  ended = false;
  closed = false;
  callsAfterClose = 0;
  /** Each samples() call takes this long, to stand for a slow buffer. */
  delayMs = 0;
  inProgress = 0;

  get received(): Sample[] {
    return this.batches.flat();
  }

  async samples(batch: Sample[]): Promise<void> {
    if (this.closed) this.callsAfterClose++;
    this.inProgress++;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    this.batches.push(batch);
    this.inProgress--;
  }

  issue(issue: SourceIssue): void {
    if (this.closed) this.callsAfterClose++;
    this.issues.push(issue);
  }

  end(): void {
    if (this.closed) this.callsAfterClose++;
    this.ended = true;
  }
}

/** Poll until `condition` holds; fail with `what` after `timeoutMs`. Generous by default: CI boxes are slow. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function context(overrides: Partial<SourceContext> = {}): SourceContext {
  return {
    pipeline: 'test',
    entityColumns: ['site'],
    fixedEntity: {},
    features: ['a', 'b'],
    resumeAfterMs: Number.NEGATIVE_INFINITY,
    ...overrides,
  };
}

/** A sample as plain data, for toEqual: NaN compares equal to NaN in arrays. */
export function plain(sample: Sample): { t: string; entity: string[]; values: number[] } {
  return { t: new Date(sample.timestampMs).toISOString(), entity: sample.entity, values: Array.from(sample.values) };
}
