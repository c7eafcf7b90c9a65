import { pause, SampleBatcher, type SourceEvent } from './hand-over.js';
import type { SourceSink } from './source.js';

/**
 * Replay: play a recorded file as if it were live, each row handed over when its own timestamp comes
 * round on a clock that runs `speed` times faster than real time.
 */

export interface ReplayOptions {
  /** 3600 plays an hour of rows in a second; 0 hands rows over as fast as the sink takes them. */
  speed: number;
  /** Rows at or before this instant were buffered by an earlier run: skipped, and not waited for. */
  resumeAfterMs: number;
}

/**
 * A late replay (a slow sink, a suspended host) is not made up for in a burst: once it falls this far
 * behind the file's clock, the clock restarts from the row at hand, so the pace stays `speed`.
 */
const LATE_RESTART_MS = 1_000;

/** Maps file time to wall time and waits for it. */
class Pacer {
  private anchor: { fileMs: number; wallMs: number } | undefined;

  constructor(
    private readonly speed: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Wait until the row's turn; false when stopped meanwhile. */
  async waitFor(timestampMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.anchor === undefined) {
      this.anchor = { fileMs: timestampMs, wallMs: now };
      return !this.signal.aborted;
    }

    const dueMs = this.anchor.wallMs + (timestampMs - this.anchor.fileMs) / this.speed;
    if (now - dueMs > LATE_RESTART_MS) this.anchor = { fileMs: timestampMs, wallMs: now };
    // A gap of days at a low speed is a wait of days: pause() steps past the timer limit and stop() ends it.
    return dueMs > now ? pause(dueMs - now, this.signal) : !this.signal.aborted;
  }
}

/**
 * Hand over every sample of `events` in file order, pacing by timestamp. Rows that share a timestamp go
 * over in one batch (at speed 0, consecutive rows fill batches regardless of timestamp: nothing waits).
 * Returns 'ended' at the end of the file, 'stopped' when the signal aborted first; a read error mid-file
 * is thrown to the caller after the rows before it were handed over.
 */
export async function replay(
  events: AsyncIterable<SourceEvent>,
  options: ReplayOptions,
  sink: SourceSink,
  signal: AbortSignal,
): Promise<'ended' | 'stopped'> {
  const batcher = new SampleBatcher(sink, signal);
  const pacer = options.speed > 0 ? new Pacer(options.speed, signal) : undefined;
  let pacedMs: number | undefined;

  for await (const event of events) {
    if (signal.aborted) return 'stopped';
    if (event.kind === 'issue') {
      batcher.issue(event.issue);
      continue;
    }

    const { timestampMs } = event.sample;
    if (timestampMs <= options.resumeAfterMs) continue;
    if (pacer && timestampMs !== pacedMs) {
      await batcher.flush();
      if (!(await pacer.waitFor(timestampMs))) return 'stopped';
      pacedMs = timestampMs;
    }
    await batcher.add(event.sample);
  }

  await batcher.flush();
  return signal.aborted ? 'stopped' : 'ended';
}
