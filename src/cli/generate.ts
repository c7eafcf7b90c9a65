import type { Command } from 'commander';
import { GENERATE_DEFAULTS, generateDataset } from '../generate/generator.js';
import { parseTimestampMs } from '../io/timestamp.js';
import { integer, real } from './parse.js';
import { table } from './output.js';

interface GenerateFlags {
  out: string;
  sites: number;
  sectors: number;
  days: number;
  trainDays: number;
  stepMinutes: number;
  start: string;
  seed: number;
  episodes: number;
}

export function registerGenerate(program: Command): void {
  const d = GENERATE_DEFAULTS;
  program
    .command('generate')
    .description('write a seeded, labelled cell KPI data set (train.csv, test.csv and their labels)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--sites <n>', 'number of sites', integer(1, 10_000), d.sites)
    .option('--sectors <n>', 'sectors per site', integer(1, 12), d.sectorsPerSite)
    .option('--days <n>', 'days of data', integer(2, 3650), d.days)
    .option('--train-days <n>', 'days written to train.csv; the rest go to test.csv', integer(1, 3650), d.trainDays)
    .option('--step-minutes <n>', 'minutes between rows (divides 60)', integer(1, 60), d.stepMinutes)
    .option('--start <iso>', 'first timestamp', new Date(d.startMs).toISOString())
    .option('--seed <n>', 'random seed', integer(0, 2 ** 32 - 1), d.seed)
    .option('--episodes <n>', 'mean anomaly episodes per sector', real(0, 100), d.episodesPerSector)
    .action(async (flags: GenerateFlags) => {
      const started = performance.now();
      const summary = await generateDataset({
        ...GENERATE_DEFAULTS,
        outDir: flags.out,
        sites: flags.sites,
        sectorsPerSite: flags.sectors,
        days: flags.days,
        trainDays: Math.min(flags.trainDays, flags.days),
        stepMinutes: flags.stepMinutes,
        startMs: parseTimestampMs(flags.start),
        seed: flags.seed,
        episodesPerSector: flags.episodes,
      });
      const episodes = Object.entries(summary.episodesByKind)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      console.log('generated data set');
      console.log(
        table([
          ['rows', summary.rows],
          ['sectors', summary.sectors],
          ['anomalous rows', summary.labelledRows],
          ['maintenance rows', summary.maintenanceRows],
          ['episodes', episodes],
          ['files', summary.files.join(', ')],
          ['seconds', ((performance.now() - started) / 1000).toFixed(1)],
        ]),
      );
    });
}
