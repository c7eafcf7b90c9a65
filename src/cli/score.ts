import type { Command } from 'commander';
import { scoreFile, type ScoreOptions } from '../score/score-file.js';
import { fixed, percent, printIssues, table } from './output.js';
import { integer, list } from './parse.js';
import { addPmInputOptions, pmTableOptions, type PmInputFlags } from './pm-input.js';

type ScoreFlags = Omit<ScoreOptions, 'intraOpThreads' | 'pm'> & PmInputFlags & { threads: number; json?: boolean };

export function registerScore(program: Command): void {
  const command = program
    .command('score')
    .description('score every row of a KPI file (streams; any size) or a folder of PM files with an ONNX model')
    .requiredOption('--model <file>', 'ONNX model with cellwatch metadata')
    .requiredOption('--input <path>', 'KPI rows: .csv or .jsonl, optionally .gz; or a folder of 3GPP PM / VES files')
    .requiredOption('--output <file>', 'scores to write: .csv or .jsonl')
    .option('--timestamp-column <name>', 'timestamp column', 'timestamp')
    .option('--entity-columns <list>', 'entity columns (default: site, sector, cell, host… as present)', list)
    .option('--batch-size <n>', 'rows per onnxruntime call', integer(1, 65_536), 1024)
    .option('--top-kpis <n>', 'KPIs named per row', integer(1, 64), 3)
    .option('--threads <n>', 'onnxruntime intra-op threads', integer(1, 64), 1)
    .option('--json', 'print the report as JSON');
  addPmInputOptions(command).action(async (flags: ScoreFlags) => {
    const pm = await pmTableOptions(flags);
    const report = await scoreFile({
      model: flags.model,
      input: flags.input,
      output: flags.output,
      timestampColumn: flags.timestampColumn,
      entityColumns: flags.entityColumns ?? pm.entityColumns,
      pm: pm.pm,
      batchSize: flags.batchSize,
      topKpis: flags.topKpis,
      intraOpThreads: flags.threads,
    });
    if (flags.json) {
      console.log(JSON.stringify(report));
      return;
    }
    console.log(`scored ${flags.input} → ${flags.output}`);
    console.log(
      table([
        ['rows read', report.rowsRead],
        ['rows scored', report.rowsScored],
        ['rows flagged', `${report.rowsFlagged} (${percent(report.rowsFlagged / Math.max(1, report.rowsScored))})`],
        [
          'rows not scored',
          Object.entries(report.skipped)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ],
        ['input issues', report.issueCount],
        ['threshold', fixed(report.threshold, 4)],
        ['seconds', report.durationS.toFixed(1)],
        ['rows per second', Math.round(report.rowsScored / Math.max(report.durationS, 1e-9))],
      ]),
    );
    printIssues(report.issues, report.issueCount);
  });
}
