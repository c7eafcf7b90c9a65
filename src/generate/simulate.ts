import { DEFAULT_KPIS } from '../kpis.js';
import { Rng } from '../rng.js';
import type { Episode } from './episodes.js';
import { expectedLoad, spectralEfficiency, type SectorProfile } from './profiles.js';

/** The simulation writes the default KPI set, in its order; the indices below follow it. */
export const SIM_KPIS = DEFAULT_KPIS;
const K = SIM_KPIS.length;
const [SINR, DL, UL, PRB, USERS, RRC, ERAB, HO, CPU] = [1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/** Normal noise of the KPIs that drift, used to label a drift only once it stands out of the noise. */
const DRIFT_NOISE: Record<string, { index: number; sign: number; full: number; noiseSd: number }> = {
  sinr_db: { index: SINR, sign: -1, full: 7, noiseSd: 1.2 },
  rrc_setup_success_pct: { index: RRC, sign: -1, full: 4, noiseSd: 0.2 },
  cpu_load_pct: { index: CPU, sign: 1, full: 35, noiseSd: 3 },
};

export interface SectorSeries {
  /** Row-major [rows × K] values; NaN for missing. */
  values: Float64Array;
  label: Uint8Array;
  kind: (string | null)[];
  maintenance: Uint8Array;
}

export interface SimulationClock {
  startMs: number;
  stepMs: number;
  rows: number;
}

export interface SectorPlan {
  episodes: Episode[];
  /** Weekly maintenance window as [day of week (0 = Sunday), first hour, hours], or null. */
  maintenance: [number, number, number] | null;
  missingCellRate: number;
  missingRowRate: number;
}

/** Simulate one sector's KPIs over the clock, with its anomalies, maintenance and gaps applied. */
export function simulateSector(profile: SectorProfile, plan: SectorPlan, clock: SimulationClock, seed: number) {
  const rng = new Rng(seed);
  const { rows } = clock;
  const values = new Float64Array(rows * K);
  const label = new Uint8Array(rows);
  const kind: (string | null)[] = new Array<string | null>(rows).fill(null);
  const maintenance = new Uint8Array(rows);
  const active: (Episode | undefined)[] = new Array<Episode | undefined>(rows);
  for (const e of plan.episodes) for (let t = e.start; t < e.end; t++) active[t] = e;

  let loadNoise = 0;
  // A frozen counter repeats the last reading taken before it froze, so keep that reading gap-free.
  const lastReading = new Float64Array(K);
  for (let t = 0; t < rows; t++) {
    const date = new Date(clock.startMs + t * clock.stepMs);
    const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
    const weekday = date.getUTCDay();
    const weekend = weekday === 0 || weekday === 6;
    const episode = active[t];
    const kindNow = episode?.kind;

    // Traffic: the daily and weekly shape times a slowly varying multiplicative noise.
    loadNoise = 0.75 * loadNoise + rng.normal(0, 0.06);
    let load = Math.max(0.01, expectedLoad(profile, hour, weekend) * (1 + loadNoise));
    if (kindNow === 'sleeping_cell') load = 0;

    // Radio: more load means more interference, so SINR falls as PRB use rises.
    const users = Math.max(0, Math.round(profile.peakUsers * load * (1 + rng.normal(0, 0.06))));
    const prb = clamp(3 + 88 * load ** 0.85 + rng.normal(0, 2.5), 0, 100);
    let rsrp = profile.rsrpBaseDbm + 1.5 * Math.sin((2 * Math.PI * t) / 168 + profile.rsrpPhaseRad);
    rsrp += rng.normal(0, 0.8);
    let sinr = profile.sinrBaseDb - 5 * (prb / 100) + rng.normal(0, 1);
    if (kindNow === 'signal_degradation' && episode) {
      rsrp -= 8 + 6 * episode.severity;
      sinr -= 5 + 4 * episode.severity;
    }
    const drift = driftOffset(episode, t);
    if (drift && drift.index === SINR) sinr += drift.offset;

    // Service: per-user throughput follows SINR and falls with cell load; failures rise with load.
    const efficiency = spectralEfficiency(sinr) / spectralEfficiency(20);
    let dl = profile.peakRateMbps * efficiency * (1 - 0.7 * (prb / 100)) * (1 + rng.normal(0, 0.07));
    let ul = dl * 0.22 * (1 + rng.normal(0, 0.1));
    let rrc = 99.6 - 1.5 * (prb / 100) ** 3 - Math.abs(rng.normal(0, 0.15));
    let erab = 0.25 + 0.6 * (prb / 100) ** 2 + 0.05 * Math.max(0, 8 - sinr) + Math.abs(rng.normal(0, 0.06));
    let ho = 98.8 - 1.2 * (prb / 100) ** 2 - Math.abs(rng.normal(0, 0.3));
    let cpu = profile.cpuBasePct + 45 * load + rng.normal(0, 2.5);
    if (kindNow === 'sleeping_cell') {
      dl = 0;
      ul = 0;
    }
    if (drift && drift.index === RRC) rrc += drift.offset;
    if (drift && drift.index === CPU) cpu += drift.offset;
    if (kindNow === 'throughput_dip' && episode) {
      dl *= 0.35 - 0.25 * episode.severity;
      ul *= 0.7 - 0.3 * episode.severity;
    }
    if (kindNow === 'cpu_spike' && episode) cpu = 85 + 12 * episode.severity + rng.normal(0, 1.5);
    if (kindNow === 'drop_burst' && episode) {
      erab += 2.5 + 6 * episode.severity;
      ho -= 3 + 7 * episode.severity;
      rrc -= 1 + 3 * episode.severity;
    }

    const row = [rsrp, sinr, dl, ul, prb, users, rrc, erab, ho, clamp(cpu, 0, 100)];
    for (let k = 0; k < K; k++) values[t * K + k] = row[k] as number;
    if (kindNow === 'frozen_values' && t > 0) values.set(lastReading, t * K);
    else lastReading.set(values.subarray(t * K, (t + 1) * K));

    if (episode && (kindNow !== 'slow_drift' || drift?.visible === true)) {
      label[t] = 1;
      kind[t] = episode.kind;
    }
    if (plan.maintenance && inWindow(plan.maintenance, weekday, hour) && !episode) {
      applyMaintenance(values, t, profile.cpuBasePct, rng);
      maintenance[t] = 1;
      kind[t] = 'maintenance';
    }
    applyGaps(values, t, plan, rng);
  }
  return { values, label, kind, maintenance } satisfies SectorSeries;
}

/** A drift ramps linearly over the episode's first 80 % and holds for the rest. */
function driftOffset(episode: Episode | undefined, t: number) {
  if (episode?.kind !== 'slow_drift' || !episode.driftTarget) return undefined;
  const spec = DRIFT_NOISE[episode.driftTarget];
  if (!spec) return undefined;
  const progress = Math.min(1, (t - episode.start) / (0.8 * (episode.end - episode.start)));
  const offset = spec.sign * spec.full * episode.severity * progress;
  return { index: spec.index, offset, visible: Math.abs(offset) >= 3 * spec.noiseSd };
}

function inWindow([day, firstHour, hours]: [number, number, number], weekday: number, hour: number): boolean {
  return weekday === day && hour >= firstHour && hour < firstHour + hours;
}

/** The site is shut down for works: no traffic, so ratio KPIs have no denominator and are missing. */
function applyMaintenance(values: Float64Array, t: number, cpuBasePct: number, rng: Rng): void {
  const base = t * K;
  for (const k of [DL, UL, PRB, USERS]) values[base + k] = 0;
  for (const k of [RRC, ERAB, HO]) values[base + k] = Number.NaN;
  values[base + CPU] = cpuBasePct + rng.normal(0, 1);
}

function applyGaps(values: Float64Array, t: number, plan: SectorPlan, rng: Rng): void {
  if (rng.next() < plan.missingRowRate) {
    values.fill(Number.NaN, t * K, (t + 1) * K);
    return;
  }
  for (let k = 0; k < K; k++) if (rng.next() < plan.missingCellRate) values[t * K + k] = Number.NaN;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
