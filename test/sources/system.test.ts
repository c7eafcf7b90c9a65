import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { SystemSourceConfig } from '../../src/config/schema.js';
import { SystemSource } from '../../src/sources/system.js';
import { SYSTEM_FEATURES, type SystemCollector } from '../../src/sources/system-metrics.js';
import { context, RecordingSink, sleep, waitFor } from './recording-sink.js';

const config = (callTimeoutMs = 5_000): SystemSourceConfig => ({ type: 'system', callTimeoutMs });

/** Instant, plausible answers; a test overrides the call it is about. */
function fakeCollector(overrides: Partial<SystemCollector> = {}): SystemCollector {
  return {
    currentLoad: () => Promise.resolve({ currentLoad: 12.5 }),
    mem: () => Promise.resolve({ total: 1000, available: 250, swaptotal: 0, swapused: 0 }),
    loadAvg: () => Promise.resolve([0.5, 0.4, 0.3]),
    cpuTemperature: () => Promise.resolve({ main: 45.5, max: 50 }),
    fsStats: () => Promise.resolve({ rx_sec: 100, wx_sec: 200, ms: 1000 }),
    networkStats: () => Promise.resolve([{ rx_sec: 10, tx_sec: 20, ms: 1000 }]),
    fsSize: () => Promise.resolve([{ mount: '/', use: 42 }]),
    ...overrides,
  };
}

let running: SystemSource | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function start(source: SystemSource, sink = new RecordingSink()): Promise<RecordingSink> {
  running = source;
  await source.start(sink);
  return sink;
}

const column = (sink: RecordingSink, index: number) => sink.received.map((s) => s.values[index]);

describe('SystemSource on this machine', () => {
  it('reads CPU and memory from the first tick and rates once the library has measured a window', async () => {
    const features = [...SYSTEM_FEATURES];
    const source = new SystemSource(config(), context({ entityColumns: ['host'], features }), 200);
    const sink = await start(source);
    const at = (name: string) => features.indexOf(name as (typeof features)[number]);

    // The library caches rates for 500 ms, so a few 200 ms ticks pass before one carries a rate.
    await waitFor('a sample with disk and network rates', () =>
      sink.received.some((s) => Number.isFinite(s.values[at('disk_read_bps')])),
    );
    await waitFor('a rate on the network too', () =>
      sink.received.some((s) => Number.isFinite(s.values[at('net_rx_bps')])),
    );

    const [first, second] = sink.received;
    expect(first?.entity).toEqual([hostname()]);
    for (const sample of [first, second]) {
      expect(Number.isFinite(sample?.values[at('cpu_load_pct')])).toBe(true);
      expect(Number.isFinite(sample?.values[at('mem_used_pct')])).toBe(true);
      expect(Number.isFinite(sample?.values[at('fs_used_pct')])).toBe(true);
    }
    for (const rate of ['disk_read_bps', 'disk_write_bps', 'net_rx_bps', 'net_tx_bps']) {
      expect(first?.values[at(rate)]).toBeNaN();
    }
    // Missing or a plausible reading: never the library's -1 or 0 for "no sensor".
    const temperatures = column(sink, at('temperature_c')) as number[];
    expect(temperatures.every((t) => Number.isNaN(t) || t > 0)).toBe(true);
    expect(sink.issues).toEqual([]);
  });
});

describe('SystemSource readings', () => {
  it('reads a temperature of -1, null or 0 as missing, and a real one as it is', async () => {
    const answers = [-1, null, 0, 47];
    let call = 0;
    const collect = fakeCollector({
      cpuTemperature: () => Promise.resolve({ main: answers[Math.min(call++, answers.length - 1)] ?? null }),
    });
    const features = ['temperature_c', 'cpu_load_pct'];
    const sink = await start(
      new SystemSource(config(), context({ features, fixedEntity: { site: 'S1' } }), 50, { collect }),
    );

    await waitFor('four samples', () => sink.received.length >= 4);
    expect(column(sink, 0).slice(0, 4)).toEqual([Number.NaN, Number.NaN, Number.NaN, 47]);
    expect(column(sink, 1).slice(0, 4)).toEqual([12.5, 12.5, 12.5, 12.5]);
    expect(sink.received[0]?.entity).toEqual(['S1']);
  });

  it('treats a rate without a measured window as missing, not as 0', async () => {
    let call = 0;
    const collect = fakeCollector({
      fsStats: () =>
        Promise.resolve(call++ === 0 ? { rx_sec: 0, wx_sec: 0, ms: 0 } : { rx_sec: 4096, wx_sec: 0, ms: 900 }),
    });
    const features = ['disk_read_bps', 'disk_write_bps', 'mem_used_pct', 'swap_used_pct'];
    const sink = await start(
      new SystemSource(config(), context({ features, fixedEntity: { site: 'S1' } }), 50, { collect }),
    );

    await waitFor('two samples', () => sink.received.length >= 2);
    expect(Array.from(sink.received[0]?.values ?? [])).toEqual([Number.NaN, Number.NaN, 75, 0]);
    expect(Array.from(sink.received[1]?.values ?? [])).toEqual([4096, 0, 75, 0]);
  });

  it('refuses an unknown feature and an entity column it cannot fill', async () => {
    const unknown = new SystemSource(config(), context({ entityColumns: ['host'], features: ['rsrp_dbm'] }), 100);
    await expect(unknown.start(new RecordingSink())).rejects.toMatchObject({
      code: 'CONFIG_PIPELINE',
      message: expect.stringContaining('rsrp_dbm') as unknown,
    });
    const unfilled = new SystemSource(config(), context({ entityColumns: ['site'], features: ['cpu_load_pct'] }), 100);
    await expect(unfilled.start(new RecordingSink())).rejects.toMatchObject({
      code: 'CONFIG_PIPELINE',
      message: expect.stringContaining('site') as unknown,
    });
  });
});

describe('SystemSource with a slow call', () => {
  it('skips ticks instead of overlapping them, times the slow call out and still delivers the other KPIs', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const collect = fakeCollector({
      fsSize: async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(300);
        inFlight--;
        return [{ mount: '/', use: 42 }];
      },
    });
    const features = ['cpu_load_pct', 'fs_used_pct'];
    const source = new SystemSource(config(250), context({ features, fixedEntity: { site: 'S1' } }), 100, { collect });
    const sink = await start(source);

    await waitFor('four samples and a skipped tick', () => sink.received.length >= 4);
    expect(source.counters().skippedOverlaps).toBeGreaterThan(0);
    expect(source.counters().callTimeouts).toBeGreaterThanOrEqual(4);
    expect(column(sink, 0).every((v) => v === 12.5)).toBe(true);
    expect(column(sink, 1).every((v) => Number.isNaN(v))).toBe(true);
    // The hung call is not started again while it runs, and its burst of timeouts is one issue.
    expect(maxInFlight).toBe(1);
    expect(sink.issues).toEqual([
      {
        code: 'SOURCE_SYSTEM',
        message: 'systeminformation fsSize took longer than 250 ms; fs_used_pct missing until it answers',
      },
    ]);
  });

  it('stop() waits for the tick handing a sample over, and nothing arrives after it', async () => {
    const collect = fakeCollector();
    const source = new SystemSource(
      config(),
      context({ features: ['cpu_load_pct'], fixedEntity: { site: 'S1' } }),
      50,
      {
        collect,
      },
    );
    const sink = new RecordingSink();
    sink.delayMs = 200;
    await start(source, sink);

    await waitFor('a hand-over in progress', () => sink.inProgress > 0);
    await source.stop();
    expect(sink.inProgress).toBe(0);
    sink.closed = true;
    const count = sink.received.length;
    await sleep(300);
    expect(sink.received.length).toBe(count);
    expect(sink.callsAfterClose).toBe(0);
  });

  it('stop() abandons a call in progress without waiting out its timeout', async () => {
    // A call that never answers: only stop() can end the tick waiting for it.
    const collect = fakeCollector({ currentLoad: () => new Promise(() => undefined) });
    const source = new SystemSource(
      config(60_000),
      context({ features: ['cpu_load_pct'], fixedEntity: { site: 'S1' } }),
      50,
      {
        collect,
      },
    );
    const sink = await start(source);
    await sleep(100);

    const stopping = source.stop();
    const stopped = await Promise.race([stopping.then(() => true), sleep(10_000).then(() => false)]);
    expect(stopped).toBe(true);
    expect(sink.received).toEqual([]);
  });
});
