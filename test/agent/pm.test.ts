import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { scratchDir } from '../helpers.js';
import { hourEnd, hourFileName, pmVes, pmXml } from '../telecom/pm-fixture.js';
import { hasMosquitto, startTestBroker, subscriber } from './broker.js';
import { Cleanups, until, writeConfig } from './daemon.js';
import { HOUR_MS, siteConfig, writeModel } from './fixture.js';
import { validateMessage } from './payload-check.js';

const START_MS = Date.UTC(2026, 1, 2);
const HOURS = 30;

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/**
 * One hour of site S1 as the element manager writes it: cells 1 and 2, measurements a, b and c near 0,
 * 10 on cell 2 from hour 10 to 15. Cell 1's values come in a second measInfo block, in the older encoding.
 */
function hourFile(hour: number, rng: Rng): string {
  const { cell1, cell2 } = hourValues(hour, rng);
  return pmXml({
    prolog: '<?xml-stylesheet type="text/xsl" href="MeasDataCollection.xsl"?>\n',
    periods: [
      {
        endTime: hourEnd(START_MS, hour).replace('Z', '+00:00'),
        infos: [
          { id: 'Cell2', types: ['a', 'b', 'c'], values: [{ object: 'NRCellDU=2', values: cell2 }] },
          { jobId: '7', types: ['a', 'b', 'c'], values: [{ object: 'NRCellDU=1', values: cell1 }] },
        ],
      },
    ],
  });
}

/** The same hour as the element manager's VES collector sends it: one perf3gpp event. */
function hourEvent(hour: number, rng: Rng): string {
  const { cell1, cell2 } = hourValues(hour, rng);
  const values = [
    { object: 'NRCellDU=1', values: cell1 },
    { object: 'NRCellDU=2', values: cell2 },
  ];
  return pmVes({
    beginMs: START_MS + hour * HOUR_MS,
    durationS: 3600,
    infos: [{ id: 'Cells', types: ['a', 'b', 'c'], values }],
  });
}

function hourValues(hour: number, rng: Rng): { cell1: string[]; cell2: string[] } {
  const value = (bad: boolean) => (bad ? 10 + rng.normal(0, 0.1) : rng.normal(0, 0.1)).toFixed(3);
  const values = (cell: string) => {
    const bad = cell === '2' && hour >= 10 && hour <= 15;
    return [value(bad), value(bad), value(bad)];
  };
  return { cell2: values('2'), cell1: values('1') };
}

const BROKER = hasMosquitto() ? 'mosquitto' : 'embedded aedes';

describe(`cellwatch run with a drop folder of 3GPP PM files (${BROKER})`, () => {
  it('parses XML and VES files, buffers, scores, reports an incident over MQTT; quarantines a bad file', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const drop = join(dir, 'pm');
    await mkdir(drop);

    // The files are in the folder before the agent starts, as after a night without it.
    const rng = new Rng(5);
    for (let hour = 0; hour < HOURS; hour++) {
      const name = hourFileName(START_MS, hour);
      // Hour 12, inside the anomaly, comes as a VES event; hour 20 gzipped.
      if (hour === 12) await writeFile(join(drop, name.replace(/\.xml$/, '.json')), hourEvent(hour, rng));
      else if (hour === 20) await writeFile(join(drop, `${name}.gz`), gzipSync(hourFile(hour, rng)));
      else await writeFile(join(drop, name), hourFile(hour, rng));
    }
    await writeFile(join(drop, 'redelivered.xml'), await readFile(join(drop, hourFileName(START_MS, 5))));
    await writeFile(join(drop, 'broken.xml'), hourFile(31, rng).slice(0, 400));

    const base = siteConfig(dir, await writeModel(dir), drop, broker.url);
    const config = {
      ...base,
      pipelines: [
        {
          ...base.pipelines[0],
          source: { type: 'pm', path: drop, pollMs: 100 },
          entity: { columns: ['site', 'cell'] },
        },
      ],
    };
    const central = await subscriber(broker.url, 'cw/S1/#');
    cleanups.add(() => central.client.endAsync(true));
    const daemon = cleanups.daemon(await writeConfig(dir, config));

    const events = () =>
      central.received
        .filter((m) => m.topic === 'cw/S1/anomaly')
        .map((m) => `${String(m.body.event)} ${(m.body.incident as { entity: string }).entity}`);
    await until(() => events().includes('close S1/2'), 60_000);
    const health = () =>
      central.received
        .filter((m) => m.topic === 'cw/S1/health')
        .map((m) => m.body as { pipelines: { files?: unknown; rowsIn: number }[]; errors: Record<string, number> });
    await until(() => health().some((h) => h.pipelines[0]?.rowsIn === 2 * HOURS), 30_000);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);

    expect(events()).toEqual(['open S1/2', 'close S1/2']);
    const open = central.received.find((m) => m.topic === 'cw/S1/anomaly')?.body.incident as Record<string, unknown>;
    expect(open.firstFlaggedAt).toBe(new Date(START_MS + 10 * HOUR_MS).toISOString());

    const last = health().at(-1)!;
    expect(last.pipelines[0]).toMatchObject({
      source: 'pm',
      rowsIn: 2 * HOURS,
      files: { ingested: 31, quarantined: 1 },
    });
    expect(last.errors).toMatchObject({ PM_MALFORMED: 1 });
    for (const m of central.received) validateMessage(m.topic, m.body);

    expect((await readdir(join(drop, 'done'))).length).toBe(31);
    expect((await readdir(join(drop, 'quarantine'))).sort()).toEqual(['broken.xml', 'broken.xml.reason.txt']);
    expect(await readFile(join(drop, 'quarantine', 'broken.xml.reason.txt'), 'utf8')).toMatch(/^PM_MALFORMED: /);

    const db = new Database(join(dir, 'state', 'cellwatch.db'), { readonly: true });
    cleanups.add(() => Promise.resolve(db.close()));
    const stored = db.prepare("SELECT entity, count(*) AS n FROM samples WHERE pipeline = 'cells' GROUP BY entity");
    expect(stored.all()).toEqual([
      { entity: 'S1/1', n: HOURS },
      { entity: 'S1/2', n: HOURS },
    ]);
    // The VES hour gave both cells their row, and cell 2's was scored as part of the incident.
    const vesHour = db.prepare('SELECT entity, flagged FROM samples WHERE ts_ms = ? ORDER BY entity');
    expect(vesHour.all(START_MS + 12 * HOUR_MS)).toEqual([
      { entity: 'S1/1', flagged: 0 },
      { entity: 'S1/2', flagged: 1 },
    ]);
  });
});
