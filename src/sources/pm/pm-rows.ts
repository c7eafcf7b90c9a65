import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { entityKey } from '../../agent/entity-key.js';
import { isCellwatchError } from '../../errors.js';
import type { CounterUpdate, IngestedBlock, PmLedger } from '../../buffer/pm-ledger.js';
import { counterDelta, type DeltaOutcome } from '../../telecom/counters.js';
import type { PmBlock, PmValue } from '../../telecom/pm-block.js';
import type { CounterRules } from './counter-rules.js';
import type { EntityRules } from './entity-rules.js';
import type { CounterValue, KpiFormulas } from './kpi-formulas.js';

/**
 * Blocks, then rows, worked through between two turns given back to the event loop: about 15 ms of work on a
 * 2-core box, where the 20,000 blocks of 5,000 cells took 300-400 ms in one go (scripts/bench-pm.ts).
 */
const UNITS_PER_TURN = 1_000;

/** One entity's KPIs for one period, ready to become a Sample. */
export interface PmRow {
  entity: string[];
  beginMs: number;
  endMs: number;
  values: Float64Array;
  suspect: boolean;
}

/** What one file's blocks came to; the source reports the counts, `pm inspect` prints them. */
export interface RowStats {
  blocks: number;
  /** Blocks ingested before with the same values (a file delivered twice). */
  duplicateBlocks: number;
  /** Blocks ingested before with other values: the first delivery is kept. */
  conflictBlocks: number;
  /** Values of a counter that an earlier block of the same entity and period gave otherwise: the first is kept. */
  conflictValues: number;
  /** Blocks whose measured object no entity rule maps. */
  unmappedBlocks: number;
  /** Reported values, and of them: missing (empty, NIL), array values no rule reads. */
  values: number;
  missingValues: number;
  skippedArrays: number;
  /** Cumulative counters whose delta is unknown, by why (first reading, gap, reset, out of order). */
  counterDeltas: Partial<Record<DeltaOutcome, number>>;
  /** Rows none of whose KPIs could be computed: dropped. */
  emptyRows: number;
  rows: number;
  suspectRows: number;
}

export interface BuiltRows {
  rows: PmRow[];
  stats: RowStats;
  /** Measurement names the KPI formulas read, for messages. */
  neededCounters: string[];
  /** Examples for messages: a measured object no rule maps, a counter two blocks of one row gave otherwise. */
  unmappedExample?: string;
  conflictExample?: string;
  /** What to record once the rows are buffered. */
  ledger: { blocks: IngestedBlock[]; counters: CounterUpdate[] };
}

interface Group {
  entity: string[];
  beginMs: number;
  endMs: number;
  counters: Map<string, { value: number | bigint; suspect: boolean; measInfo: string }>;
}

/**
 * Blocks of one file to KPI rows: blocks ingested before are dropped, the rest are mapped to entities,
 * merged per entity and period (a row's counters may come from several measInfo blocks), cumulative
 * counters turned into deltas, and the pipeline's KPI formulas applied.
 */
export class PmRowBuilder {
  constructor(
    private readonly pipeline: string,
    private readonly entities: EntityRules,
    private readonly counterRules: CounterRules,
    private readonly kpis: KpiFormulas,
    private readonly ledger: PmLedger,
  ) {}

  /** The rows of a file's blocks in one go, for one-off reads (training, inspection) where nothing else waits. */
  build(blocks: readonly PmBlock[]): BuiltRows {
    const steps = this.steps(blocks);
    let step = steps.next();
    while (!step.done) step = steps.next();
    return step.value;
  }

  /**
   * The same rows as build(), giving the event loop a turn every UNITS_PER_TURN blocks and rows, so that the
   * agent's timers (MQTT keepalive, health) keep running while a large file is mapped. The ledger is read
   * across the turns, so nothing may commit to it for this pipeline meanwhile: the drop folder takes one file
   * at a time, and commits only after the file's rows are handed over.
   */
  async buildInTurns(blocks: readonly PmBlock[]): Promise<BuiltRows> {
    const steps = this.steps(blocks);
    let step = steps.next();
    while (!step.done) {
      await yieldToLoop();
      step = steps.next();
    }
    return step.value;
  }

  /** The work of build(), as a generator that yields where it may pause. */
  private *steps(blocks: readonly PmBlock[]): Generator<void, BuiltRows, void> {
    const stats = emptyStats(blocks.length);
    const ingested: IngestedBlock[] = [];
    const seenInFile = new Map<string, string>();
    const groups = new Map<string, Group>();
    let unmappedExample: string | undefined;
    let conflictExample: string | undefined;

    for (const [index, block] of blocks.entries()) {
      if (index > 0 && index % UNITS_PER_TURN === 0) yield;
      // Identity first: a block delivered before (in another file, or earlier in this one) is not taken again.
      const key = blockKey(block);
      const hash = blockHash(block);
      const before = seenInFile.get(key) ?? this.ledger.blockHash(this.pipeline, key);
      if (before !== undefined) {
        if (before === hash) stats.duplicateBlocks++;
        else stats.conflictBlocks++;
        continue;
      }
      seenInFile.set(key, hash);

      const entity = this.entities.map(block);
      if (!entity) {
        stats.unmappedBlocks++;
        unmappedExample ??= `${block.element} / ${block.object || '(no object)'}`;
        continue;
      }
      ingested.push({ key, hash, endMs: block.endMs });
      const conflict = this.addToGroup(groups, entity, block, stats);
      conflictExample ??= conflict;
    }

    const counters: CounterUpdate[] = [];
    const rows: PmRow[] = [];
    const ordered = [...groups.values()].sort((a, b) => a.beginMs - b.beginMs || compare(a.entity, b.entity));
    const latest = new Map<string, CounterUpdate>();
    for (const [index, group] of ordered.entries()) {
      if (index > 0 && index % UNITS_PER_TURN === 0) yield;
      const values = this.counterValues(group, latest, stats);
      const kpis = this.kpis.evaluate(values);
      if (kpis.present === 0) {
        stats.emptyRows++;
        continue;
      }
      rows.push({ ...group, values: kpis.values, suspect: kpis.suspect });
      if (kpis.suspect) stats.suspectRows++;
    }
    counters.push(...latest.values());
    stats.rows = rows.length;
    const neededCounters = [...this.kpis.counters];
    return { rows, stats, neededCounters, unmappedExample, conflictExample, ledger: { blocks: ingested, counters } };
  }

  /** Adds a block's values to its row; returns a description of the first value the row already had otherwise. */
  private addToGroup(
    groups: Map<string, Group>,
    entity: string[],
    block: PmBlock,
    stats: RowStats,
  ): string | undefined {
    const id = `${entityKey(entity)}\u0000${block.beginMs}\u0000${block.endMs}`;
    let group = groups.get(id);
    if (!group) {
      group = { entity, beginMs: block.beginMs, endMs: block.endMs, counters: new Map() };
      groups.set(id, group);
    }
    let conflict: string | undefined;
    for (const [name, raw] of block.values) {
      stats.values++;
      const value = this.read(name, raw, stats);
      if (value === undefined) continue;
      const first = group.counters.get(name);
      if (first === undefined) {
        group.counters.set(name, { value, suspect: block.suspect, measInfo: block.measInfo });
      } else if (first.value !== value) {
        // Two blocks giving one counter of an entity and period otherwise (two measInfo blocks of one object, or
        // entity rules that map two objects to one entity): the first stands, and the loss is counted, not silent.
        stats.conflictValues++;
        conflict ??=
          `"${name}" of ${entityKey(entity)}: ${first.value} from "${first.measInfo}" kept, ` +
          `${value} from "${block.measInfo}" left out`;
      }
    }
    return conflict;
  }

  private read(name: string, raw: PmValue, stats: RowStats): number | bigint | undefined {
    const value = this.counterRules.read(name, raw);
    if (value === 'missing') stats.missingValues++;
    else if (value === 'array') stats.skippedArrays++;
    else return value;
    return undefined;
  }

  /** Gauges as reported; cumulative counters as the delta since the previous contiguous period. */
  private counterValues(group: Group, latest: Map<string, CounterUpdate>, stats: RowStats): Map<string, CounterValue> {
    const values = new Map<string, CounterValue>();
    const entity = entityKey(group.entity);
    for (const [name, { value, suspect }] of group.counters) {
      const rule = this.counterRules.ruleFor(name);
      if (rule.kind === 'gauge') {
        values.set(name, { value: Number(value), suspect });
        continue;
      }
      const id = `${entity}\u0000${name}`;
      const previous = latest.get(id)?.reading ?? this.ledger.lastReading(this.pipeline, entity, name);
      const reading = { beginMs: group.beginMs, endMs: group.endMs, value };
      const result = safeDelta(previous, reading, rule.widthBits);
      if (result === undefined) {
        // A negative or non-finite running total is no reading at all.
        stats.missingValues++;
        continue;
      }
      const { delta, outcome } = result;
      if (outcome !== 'ok') stats.counterDeltas[outcome] = (stats.counterDeltas[outcome] ?? 0) + 1;
      values.set(name, { value: delta, suspect });
      // A late file never moves a counter's last reading backwards.
      if (outcome !== 'out_of_order') latest.set(id, { entity, counter: name, reading });
    }
    return values;
  }
}

function safeDelta(...args: Parameters<typeof counterDelta>): ReturnType<typeof counterDelta> | undefined {
  try {
    return counterDelta(...args);
  } catch (err) {
    if (isCellwatchError(err, 'PM_VALUE')) return undefined;
    throw err;
  }
}

/** A block's identity: sender, element, measurement block, measured object and UTC period. */
export function blockKey(block: PmBlock): string {
  return [block.sender, block.element, block.measInfo, block.object, block.beginMs, block.endMs].join('\u0000');
}

function blockHash(block: PmBlock): string {
  const hash = createHash('sha256');
  hash.update(block.suspect ? 'S' : '-');
  for (const [name, value] of block.values) {
    hash.update(`\u0000${name}\u0001${Array.isArray(value) ? value.join(',') : String(value)}`);
  }
  return hash.digest('base64url').slice(0, 22);
}

function emptyStats(blocks: number): RowStats {
  return {
    blocks,
    duplicateBlocks: 0,
    conflictBlocks: 0,
    conflictValues: 0,
    unmappedBlocks: 0,
    values: 0,
    missingValues: 0,
    skippedArrays: 0,
    counterDeltas: {},
    emptyRows: 0,
    rows: 0,
    suspectRows: 0,
  };
}

function compare(a: readonly string[], b: readonly string[]): number {
  return a.join('\u0000').localeCompare(b.join('\u0000'));
}
