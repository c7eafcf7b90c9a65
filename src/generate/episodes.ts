import type { Rng } from '../rng.js';

/** The anomaly kinds the generator injects, each a failure operators meet on real sites. */
export const ANOMALY_KINDS = [
  'throughput_dip',
  'cpu_spike',
  'signal_degradation',
  'sleeping_cell',
  'drop_burst',
  'slow_drift',
  'frozen_values',
] as const;

export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export type DriftTarget = 'sinr_db' | 'rrc_setup_success_pct' | 'cpu_load_pct';

/** One injected anomaly on one sector, over rows [start, end). */
export interface Episode {
  kind: AnomalyKind;
  start: number;
  end: number;
  /** Strength in [0, 1], turned into units by each kind. */
  severity: number;
  driftTarget?: DriftTarget;
}

interface KindRule {
  minHours: number;
  maxHours: number;
  /** Hours of the day an episode may start at: a CPU spike "without traffic" is a night event. */
  startHours: readonly [number, number];
}

const RULES: Record<AnomalyKind, KindRule> = {
  throughput_dip: { minHours: 2, maxHours: 6, startHours: [8, 18] },
  cpu_spike: { minHours: 1, maxHours: 3, startHours: [0, 4] },
  signal_degradation: { minHours: 6, maxHours: 30, startHours: [0, 23] },
  sleeping_cell: { minHours: 4, maxHours: 12, startHours: [8, 16] },
  drop_burst: { minHours: 1, maxHours: 4, startHours: [7, 21] },
  slow_drift: { minHours: 36, maxHours: 96, startHours: [0, 23] },
  frozen_values: { minHours: 6, maxHours: 18, startHours: [0, 23] },
};

const DRIFT_TARGETS: readonly DriftTarget[] = ['sinr_db', 'rrc_setup_success_pct', 'cpu_load_pct'];

/**
 * Plan a sector's anomalies: a Poisson number of episodes spread over the span, never overlapping and
 * at least a day apart so each one is a separate incident.
 */
export function planEpisodes(rng: Rng, totalRows: number, rowsPerHour: number, meanEpisodes: number): Episode[] {
  const count = poisson(rng, meanEpisodes);
  const episodes: Episode[] = [];
  const gapRows = 24 * rowsPerHour;
  for (let attempt = 0; attempt < count * 10 && episodes.length < count; attempt++) {
    const kind = rng.pick(ANOMALY_KINDS);
    const rule = RULES[kind];
    const lengthRows = Math.round(rng.uniform(rule.minHours, rule.maxHours) * rowsPerHour);
    const day = rng.int(1, Math.floor(totalRows / (24 * rowsPerHour)) - 2);
    const hour = rng.int(rule.startHours[0], rule.startHours[1]);
    const start = (day * 24 + hour) * rowsPerHour;
    const end = Math.min(totalRows, start + lengthRows);
    const clash = episodes.some((e) => start < e.end + gapRows && e.start < end + gapRows);
    if (clash) continue;
    const episode: Episode = { kind, start, end, severity: rng.uniform(0.6, 1) };
    if (kind === 'slow_drift') episode.driftTarget = rng.pick(DRIFT_TARGETS);
    episodes.push(episode);
  }
  return episodes.sort((a, b) => a.start - b.start);
}

function poisson(rng: Rng, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng.next();
  while (p > limit) {
    k++;
    p *= rng.next();
  }
  return k;
}
