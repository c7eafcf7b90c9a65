/**
 * How long the event loop was kept from turning, measured two ways that fail differently: Node's own
 * event-loop delay histogram (a libuv timer, fine-grained percentiles) and a plain setInterval that records
 * the largest gap between two of its ticks, which is what an MQTT keepalive timer would see. Memory is
 * sampled on the same tick, so peak RSS and heap belong to the measured stretch only.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Histogram resolution; the brief for this measurement asks for 10 ms or finer. */
const RESOLUTION_MS = 5;

/** Tick of the gap probe. */
const TICK_MS = 5;

const NS_PER_MS = 1e6;

export interface LoopFigures {
  /** Largest and 99th-percentile delay from the histogram, ms. */
  maxDelayMs: number;
  p99DelayMs: number;
  /** Largest time between two probe ticks beyond the tick itself, ms. */
  maxGapMs: number;
  /** Peak resident set and heap in use while the probe ran, MiB. */
  peakRssMb: number;
  peakHeapMb: number;
}

export class LoopProbe {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastTickMs = 0;
  private maxGapMs = 0;
  private peakRss = 0;
  private peakHeap = 0;

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.lastTickMs = performance.now();
    this.sampleMemory();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stop and return what was seen since start(). */
  stop(): LoopFigures {
    const histogram = this.histogram;
    if (!histogram || !this.timer) throw new Error('LoopProbe.stop() before start()');
    this.tick();
    clearInterval(this.timer);
    histogram.disable();
    this.timer = undefined;
    this.histogram = undefined;
    // The histogram counts the timer's own interval in every sample; what is left is the delay.
    const delay = (ns: number) => Math.max(0, ns / NS_PER_MS - RESOLUTION_MS);
    return {
      maxDelayMs: delay(histogram.max),
      p99DelayMs: delay(histogram.percentile(99)),
      maxGapMs: this.maxGapMs,
      peakRssMb: this.peakRss / 1024 / 1024,
      peakHeapMb: this.peakHeap / 1024 / 1024,
    };
  }

  private tick(): void {
    const nowMs = performance.now();
    this.maxGapMs = Math.max(this.maxGapMs, nowMs - this.lastTickMs - TICK_MS);
    this.lastTickMs = nowMs;
    this.sampleMemory();
  }

  private sampleMemory(): void {
    const { rss, heapUsed } = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, rss);
    this.peakHeap = Math.max(this.peakHeap, heapUsed);
  }
}

/** Figures as one line for the report. */
export function formatLoop(figures: LoopFigures): string {
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  return (
    `loop delay max ${ms(figures.maxDelayMs)}, p99 ${ms(figures.p99DelayMs)}; max gap ${ms(figures.maxGapMs)}; ` +
    `peak RSS ${figures.peakRssMb.toFixed(0)} MiB, heap ${figures.peakHeapMb.toFixed(0)} MiB`
  );
}
