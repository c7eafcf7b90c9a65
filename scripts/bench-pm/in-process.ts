/**
 * One PM file imported in this process the way the agent imports it: the real PmSource polls a drop folder,
 * reads and maps the file, and hands rows in batches to a sink that writes each batch into a real SQLite
 * buffer (SampleStore) before it resolves, as the pipeline does; the ledger lives in the same database file.
 * The loop probe runs throughout, so its figures cover every synchronous step of the import.
 */
import { mkdir, readdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { openDatabase } from '../../src/buffer/database.js';
import { PmLedger } from '../../src/buffer/pm-ledger.js';
import { SampleStore } from '../../src/buffer/samples.js';
import { entityKey } from '../../src/agent/entity-key.js';
import type { PmSourceConfig } from '../../src/config/schema.js';
import { PmSource } from '../../src/sources/pm/pm-source.js';
import type { Sample, SourceContext, SourceIssue, SourceSink } from '../../src/sources/source.js';
import { LoopProbe, type LoopFigures } from './loop-probe.js';

/** The drop folder is scanned this often; a file is taken on the second scan that finds it unchanged. */
const POLL_MS = 50;

const PIPELINE = 'cells';

export interface ImportFigures {
  loop: LoopFigures;
  /** From the file's appearance in the folder to its move to done/, with the two scans (50 ms apart) that
   * prove it complete. */
  importMs: number;
  rows: number;
  /** Rows the buffer holds afterwards, and ledger entries (blocks) recorded. */
  storedRows: number;
  ledgerBlocks: number;
  issues: SourceIssue[];
  batches: number;
}

/** Writes every batch into the buffer before it resolves, as Pipeline.samples does. */
class BufferSink implements SourceSink {
  rows = 0;
  batches = 0;
  readonly issues: SourceIssue[] = [];

  constructor(private readonly store: SampleStore) {}

  async samples(batch: Sample[]): Promise<void> {
    // The pipeline runs each batch as a continuation of its queue; so does this.
    await Promise.resolve();
    const rows = batch.map((s) => ({
      entity: entityKey(s.entity),
      timestampMs: s.timestampMs,
      values: s.values,
      suspect: s.suspect === true,
    }));
    this.store.insert(PIPELINE, rows);
    this.rows += rows.length;
    this.batches++;
  }

  issue(issue: SourceIssue): void {
    this.issues.push(issue);
  }

  end(): void {}
}

/**
 * Import one file into a fresh buffer under `workDir`. The file is moved into the drop folder only once the
 * probe runs, so the measurement starts with an idle loop.
 */
export async function importThroughSource(file: string, workDir: string, features: string[]): Promise<ImportFigures> {
  const drop = join(workDir, 'drop');
  await mkdir(drop, { recursive: true });
  const { db } = openDatabase(join(workDir, 'buffer.db'));
  const store = new SampleStore(db, join(workDir, 'buffer.db'), { retentionHours: 720, maxMb: 1024 });
  const ledger = new PmLedger(db);
  const sink = new BufferSink(store);
  const source = new PmSource(sourceConfig(drop), sourceContext(features), ledger);
  const probe = new LoopProbe();

  probe.start();
  await source.start(sink);
  const startedMs = performance.now();
  await rename(file, join(drop, basename(file)));
  while ((source.fileCounts()?.ingested ?? 0) + (source.fileCounts()?.failed ?? 0) === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const importMs = performance.now() - startedMs;
  await source.stop();
  const loop = probe.stop();

  const count = (sql: string) => db.prepare<[], number>(sql).pluck().get() ?? 0;
  const figures: ImportFigures = {
    loop,
    importMs,
    rows: sink.rows,
    storedRows: count('SELECT count(*) FROM samples'),
    ledgerBlocks: count('SELECT count(*) FROM pm_blocks'),
    issues: sink.issues,
    batches: sink.batches,
  };
  if ((await readdir(join(drop, 'done')).catch(() => [])).length !== 1) {
    throw new Error(`the file was not imported: ${JSON.stringify(sink.issues)}`);
  }
  db.close();
  return figures;
}

function sourceConfig(drop: string): PmSourceConfig {
  return {
    type: 'pm',
    path: drop,
    format: 'auto',
    pollMs: POLL_MS,
    processed: 'done',
    quarantine: 'quarantine',
    entities: [],
    counters: [],
    kpis: {},
  };
}

/** Every measurement is a KPI as it is (a feature without a formula is read as a measurement name). */
function sourceContext(features: string[]): SourceContext {
  return {
    pipeline: PIPELINE,
    entityColumns: ['site', 'cell'],
    fixedEntity: {},
    features,
    resumeAfterMs: Number.NEGATIVE_INFINITY,
  };
}
