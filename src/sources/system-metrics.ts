import { loadavg } from 'node:os';
import * as si from 'systeminformation';

/**
 * The controller's own KPIs, and the few systeminformation calls they come from. The calls sit in one
 * small table (SystemCollector) so a test can swap in a slow, failing or null-returning call, and every
 * reading is checked here, where the library's habits are known:
 * - rates (disk, network) are null or 0 until the library has two readings at least 500 ms apart, and a
 *   call within 500 ms of the last returns the cached rate; `ms` is the window the rate covers, 0 before
 *   the first window: such rates are missing, never 0;
 * - the CPU temperature is null, -1 or 0 on boards without a sensor: missing, never -1 °C;
 * - a counter reset (an interface going down and up) shows as a negative rate: missing.
 */

export const SYSTEM_FEATURES = [
  'cpu_load_pct',
  'mem_used_pct',
  'swap_used_pct',
  'load_avg_1m',
  'temperature_c',
  // Bytes per second read from / written to the block devices that hold mounted filesystems.
  'disk_read_bps',
  'disk_write_bps',
  // Bytes (not bits) per second received / sent on the interface.
  'net_rx_bps',
  'net_tx_bps',
  // Used share of the filesystem mounted at /.
  'fs_used_pct',
] as const;

export type SystemFeature = (typeof SYSTEM_FEATURES)[number];

/** The slice of systeminformation (and os) the source reads, in the shapes it returns. */
export interface SystemCollector {
  currentLoad(): Promise<{ currentLoad: number | null }>;
  mem(): Promise<{ total: number; available: number; swaptotal: number; swapused: number }>;
  loadAvg(): Promise<number[]>;
  cpuTemperature(): Promise<{ main: number | null; max?: number | null }>;
  fsStats(): Promise<{ rx_sec: number | null; wx_sec: number | null; ms: number } | null>;
  networkStats(iface?: string): Promise<Array<{ rx_sec: number | null; tx_sec: number | null; ms: number }>>;
  fsSize(): Promise<Array<{ mount: string; use: number | null }>>;
}

export const systemInformation: SystemCollector = {
  currentLoad: () => si.currentLoad(),
  mem: () => si.mem(),
  loadAvg: () => Promise.resolve(loadavg()),
  cpuTemperature: () => si.cpuTemperature(),
  fsStats: () => si.fsStats(),
  // With no interface named, the library picks the one of the default route.
  networkStats: (iface) => (iface === undefined ? si.networkStats() : si.networkStats(iface)),
  fsSize: () => si.fsSize(),
};

export type Reading = Partial<Record<SystemFeature, number>>;

/** One library call and the features it yields. */
export interface SystemCall {
  name: keyof SystemCollector;
  features: readonly SystemFeature[];
  read(collector: SystemCollector, iface: string | undefined): Promise<Reading>;
}

/** A reading as a KPI value: anything that is not a finite number in range is missing (NaN). */
function value(raw: number | null | undefined, min = 0, max = Number.POSITIVE_INFINITY): number {
  return typeof raw === 'number' && Number.isFinite(raw) && raw >= min && raw <= max ? raw : Number.NaN;
}

/** A rate is only a rate once the library has measured a window (ms > 0); before, its 0 or null means nothing. */
function rate(raw: number | null | undefined, windowMs: number | undefined): number {
  return windowMs !== undefined && windowMs > 0 ? value(raw) : Number.NaN;
}

function percent(part: number, whole: number): number {
  return whole > 0 ? value((100 * part) / whole, 0, 100) : Number.NaN;
}

/** Above this a reported CPU temperature is a misread, not a board about to burn. */
const MAX_PLAUSIBLE_TEMPERATURE_C = 150;

export const SYSTEM_CALLS: readonly SystemCall[] = [
  {
    name: 'currentLoad',
    features: ['cpu_load_pct'],
    read: async (c) => ({ cpu_load_pct: value((await c.currentLoad()).currentLoad, 0, 100) }),
  },
  {
    name: 'mem',
    features: ['mem_used_pct', 'swap_used_pct'],
    read: async (c) => {
      const m = await c.mem();
      return {
        // `available` counts reclaimable cache as free; the library's `used` does not, and reads near 100 %.
        mem_used_pct: percent(m.total - m.available, m.total),
        // No swap configured is a real 0: nothing is being swapped.
        swap_used_pct: m.swaptotal === 0 ? 0 : percent(m.swapused, m.swaptotal),
      };
    },
  },
  {
    name: 'loadAvg',
    features: ['load_avg_1m'],
    read: async (c) => ({ load_avg_1m: value((await c.loadAvg())[0]) }),
  },
  {
    name: 'cpuTemperature',
    features: ['temperature_c'],
    read: async (c) => {
      const t = await c.cpuTemperature();
      // 0 and below are the library's "no sensor" answers (null, -1, 0), not a frozen cabinet.
      const main = value(t.main, Number.MIN_VALUE, MAX_PLAUSIBLE_TEMPERATURE_C);
      return { temperature_c: Number.isNaN(main) ? value(t.max, Number.MIN_VALUE, MAX_PLAUSIBLE_TEMPERATURE_C) : main };
    },
  },
  {
    name: 'fsStats',
    features: ['disk_read_bps', 'disk_write_bps'],
    read: async (c) => {
      const s = await c.fsStats();
      return { disk_read_bps: rate(s?.rx_sec, s?.ms), disk_write_bps: rate(s?.wx_sec, s?.ms) };
    },
  },
  {
    name: 'networkStats',
    features: ['net_rx_bps', 'net_tx_bps'],
    read: async (c, iface) => {
      const [s] = await c.networkStats(iface);
      return { net_rx_bps: rate(s?.rx_sec, s?.ms), net_tx_bps: rate(s?.tx_sec, s?.ms) };
    },
  },
  {
    name: 'fsSize',
    features: ['fs_used_pct'],
    read: async (c) => {
      const root = (await c.fsSize()).find((f) => f.mount === '/');
      return { fs_used_pct: value(root?.use, 0, 100) };
    },
  },
];

export function isSystemFeature(name: string): name is SystemFeature {
  return (SYSTEM_FEATURES as readonly string[]).includes(name);
}
