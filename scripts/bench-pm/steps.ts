/**
 * The import of one file cut into the steps PmSource takes (read the blocks, build the rows, hand them over
 * in batches into the buffer, commit the ledger), each under a probe of its own, so that a long block of
 * synchronous work is pinned on the step that does it. The steps call the same functions the source calls.
 */
import { join } from 'node:path';
import { entityKey } from '../../src/agent/entity-key.js';
import { openDatabase } from '../../src/buffer/database.js';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import { SampleStore } from '../../src/buffer/samples.js';
import { SampleBatcher } from '../../src/sources/hand-over.js';
import { readPmBlocks } from '../../src/sources/pm/read-blocks.js';
import { commitDroppedFile, pmRowBuilder, refuseIfEmpty } from '../../src/sources/pm/pm-source.js';
import type { Sample, SourceIssue, SourceSink } from '../../src/sources/source.js';
import { LoopProbe, type LoopFigures } from './loop-probe.js';

const PIPELINE = 'cells';

export interface StepFigures {
  step: string;
  ms: number;
  loop: LoopFigures;
}

/** A sink that writes each batch into the buffer, the slowest batch noted. */
class TimedBufferSink implements SourceSink {
  readonly issues: SourceIssue[] = [];

  constructor(private readonly store: SampleStore) {}

  samples(batch: Sample[]): Promise<void> {
    const rows = batch.map((s) => ({
      entity: entityKey(s.entity),
      timestampMs: s.timestampMs,
      values: s.values,
      suspect: s.suspect === true,
    }));
    this.store.insert(PIPELINE, rows);
    return Promise.resolve();
  }

  issue(issue: SourceIssue): void {
    this.issues.push(issue);
  }

  end(): void {}
}

async function timed<T>(step: string, figures: StepFigures[], work: () => T | Promise<T>): Promise<T> {
  const probe = new LoopProbe();
  probe.start();
  // One turn first, so the probe's first tick is armed before the work starts.
  await new Promise((resolve) => setImmediate(resolve));
  const startedMs = performance.now();
  const result = await work();
  const ms = performance.now() - startedMs;
  await new Promise((resolve) => setTimeout(resolve, 10));
  figures.push({ step, ms, loop: probe.stop() });
  return result;
}

/** Each step of importing `file` into a fresh buffer under `workDir`, timed and probed. */
export async function importByStep(file: string, workDir: string, features: string[]): Promise<StepFigures[]> {
  const path = join(workDir, 'steps.db');
  const { db } = openDatabase(path);
  const store = new SampleStore(db, path, { retentionHours: 720, maxMb: 1024 });
  const ledger = new PmLedger(db);
  const context = {
    pipeline: PIPELINE,
    entityColumns: ['site', 'cell'],
    fixedEntity: {},
    features,
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
  const config = {
    type: 'pm' as const,
    path: workDir,
    format: 'auto' as const,
    pollMs: 1_000,
    processed: 'done',
    quarantine: 'quarantine',
    entities: [],
    counters: [],
    kpis: {},
  };
  const builder = pmRowBuilder(config, context, ledger);
  const figures: StepFigures[] = [];

  const read = await timed('read blocks', figures, () => readPmBlocks(file, 'auto'));
  const built = await timed('build rows', figures, () => builder.buildInTurns(read.blocks));
  refuseIfEmpty(read, built);
  const sink = new TimedBufferSink(store);
  await timed('hand over + insert', figures, async () => {
    const batcher = new SampleBatcher(sink, new AbortController().signal);
    for (const row of built.rows) {
      await batcher.add({ timestampMs: row.beginMs, entity: row.entity, values: row.values, suspect: row.suspect });
    }
    await batcher.flush();
  });
  await timed('commit ledger', figures, () => commitDroppedFile(ledger, PIPELINE, built));
  db.close();
  return figures;
}
