/**
 * A large PM file laid out as a gNB or its element manager writes one: one 15-minute period, one measInfo per
 * counter group (RRC, DRB, RRU, MM, ...), one measValue per cell in each. The content goes through the test
 * fixture writer, so the benchmark reads the same XML the tests read, only more of it.
 */
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../src/rng.js';
import { pmXml, type FixtureInfo } from '../../test/telecom/pm-fixture.js';

/** TS 28.552 measurement names, ordered so that the first eight fill four groups of two. */
const MEASUREMENTS = [
  'RRC.ConnEstabAtt.sum',
  'RRC.ConnEstabSucc.sum',
  'DRB.UEThpDl',
  'DRB.UEThpUl',
  'RRU.PrbUsedDl',
  'RRU.PrbAvailDl',
  'MM.HoExeIntraReq',
  'MM.HoExeIntraSucc',
  'RRC.ConnMean',
  'DRB.EstabSucc.sum',
  'DRB.RelActNbr.sum',
];

/** A granularity period of 15 minutes, the usual one for NR PM. */
const PERIOD_S = 900;

export const GNB_ELEMENT = 'SubNetwork=1,ManagedElement=gNB-1';

export interface GnbFileOptions {
  cells: number;
  counters: number;
  /** measType/r (default) or the older measTypes/measResults lists. */
  encoding: 'r' | 'lists';
  gzip: boolean;
  /** End of the period the file reports. */
  endMs: number;
}

export interface WrittenFile {
  path: string;
  bytes: number;
  /** measValue elements in the file: one block each once read. */
  blocks: number;
  measInfos: number;
}

/** Measurement names for a number of counters: 28.552 ones first, then vendor-specific (VS.) ones. */
export function counterNames(counters: number): string[] {
  const names = MEASUREMENTS.slice(0, counters);
  for (let i = names.length; i < counters; i++) names.push(`VS.Bench${i + 1}`);
  return names;
}

/** Write the file and say what is in it. */
export async function writeGnbFile(path: string, options: GnbFileOptions): Promise<WrittenFile> {
  const rng = new Rng(42);
  const groups = new Map<string, string[]>();
  for (const name of counterNames(options.counters)) {
    const group = name.slice(0, name.indexOf('.'));
    groups.set(group, [...(groups.get(group) ?? []), name]);
  }

  const cells = Array.from({ length: options.cells }, (_, i) => `${GNB_ELEMENT},GNBDUFunction=1,NRCellDU=${i + 1}`);
  const infos: FixtureInfo[] = [...groups].map(([group, types]) => ({
    id: group,
    types,
    values: cells.map((object) => ({ object, values: types.map(() => String(rng.int(0, 200_000))) })),
  }));
  const text = pmXml({
    encoding: options.encoding,
    sender: GNB_ELEMENT,
    beginTime: isoSeconds(options.endMs - PERIOD_S * 1000),
    periods: [{ endTime: isoSeconds(options.endMs), durationS: PERIOD_S, infos }],
  });

  const content = options.gzip ? gzipSync(text) : Buffer.from(text);
  await writeFile(path, content);
  return { path, bytes: content.length, blocks: groups.size * options.cells, measInfos: groups.size };
}

/** The end of the last whole period before now: recent enough for the agent, never in the future. */
export function lastPeriodEndMs(nowMs = Date.now()): number {
  const periodMs = PERIOD_S * 1000;
  return Math.floor(nowMs / periodMs) * periodMs;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
