import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ANOMALY_KINDS } from '../generate/episodes.js';
import { writeFailure } from '../io/output-file.js';
import type { ScoredLabelledRows } from './evaluate.js';

const KIND_COLOURS = [...ANOMALY_KINDS, 'maintenance', 'anomaly'] as const;

export interface PlotOptions {
  dir: string;
  threshold: number;
  /** Entities to draw: those of the highest-scoring rows first, then the ones with most labelled rows. */
  entities: number;
}

/** Render a Vega-Lite spec to an SVG file with the headless Vega view (no browser, no canvas). */
async function renderSvg(spec: TopLevelSpec, path: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await writeFile(path, svg).catch((err: unknown) => {
    throw writeFailure(path, err);
  });
}

function pickEntities(rows: ScoredLabelledRows, count: number): string[] {
  const order = Array.from({ length: rows.count }, (_, i) => i).sort(
    (a, b) => (rows.score[b] as number) - (rows.score[a] as number),
  );
  const chosen: string[] = [];
  for (const i of order) {
    const entity = rows.entity[i] as string;
    if (!chosen.includes(entity)) chosen.push(entity);
    if (chosen.length >= Math.ceil(count / 2)) break;
  }
  const labelled = new Map<string, number>();
  for (let i = 0; i < rows.count; i++) {
    if (rows.label[i] === 1) labelled.set(rows.entity[i] as string, (labelled.get(rows.entity[i] as string) ?? 0) + 1);
  }
  for (const [entity] of [...labelled.entries()].sort((a, b) => b[1] - a[1])) {
    if (chosen.length >= count) break;
    if (!chosen.includes(entity)) chosen.push(entity);
  }
  return chosen;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '_') || 'all';
}

/**
 * Write the evaluation plots: reconstruction error over time for a few entities, with the threshold line
 * and the labelled anomalies marked, and the error distribution of normal and anomalous rows.
 * Returns the files written. Scores are drawn on a log axis: they span several orders of magnitude.
 */
export async function writePlots(rows: ScoredLabelledRows, options: PlotOptions): Promise<string[]> {
  await mkdir(options.dir, { recursive: true });
  const files: string[] = [];
  const floor = 1e-4;
  for (const [rank, entity] of pickEntities(rows, options.entities).entries()) {
    const values: { time: number; score: number; kind: string; labelled: boolean }[] = [];
    for (let i = 0; i < rows.count; i++) {
      if (rows.entity[i] !== entity) continue;
      const labelled = rows.label[i] === 1;
      const kind = rows.maintenance[i] === 1 ? 'maintenance' : labelled ? rows.kind[i] || 'anomaly' : 'normal';
      values.push({
        time: rows.timestampMs[i] as number,
        score: Math.max(rows.score[i] as number, floor),
        kind,
        labelled,
      });
    }
    const spec: TopLevelSpec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `Reconstruction error over time: ${entity || 'all rows'}`,
      width: 900,
      height: 260,
      data: { values },
      layer: [
        {
          mark: { type: 'line', strokeWidth: 1, color: '#4c78a8' },
          encoding: {
            x: { field: 'time', type: 'temporal', title: 'time (UTC)' },
            y: { field: 'score', type: 'quantitative', scale: { type: 'log' }, title: 'anomaly score' },
          },
        },
        {
          transform: [{ filter: 'datum.kind !== "normal"' }],
          mark: { type: 'point', filled: true, size: 30 },
          encoding: {
            x: { field: 'time', type: 'temporal' },
            y: { field: 'score', type: 'quantitative' },
            // One colour per kind in every plot, so a frozen feed is the same colour wherever it appears.
            color: { field: 'kind', type: 'nominal', title: 'labelled', scale: { domain: kindDomain(rows) } },
          },
        },
        {
          data: { values: [{ threshold: Math.max(options.threshold, floor) }] },
          mark: { type: 'rule', color: '#e45756', strokeDash: [6, 4] },
          encoding: { y: { field: 'threshold', type: 'quantitative' } },
        },
      ],
    };
    // The rank keeps names apart when two entities differ only in characters a file name cannot hold.
    const path = join(options.dir, `error-over-time_${rank + 1}_${fileSafe(entity)}.svg`);
    await renderSvg(spec, path);
    files.push(path);
  }

  const distribution = Array.from({ length: rows.count }, (_, i) => ({
    log10score: Math.log10(Math.max(rows.score[i] as number, floor)),
    group: rows.maintenance[i] === 1 ? 'maintenance' : rows.label[i] === 1 ? 'anomalous' : 'normal',
  }));
  const histogram: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Distribution of anomaly scores (log10)',
    width: 700,
    height: 300,
    data: { values: distribution },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.6 },
        encoding: {
          x: { field: 'log10score', type: 'quantitative', bin: { maxbins: 80 }, title: 'log10(score)' },
          y: { aggregate: 'count', type: 'quantitative', scale: { type: 'sqrt' }, stack: null, title: 'rows' },
          color: { field: 'group', type: 'nominal' },
        },
      },
      {
        data: { values: [{ t: Math.log10(Math.max(options.threshold, floor)) }] },
        mark: { type: 'rule', color: '#e45756', strokeDash: [6, 4] },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
    ],
  };
  const histogramPath = join(options.dir, 'score-distribution.svg');
  await renderSvg(histogram, histogramPath);
  files.push(histogramPath);
  return files;
}

/** The known kinds first, in a fixed order, then any other kind the labels use. */
function kindDomain(rows: ScoredLabelledRows): string[] {
  const domain: string[] = [...KIND_COLOURS];
  for (const kind of rows.kind) if (kind && !domain.includes(kind)) domain.push(kind);
  return domain;
}
