import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../../src/rng.js';
import { pmXml, type FixturePeriod } from '../telecom/pm-fixture.js';

const HOUR_MS = 3_600_000;

/** The TS 28.552 measurements the built-in mapping turns into the default KPIs. */
export const NR_COUNTERS = [
  'DRB.UEThpDl',
  'DRB.UEThpUl',
  'RRU.PrbUsedDl',
  'RRU.PrbAvailDl',
  'RRC.ConnMean',
  'RRC.ConnEstabSucc.sum',
  'RRC.ConnEstabAtt.sum',
  'DRB.RelActNbr.sum',
  'DRB.EstabSucc.sum',
  'MM.HoExeIntraSucc',
  'MM.HoExeIntraReq',
] as const;

export interface PmFolderOptions {
  startMs: number;
  days: number;
  cells: readonly string[];
  seed: number;
  /** Hours (counted from startMs) in which cell `cell`'s downlink throughput collapses to a tenth. */
  dip?: { cell: string; fromHour: number; toHour: number };
}

/**
 * A gNB's hourly PM files, one 32.435 file per day holding 24 periods, as an element manager that uploads
 * daily writes them: users follow a daily curve, load and throughput follow the users, success counts stay
 * near their attempts. Written from the format for tests; every number comes from a seeded generator.
 */
export async function writePmFolder(dir: string, options: PmFolderOptions): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rng = new Rng(options.seed);
  const names: string[] = [];
  for (let day = 0; day < options.days; day++) {
    const periods: FixturePeriod[] = [];
    for (let h = 0; h < 24; h++) {
      const hour = day * 24 + h;
      const endTime = new Date(options.startMs + (hour + 1) * HOUR_MS).toISOString().replace('.000Z', 'Z');
      const values = options.cells.map((cell) => ({
        object: `ManagedElement=GNB1,GNBDUFunction=1,NRCellDU=${cell}`,
        values: hourValues(rng, h, cell, isDip(options, cell, hour)),
      }));
      periods.push({ endTime, infos: [{ id: 'NRCellDU', types: [...NR_COUNTERS], values }] });
    }
    const date = new Date(options.startMs + day * 24 * HOUR_MS).toISOString().slice(0, 10).replace(/-/g, '');
    const name = `A${date}.0000+0000-2400+0000_GNB1.xml`;
    const beginTime = new Date(options.startMs + day * 24 * HOUR_MS).toISOString().replace('.000Z', 'Z');
    await writeFile(join(dir, name), pmXml({ sender: 'SubNetwork=1,ManagedElement=GNB1', beginTime, periods }));
    names.push(name);
  }
  return names;
}

function isDip(options: PmFolderOptions, cell: string, hour: number): boolean {
  const dip = options.dip;
  return dip !== undefined && dip.cell === cell && hour >= dip.fromHour && hour <= dip.toHour;
}

function hourValues(rng: Rng, hourOfDay: number, cell: string, dip: boolean): string[] {
  const daily = 0.6 + 0.4 * Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI);
  const users = Math.max(1, (40 + Number(cell) * 5) * daily + rng.normal(0, 2));
  const thpDlKbps = (dip ? 0.1 : 1) * (60_000 - users * 400 + rng.normal(0, 1_500));
  const thpUlKbps = 12_000 - users * 60 + rng.normal(0, 400);
  const prbAvail = 273 * 3600;
  const prbUsed = Math.min(prbAvail, prbAvail * (0.1 + users / 120) + rng.normal(0, 5_000));
  const rrcAtt = Math.round(users * 30 + rng.normal(0, 10));
  const rrcSucc = rrcAtt - Math.round(Math.abs(rng.normal(0, 2)));
  const drbEstab = Math.round(users * 25 + rng.normal(0, 8));
  const drbRel = Math.round(Math.abs(rng.normal(2, 1)));
  const hoReq = Math.round(users * 4 + rng.normal(0, 3));
  const hoSucc = hoReq - Math.round(Math.abs(rng.normal(0, 1)));
  return [
    thpDlKbps.toFixed(0),
    thpUlKbps.toFixed(0),
    prbUsed.toFixed(0),
    String(prbAvail),
    users.toFixed(1),
    String(rrcSucc),
    String(rrcAtt),
    String(drbRel),
    String(drbEstab),
    String(hoSucc),
    String(hoReq),
  ];
}
