import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../../src/rng.js';
import { randomModel, SMALL_LAYOUT } from '../helpers.js';

export const HOUR_MS = 3_600_000;

/**
 * A small real ONNX model (KPIs a, b, c; mean 0, std 1; threshold 1): readings near 0 score well under the
 * threshold, a reading of 10 scores far above it. Deterministic, so tests can name the rows that must flag.
 */
export async function writeModel(dir: string): Promise<string> {
  const path = join(dir, 'model.onnx');
  await writeFile(path, randomModel(SMALL_LAYOUT).bytes);
  return path;
}

export interface SiteRows {
  startMs: number;
  hours: number;
  /** Sector → [first, last] hour index with anomalous readings. */
  anomalies?: Record<string, [number, number]>;
  sectors?: string[];
}

/** CSV of hourly rows for site S1: small noise around 0, readings of 10 in the anomalous hours. */
export function siteCsv({ startMs, hours, anomalies = {}, sectors = ['1', '2'] }: SiteRows, from = 0): string {
  const rng = new Rng(11);
  const lines = from === 0 ? ['timestamp,site,sector,a,b,c'] : [];
  for (let h = 0; h < hours; h++) {
    for (const sector of sectors) {
      const span = anomalies[sector];
      const bad = span !== undefined && h >= span[0] && h <= span[1];
      const value = () => (bad ? 10 + rng.normal(0, 0.1) : rng.normal(0, 0.1)).toFixed(3);
      const line = `${new Date(startMs + h * HOUR_MS).toISOString()},S1,${sector},${value()},${value()},${value()}`;
      if (h >= from) lines.push(line);
    }
  }
  return lines.join('\n') + '\n';
}

/** A complete agent configuration for site S1 around one file pipeline; override what a test needs. */
export function siteConfig(dir: string, model: string, dataPath: string, url: string, source: object = {}) {
  return {
    site: 'S1',
    pipelines: [
      {
        name: 'cells',
        source: { type: 'file', path: dataPath, mode: 'replay', speed: 0, ...source },
        entity: { columns: ['site', 'sector'] },
        model,
        intervalS: 3600,
      },
    ],
    storage: { path: join(dir, 'state', 'cellwatch.db') },
    mqtt: { url, protocolVersion: 5, reconnectMinMs: 100, reconnectMaxMs: 500, topicPrefix: 'cw' },
    alarms: { openFlags: 3, windowRows: 6, closeCleanRows: 3 },
    summary: { intervalMinutes: 0.02 },
    health: { intervalS: 1 },
    drainTimeoutS: 10,
  };
}
