import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { CellwatchError } from '../errors.js';
import { ensureFolder } from '../io/output-file.js';
import { formatTimestamp } from '../io/timestamp.js';
import { Rng } from '../rng.js';
import { planEpisodes, type Episode } from './episodes.js';
import { sectorProfiles, type SectorProfile } from './profiles.js';
import { SIM_KPIS, simulateSector, type SectorPlan, type SectorSeries } from './simulate.js';

export interface GenerateOptions {
  outDir: string;
  sites: number;
  sectorsPerSite: number;
  days: number;
  /** Days written to train.csv; the rest go to test.csv. */
  trainDays: number;
  stepMinutes: number;
  startMs: number;
  seed: number;
  /** Mean number of anomaly episodes per sector over the whole span. */
  episodesPerSector: number;
  missingCellRate: number;
  missingRowRate: number;
}

export const GENERATE_DEFAULTS: Omit<GenerateOptions, 'outDir'> = {
  sites: 100,
  sectorsPerSite: 3,
  days: 60,
  trainDays: 30,
  stepMinutes: 60,
  startMs: Date.UTC(2026, 0, 5), // a Monday, so weeks line up with the data
  seed: 42,
  episodesPerSector: 3,
  missingCellRate: 0.005,
  missingRowRate: 0.002,
};

export interface GenerateSummary {
  rows: number;
  sectors: number;
  labelledRows: number;
  maintenanceRows: number;
  episodesByKind: Record<string, number>;
  files: string[];
}

/** The review cases every demo needs: a sharp throughput dip at SITE-042 and night CPU spikes in sector 7. */
function classicEpisodes(profile: SectorProfile, rowsPerDay: number, totalDays: number): Episode[] {
  const day = (fraction: number) => Math.floor(totalDays * fraction) * rowsPerDay;
  const hour = rowsPerDay / 24;
  if (profile.site === 'SITE-042') {
    const start = day(0.67) + 14 * hour;
    return [{ kind: 'throughput_dip', start, end: start + 3 * hour, severity: 1 }];
  }
  if (profile.sector === '7') {
    return [0.58, 0.68, 0.8, 0.88].map((f) => {
      const start = day(f) + 2 * hour;
      return { kind: 'cpu_spike', start, end: start + 2 * hour, severity: 0.9 };
    });
  }
  return [];
}

/** Write a seeded, realistic cell KPI data set with labels, split into a training and a test half. */
export async function generateDataset(options: GenerateOptions): Promise<GenerateSummary> {
  if (60 % options.stepMinutes !== 0) {
    throw new CellwatchError('USAGE', `step of ${options.stepMinutes} minutes does not divide an hour`, {
      stepMinutes: options.stepMinutes,
    });
  }
  const rng = new Rng(options.seed);
  const rowsPerHour = 60 / options.stepMinutes;
  const rowsPerDay = 24 * rowsPerHour;
  const clock = { startMs: options.startMs, stepMs: options.stepMinutes * 60_000, rows: options.days * rowsPerDay };
  const profiles = sectorProfiles(rng, options.sites, options.sectorsPerSite);
  const episodesByKind: Record<string, number> = {};

  const series: SectorSeries[] = profiles.map((profile, index) => {
    const classic = classicEpisodes(profile, rowsPerDay, options.days);
    const episodes =
      classic.length > 0 ? classic : planEpisodes(rng, clock.rows, rowsPerHour, options.episodesPerSector);
    for (const e of episodes) episodesByKind[e.kind] = (episodesByKind[e.kind] ?? 0) + 1;
    const siteIndex = Math.floor(index / options.sectorsPerSite);
    const plan: SectorPlan = {
      episodes,
      // One site in four has a weekly window on Tuesday night; the hour differs between sites.
      maintenance: siteIndex % 4 === 1 ? [2, 1 + (siteIndex % 3), 2] : null,
      missingCellRate: options.missingCellRate,
      missingRowRate: options.missingRowRate,
    };
    return simulateSector(profile, plan, clock, options.seed * 7919 + index);
  });

  await ensureFolder(options.outDir);
  const splitRow = options.trainDays * rowsPerDay;
  const parts = [
    { name: 'train', from: 0, to: Math.min(splitRow, clock.rows) },
    { name: 'test', from: splitRow, to: clock.rows },
  ].filter((p) => p.to > p.from);
  const files: string[] = [];
  let labelledRows = 0;
  let maintenanceRows = 0;
  for (const part of parts) {
    const dataPath = join(options.outDir, `${part.name}.csv`);
    const labelPath = join(options.outDir, `${part.name}_labels.csv`);
    const data = stringify({ header: true, columns: ['timestamp', 'site', 'sector', ...SIM_KPIS] });
    const labels = stringify({
      header: true,
      columns: ['timestamp', 'site', 'sector', 'label', 'kind', 'maintenance'],
    });
    const dataDone = finished(data.pipe(createWriteStream(dataPath)));
    const labelsDone = finished(labels.pipe(createWriteStream(labelPath)));
    for (let t = part.from; t < part.to; t++) {
      const ts = formatTimestamp(clock.startMs + t * clock.stepMs);
      for (let i = 0; i < profiles.length; i++) {
        const profile = profiles[i] as SectorProfile;
        const s = series[i] as SectorSeries;
        const row: (string | number)[] = [ts, profile.site, profile.sector];
        for (let k = 0; k < SIM_KPIS.length; k++) row.push(formatValue(s.values[t * SIM_KPIS.length + k] as number));
        await write(data, row);
        const label = s.label[t] ?? 0;
        const maint = s.maintenance[t] ?? 0;
        labelledRows += label;
        maintenanceRows += maint;
        await write(labels, [ts, profile.site, profile.sector, label, s.kind[t] ?? '', maint]);
      }
    }
    data.end();
    labels.end();
    await Promise.all([dataDone, labelsDone]);
    files.push(dataPath, labelPath);
  }
  return {
    rows: clock.rows * profiles.length,
    sectors: profiles.length,
    labelledRows,
    maintenanceRows,
    episodesByKind,
    files,
  };
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return '';
  return String(Math.round(value * 100) / 100);
}

/** Respect back-pressure so a large data set never piles up in memory. */
async function write(stream: ReturnType<typeof stringify>, row: (string | number)[]): Promise<void> {
  if (!stream.write(row)) await new Promise((resolve) => stream.once('drain', resolve));
}
