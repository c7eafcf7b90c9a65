/**
 * Every file of the shared PM sample trees through the agent's own reading of one dropped file: each is either
 * parsed (what it yields: periods, entities, values, the issues the source would report) or quarantined with
 * the coded reason the source would write. Nothing is skipped by name, since a drop folder can receive anything,
 * schemas and metadata files included.
 *
 *   npx tsx scripts/pm-samples.ts [--markdown] [dir ...]
 *
 * Default dirs: ../shared/data/pm-xml-onap and ../shared/data/ves-samples, relative to the repository root.
 *
 * The pipeline is permissive so that a file shows what it holds: its features are its own measurement names
 * (each read as `counter("name")`, so names with '-' work and no KPI mapping is needed), the entity columns
 * are site and cell with the default rules (the element's last RDN value, the object's). Each file gets a fresh
 * in-memory ledger; a second pass then reads all files in order with one shared ledger, as one agent would, to
 * show which files only repeat blocks ingested before (a .gz copy, the same data in the other encoding).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entityKey } from '../src/agent/entity-key.js';
import { PmLedger } from '../src/buffer/pm-ledger.js';
import type { PmSourceConfig } from '../src/config/schema.js';
import { isCellwatchError } from '../src/errors.js';
import { readPmBlocks } from '../src/sources/pm/read-blocks.js';
import { commitDroppedFile, pmRowBuilder, readDroppedFile, type DroppedFile } from '../src/sources/pm/pm-source.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_DIRS = ['../shared/data/pm-xml-onap', '../shared/data/ves-samples'].map((d) => resolve(ROOT, d));
const PIPELINE = 'samples';
const ENTITY_COLUMNS = ['site', 'cell'];

interface Sample {
  label: string;
  path: string;
}

type Outcome = { ok: true; file: DroppedFile } | { ok: false; code: string; message: string };

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const given = args.filter((a) => a !== '--markdown').map((d) => resolve(d));
const dirs = (given.length > 0 ? given : DEFAULT_DIRS).filter((d) => existsSync(d));
if (dirs.length === 0) {
  console.log(`no PM sample folders at ${(given.length > 0 ? given : DEFAULT_DIRS).join(', ')}; nothing to do`);
  process.exit(0);
}

const samples = (await Promise.all(dirs.map(filesOf))).flat();
const fresh: Array<[Sample, Outcome]> = [];
for (const sample of samples) fresh.push([sample, await ingest(sample.path, PmLedger.inMemory())]);
const sharedLedger = PmLedger.inMemory();
const shared: Array<[Sample, Outcome, string]> = [];
// Which file first took each block key: a key taken again was forgotten by the ledger's pruning in between.
const firstTaken = new Map<string, string>();
for (const sample of samples) {
  const outcome = await ingest(sample.path, sharedLedger);
  shared.push([sample, outcome, outcome.ok ? retaken(sample, outcome.file) : '']);
}

if (markdown) printMarkdown();
else printText();

/** Every file under a folder, in path order, labelled by the folder's name and the path below it. */
async function filesOf(dir: string): Promise<Sample[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()
    .map((path) => ({ label: `${basename(dir)}/${relative(dir, path)}`, path }));
}

/**
 * One file as the agent reads a dropped file, with a pipeline whose features are the file's measurement names.
 * The names need a first read; a file that fails it would fail the agent's read the same way.
 */
async function ingest(path: string, ledger: PmLedger): Promise<Outcome> {
  try {
    const names = (await readPmBlocks(path, 'auto')).measurementNames;
    const kpis = Object.fromEntries(names.map((n) => [n, `counter(${JSON.stringify(n)})`]));
    const config: PmSourceConfig = {
      type: 'pm',
      path,
      format: 'auto',
      pollMs: 1_000,
      processed: 'done',
      quarantine: 'quarantine',
      entities: [],
      counters: [],
      kpis,
    };
    const context = {
      pipeline: PIPELINE,
      entityColumns: ENTITY_COLUMNS,
      fixedEntity: {},
      features: names,
      resumeAfterMs: Number.NEGATIVE_INFINITY,
    };
    const file = await readDroppedFile(path, 'auto', pmRowBuilder(config, context, ledger));
    commitDroppedFile(ledger, PIPELINE, file.built);
    return { ok: true, file };
  } catch (err) {
    if (!isCellwatchError(err)) throw err;
    return { ok: false, code: err.code, message: err.message };
  }
}

/** The figures of one parsed file, as short texts for both outputs. */
function summary({ read, built, issues }: DroppedFile) {
  const { rows, stats } = built;
  const periods = new Set(rows.map((r) => `${r.beginMs}-${r.endMs}`));
  const entities = [...new Set(rows.map((r) => entityKey(r.entity)))];
  const objects = new Set(read.blocks.map((b) => `${b.element}\u0000${b.object}`));
  const present = rows.reduce((n, r) => n + r.values.filter((v) => !Number.isNaN(v)).length, 0);
  const first = Math.min(...rows.map((r) => r.beginMs));
  const last = Math.max(...rows.map((r) => r.endMs));
  const unknownDeltas = Object.entries(stats.counterDeltas).map(([why, n]) => `${n} ${why}`);
  return {
    outcome: `parsed (${read.info?.format ?? '?'})`,
    periods: rows.length === 0 ? '0' : `${periods.size}: ${iso(first)} – ${iso(last)}`,
    entities: `${entities.length}${objects.size > entities.length ? ` (of ${objects.size} objects)` : ''}`,
    examples: entities.slice(0, 2).join(', ') + (entities.length > 2 ? ', …' : ''),
    values:
      `${present} present in ${rows.length} rows; of ${stats.values} reported ${stats.missingValues} missing, ` +
      `${stats.skippedArrays} arrays skipped` +
      (unknownDeltas.length > 0 ? `; counter deltas unknown: ${unknownDeltas.join(', ')}` : '') +
      (stats.conflictValues > 0 ? `; ${stats.conflictValues} given again otherwise by another block` : ''),
    counts: `${present} / ${stats.missingValues} / ${stats.skippedArrays}`,
    rows: `${rows.length}`,
    suspect: `${stats.suspectRows}`,
    blocks: blocksText(built),
    // The source's messages start with the file's name, which both outputs already show.
    issues: issues.map((i) => `${i.code} ${i.message.slice(i.message.indexOf(': ') + 2)}`),
    moreSkips: read.skips.slice(1, 3).map((s) => `(also skipped: ${s.reason})`),
  };
}

function blocksText({ stats }: DroppedFile['built']): string {
  const again = stats.duplicateBlocks + stats.conflictBlocks;
  const taken = stats.blocks - again - stats.unmappedBlocks;
  const parts = [`${taken} taken`];
  if (stats.duplicateBlocks > 0) parts.push(`${stats.duplicateBlocks} repeated`);
  if (stats.conflictBlocks > 0) parts.push(`${stats.conflictBlocks} repeated with other values`);
  if (stats.unmappedBlocks > 0) parts.push(`${stats.unmappedBlocks} unmapped`);
  return `${stats.blocks} blocks: ${parts.join(', ')}`;
}

function printText(): void {
  console.log(`Each file on its own (fresh ledger), pipeline ${PIPELINE}, entity columns ${ENTITY_COLUMNS.join(', ')}`);
  for (const [sample, outcome] of fresh) {
    console.log(`\n${sample.label}`);
    if (!outcome.ok) {
      console.log(`  quarantined ${outcome.code}: ${outcome.message}`);
      continue;
    }
    const s = summary(outcome.file);
    console.log(`  ${s.outcome}; ${s.blocks}`);
    console.log(`  periods  ${s.periods}`);
    console.log(`  entities ${s.entities}${s.examples === '' ? '' : `: ${s.examples}`}`);
    console.log(`  values   ${s.values}; ${s.suspect} suspect rows`);
    for (const issue of [...s.issues, ...s.moreSkips]) console.log(`  issue    ${issue}`);
  }

  console.log('\nAll files in order, one shared ledger (as one agent reading them from one drop folder)');
  for (const [sample, outcome, again] of shared) console.log(`  ${sample.label}: ${sharedText(outcome, again)}`);
}

function sharedText(outcome: Outcome, again: string): string {
  if (!outcome.ok) return `quarantined ${outcome.code}`;
  const { built } = outcome.file;
  return `${built.rows.length} rows; ${blocksText(built)}${again}`;
}

/** Blocks this file took that an earlier file had taken: the ledger forgot them (keys are kept 35 days). */
function retaken(sample: Sample, { built }: DroppedFile): string {
  const earlier = new Set<string>();
  let count = 0;
  for (const { key } of built.ledger.blocks) {
    const before = firstTaken.get(key);
    if (before === undefined) firstTaken.set(key, sample.label);
    else {
      count++;
      earlier.add(basename(before));
    }
  }
  return count === 0 ? '' : ` (${count} of them taken before from ${[...earlier].join(', ')}, since forgotten)`;
}

function printMarkdown(): void {
  const head = ['File', 'Outcome', 'Periods (UTC)', 'Entities', 'Rows', 'Values present / missing / arrays', 'Suspect'];
  console.log(row([...head, 'Issues']));
  console.log(row([...head, 'Issues'].map(() => '---')));
  for (const [sample, outcome] of fresh) {
    const file = `\`${sample.label}\``;
    if (!outcome.ok) {
      console.log(row([file, `quarantined \`${outcome.code}\`: ${escape(outcome.message)}`, '', '', '', '', '', '']));
      continue;
    }
    const s = summary(outcome.file);
    const entities = s.examples === '' ? s.entities : `${s.entities}: ${s.examples}`;
    const cells = [s.periods, entities, s.rows, s.counts, s.suspect].map(escape);
    console.log(row([file, escape(`${s.outcome}; ${s.blocks}`), ...cells, s.issues.map(escape).join('<br>')]));
  }

  console.log(`\n${row(['File', 'One shared ledger, files in this order'])}\n${row(['---', '---'])}`);
  for (const [sample, outcome, again] of shared) {
    console.log(row([`\`${sample.label}\``, escape(sharedText(outcome, again))]));
  }
}

/** A table row of cells already escaped (a cell may hold <br> between lines). */
function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

// Messages quote XML ("root element <schema>"), which a markdown renderer would take for HTML.
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
