import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { evaluate, type EvalReport } from '../eval/evaluate.js';
import { checkWritable, ensureFolder, writeFailure } from '../io/output-file.js';
import { checkDistinct } from '../io/source-file.js';
import { writePlots } from '../eval/plots.js';
import { fixed, percent, table } from './output.js';
import { integer, list } from './parse.js';

interface EvalFlags {
  scores: string;
  labels: string;
  plots?: string;
  plotEntities: number;
  report?: string;
  timestampColumn: string;
  entityColumns?: string[];
  top: number;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('measure scores against labels: ROC-AUC, PR-AUC, best F1, recall per kind, top rows, plots')
    .requiredOption('--scores <file>', 'output of cellwatch score')
    .requiredOption('--labels <file>', 'timestamp, entity columns, label (0/1), optional kind and maintenance')
    .option('--plots <dir>', 'write SVG plots to this folder')
    .option('--plot-entities <n>', 'entities drawn over time', integer(1, 100), 6)
    .option('--report <file>', 'also write the report as JSON')
    .option('--timestamp-column <name>', 'timestamp column', 'timestamp')
    .option('--entity-columns <list>', 'columns that match scores to labels (default: known entity names)', list)
    .option('--top <n>', 'highest-error rows listed', integer(1, 1000), 10)
    .option('--json', 'print the report as JSON')
    .action(async (flags: EvalFlags) => {
      if (flags.report) {
        await checkDistinct(flags.scores, flags.report);
        await checkDistinct(flags.labels, flags.report);
        await checkWritable(flags.report);
      }
      if (flags.plots) await ensureFolder(flags.plots);
      const { report, rows } = await evaluate({
        scores: flags.scores,
        labels: flags.labels,
        timestampColumn: flags.timestampColumn,
        entityColumns: flags.entityColumns,
        topRows: flags.top,
      });
      const plots = flags.plots
        ? await writePlots(rows, { dir: flags.plots, threshold: report.threshold, entities: flags.plotEntities })
        : [];
      if (flags.report) {
        await writeFile(flags.report, `${JSON.stringify(report, null, 2)}\n`).catch((err: unknown) => {
          throw writeFailure(flags.report as string, err);
        });
      }
      if (flags.json) console.log(JSON.stringify({ ...report, plots }));
      else printEvalReport(report, plots);
    });
}

function printEvalReport(report: EvalReport, plots: string[]): void {
  console.log('evaluation (no point-adjust)');
  console.log(
    table([
      ['rows evaluated', `${report.rowsEvaluated} (${report.anomalousRows} anomalous)`],
      ['ROC-AUC', fixed(report.rocAuc)],
      ['PR-AUC', fixed(report.prAuc)],
      ['best F1', bestF1(report)],
      ['at model threshold', `${above(report.threshold)}: ${atThreshold(report)}`],
      ['flag rate, normal rows', percent(report.flagRateNormal)],
      ['flag rate, maintenance', report.flagRateMaintenance === null ? 'n/a' : percent(report.flagRateMaintenance)],
      ['labelled rows not scored', report.unscoredLabelledRows],
      ['scored rows without label', report.unlabelledScoredRows],
      ['lines skipped (unreadable)', report.skippedLines.count],
    ]),
  );
  console.log('recall per anomaly kind at the model threshold');
  console.log(
    table(Object.entries(report.recallByKind).map(([k, v]) => [k, `${percent(v.recall)} of ${v.rows} rows`])),
  );
  console.log(`top ${report.top.length} rows by score`);
  for (const row of report.top) {
    const truth = row.label === 1 ? `anomaly ${row.kind}` : row.kind || 'normal';
    console.log(`  ${row.timestamp} ${row.entity} score ${fixed(row.score, 2)} [${truth}] ${row.topKpis}`);
  }
  for (const s of report.skippedLines.first.slice(0, 5))
    console.log(`  ${s.file} line ${s.line}: ${s.code} ${s.message}`);
  if (plots.length > 0) console.log(`plots: ${plots.join(', ')}`);
}

function pr(precision: number, recall: number): string {
  return `precision ${fixed(precision)}, recall ${fixed(recall)}`;
}

function above(threshold: number): string {
  return `score > ${fixed(threshold, 4)}`;
}

function atThreshold(report: EvalReport): string {
  return `${pr(report.atThreshold.precision, report.atThreshold.recall)}, F1 ${fixed(report.atThreshold.f1)}`;
}

function bestF1(report: EvalReport): string {
  const { bestF1Precision: precision, bestF1Recall: recall, bestF1Threshold: threshold } = report;
  return `${fixed(report.bestF1)} (${pr(precision, recall)}, score ≥ ${fixed(threshold, 4)})`;
}
