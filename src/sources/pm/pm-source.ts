import { basename } from 'node:path';
import type { PmSourceConfig } from '../../config/schema.js';
import { CellwatchError, type ErrorCode } from '../../errors.js';
import type { PmLedger } from '../../buffer/pm-ledger.js';
import { DropDirectory, type FileCounts, type ParsedFile } from '../drop-dir.js';
import { SampleBatcher, type SourceEvent } from '../hand-over.js';
import type { Source, SourceContext, SourceIssue, SourceSink } from '../source.js';
import { CounterRules } from './counter-rules.js';
import { EntityRules } from './entity-rules.js';
import { KpiFormulas } from './kpi-formulas.js';
import { readPmBlocks, type ReadBlocks } from './read-blocks.js';
import { PmRowBuilder, type BuiltRows } from './pm-rows.js';

/** Ingested block keys are kept this long past the newest period: a redelivery later than that is not expected. */
const KEEP_KEYS_MS = 35 * 86_400_000;

/**
 * Performance files dropped by the element manager or a collector: 3GPP PM XML (TS 32.435 / 28.532, plain or
 * gzip) and VES JSON events. Each complete file is read whole, its blocks mapped to entities and KPI rows,
 * and the rows handed over in batches; then the file goes to the processed folder (or is deleted). A file
 * that gives no rows goes to quarantine with a reason file. Blocks ingested before are skipped, so a file
 * delivered twice, under any name, counts once.
 */
export class PmSource implements Source {
  readonly kind = 'pm';
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private directory: DropDirectory | undefined;

  constructor(
    private readonly config: PmSourceConfig,
    private readonly context: SourceContext,
    private readonly ledger: PmLedger,
  ) {}

  async start(sink: SourceSink): Promise<void> {
    if (this.running) throw new CellwatchError('USAGE', `source of pipeline ${this.context.pipeline} already started`);
    // Rules and formulas are checked now, so a misfit fails the start instead of quarantining every file.
    const builder = pmRowBuilder(this.config, this.context, this.ledger);
    this.abort = new AbortController();
    const { path, pollMs, processed, quarantine } = this.config;
    this.directory = new DropDirectory(
      { path, pollMs, parse: (file) => this.parse(file, builder), processed, failed: quarantine },
      new SampleBatcher(sink, this.abort.signal),
      this.abort.signal,
    );
    this.running = this.directory.run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
  }

  fileCounts(): FileCounts | undefined {
    return this.directory?.fileCounts;
  }

  private async parse(path: string, builder: PmRowBuilder): Promise<ParsedFile> {
    const { built, issues } = await readDroppedFile(path, this.config.format, builder);
    return {
      events: samplesOf(built, issues),
      commit: () => commitDroppedFile(this.ledger, this.context.pipeline, built),
    };
  }
}

/** What one dropped file gave: its blocks, its rows, and one issue per kind of problem it had. */
export interface DroppedFile {
  read: ReadBlocks;
  built: BuiltRows;
  issues: SourceIssue[];
}

/**
 * One dropped file read as the source reads it; throws the coded reason a file that gives no rows is refused
 * for. Exported so that a tool reading files by hand (scripts/pm-samples.ts) takes exactly this path.
 */
export async function readDroppedFile(
  path: string,
  format: PmSourceConfig['format'],
  builder: PmRowBuilder,
): Promise<DroppedFile> {
  const read = await readPmBlocks(path, format);
  // In turns: a file of thousands of cells would otherwise hold the agent's event loop for hundreds of ms.
  const built = await builder.buildInTurns(read.blocks);
  refuseIfEmpty(read, built);
  return { read, built, issues: fileIssues(path, read, built) };
}

/**
 * Record a file's blocks and counter readings once its rows are buffered, and forget keys too old to matter.
 * Age counts from the file's newest period, so a replay of old files keeps its keys, but never from later than
 * now: one file from a node whose clock runs years ahead must not make every current file's keys forgotten
 * (their redeliveries would then be ingested twice).
 */
export function commitDroppedFile(ledger: PmLedger, pipeline: string, built: BuiltRows, nowMs = Date.now()): void {
  ledger.commit(pipeline, built.ledger.blocks, built.ledger.counters);
  const newestMs = Math.min(nowMs, Math.max(...built.rows.map((r) => r.endMs)));
  if (Number.isFinite(newestMs)) ledger.prune(pipeline, newestMs - KEEP_KEYS_MS);
}

/** The rules, counter readings and formulas of a PM source, checked against the pipeline. */
export function pmRowBuilder(config: PmSourceConfig, context: SourceContext, ledger: PmLedger): PmRowBuilder {
  return new PmRowBuilder(
    context.pipeline,
    new EntityRules(config.entities, context.entityColumns, context.fixedEntity),
    new CounterRules(config.counters),
    new KpiFormulas(context.features, config.kpis),
    ledger,
  );
}

/**
 * A file that gives no rows is refused, with the reason an operator can act on — unless every block in it
 * was ingested before: a file delivered twice is done, not broken.
 */
export function refuseIfEmpty(read: ReadBlocks, built: BuiltRows): void {
  const { stats } = built;
  if (built.rows.length > 0 || (stats.blocks > 0 && stats.duplicateBlocks + stats.conflictBlocks === stats.blocks)) {
    return;
  }
  // The first reading of a cumulative counter a KPI uses gives no delta yet, but it is what the next file's
  // delta needs. Readings of counters no KPI uses do not count: such a file would be taken with nothing from it.
  const needed = new Set(built.neededCounters);
  if (built.ledger.counters.some((c) => needed.has(c.counter))) return;
  if (read.blocks.length === 0) {
    if (read.skippedBlocks > 0) {
      throw new CellwatchError('PM_PERIOD', `all ${read.skippedBlocks} blocks skipped: ${read.firstBlockSkip}`);
    }
    throw new CellwatchError('PM_NO_VALUES', 'the file holds no measurement values (no measValue blocks)');
  }
  if (stats.values === stats.missingValues) {
    throw new CellwatchError('PM_NO_VALUES', `all ${stats.values} values in ${stats.blocks} blocks are empty or NIL`);
  }
  if (stats.unmappedBlocks === stats.blocks) {
    throw new CellwatchError(
      'PM_UNMAPPED',
      `no entity rule maps any of the ${stats.blocks} measured objects (e.g. ${built.unmappedExample})`,
    );
  }
  throw new CellwatchError(
    'PM_UNMAPPED',
    `none of the pipeline's KPIs can be computed from the file's measurements (it has ` +
      `${read.measurementNames.slice(0, 6).join(', ')}${read.measurementNames.length > 6 ? ', …' : ''}; ` +
      `the KPI formulas need ${built.neededCounters.slice(0, 6).join(', ')})` +
      (stats.skippedArrays > 0
        ? `; ${stats.skippedArrays} array (PDF/bin) values were left out: ` +
          'a counters rule with array: sum or bin reads them'
        : ''),
    { measurements: read.measurementNames.slice(0, 50) },
  );
}

/** One issue per kind of problem a file had, with its count and first example, not one per value. */
function fileIssues(path: string, read: ReadBlocks, built: BuiltRows): SourceIssue[] {
  const name = basename(path);
  const issues: SourceIssue[] = [];
  const add = (code: ErrorCode, count: number, what: string, example?: string) => {
    if (count > 0)
      issues.push({ code, message: `${name}: ${count} ${what}${example ? `, e.g. ${example}` : ''}`, file: path });
  };
  const { stats } = built;
  add('PM_PERIOD', read.skippedBlocks, 'blocks without a usable period skipped', read.firstBlockSkip);
  // Value skips are of several kinds (not a number, no measType, a measType twice, no result): the example says which.
  add('PM_VALUE', read.skippedValues, 'values left out or read as missing', read.firstValueSkip);
  add('PM_VALUE', stats.skippedArrays, 'array (PDF/bin) values left out: no counters rule reads them');
  add(
    'PM_UNMAPPED',
    stats.blocks === stats.unmappedBlocks ? 0 : stats.unmappedBlocks,
    'blocks no entity rule maps',
    built.unmappedExample,
  );
  add('PM_CONFLICT', stats.conflictBlocks, 'blocks ingested before with other values kept as first delivered');
  add(
    'PM_CONFLICT',
    stats.conflictValues,
    'values of a counter another block gave otherwise for the same entity and period left out',
    built.conflictExample,
  );
  return issues;
}

function* samplesOf(built: BuiltRows, issues: SourceIssue[]): Generator<SourceEvent> {
  for (const issue of issues) yield { kind: 'issue', issue };
  for (const row of built.rows) {
    yield {
      kind: 'sample',
      sample: { timestampMs: row.beginMs, entity: row.entity, values: row.values, suspect: row.suspect },
    };
  }
}
