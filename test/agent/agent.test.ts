import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers.js';
import { hasMosquitto, startTestBroker, subscriber, type TestBroker } from './broker.js';
import { Cleanups, until, writeConfig, type Daemon } from './daemon.js';
import { HOUR_MS, siteConfig, siteCsv, writeModel } from './fixture.js';
import { validateMessage, validatePayload } from './payload-check.js';

const START_MS = Date.UTC(2026, 1, 2);

interface Received {
  topic: string;
  body: Record<string, unknown>;
  retain: boolean;
}

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function setUp(rows: Parameters<typeof siteCsv>[0], source: object = {}, protocolVersion: 4 | 5 = 5) {
  const { dir, cleanup } = await scratchDir();
  cleanups.add(cleanup);
  const broker = await startTestBroker(dir);
  cleanups.add(() => broker.stop());
  const model = await writeModel(dir);
  const data = join(dir, 'site.csv');
  await writeFile(data, siteCsv(rows));
  const base = siteConfig(dir, model, data, broker.url, source);
  const config = { ...base, mqtt: { ...base.mqtt, protocolVersion } };
  const central = await subscriber(broker.url, 'cw/S1/#');
  cleanups.add(() => central.client.endAsync(true));
  return { dir, broker, config, central, configPath: await writeConfig(dir, config) };
}

function run(configPath: string, args: string[] = []): Daemon {
  return cleanups.daemon(configPath, args);
}

const anomalies = (received: Received[]) => received.filter((m) => m.topic === 'cw/S1/anomaly');
const eventsOf = (received: Received[]) =>
  anomalies(received).map((m) => `${String(m.body.event)} ${(m.body.incident as { entity: string }).entity}`);
/** (incident, event) pairs the daemon logged as it published them. */
const loggedIncidents = (daemon: Daemon) =>
  new Set(daemon.logs.filter((l) => l.msg === 'incident').map((l) => `${String(l.incidentId)} ${String(l.event)}`));
const receivedIncidents = (received: Received[]) =>
  new Set(
    anomalies(received).map((m) => `${(m.body.incident as { incidentId: string }).incidentId} ${String(m.body.event)}`),
  );

describe(`cellwatch run against a real broker (${hasMosquitto() ? 'mosquitto' : 'embedded aedes'})`, () => {
  it.each([4, 5] as const)(
    'over MQTT %s, turns a run of anomalous rows into one incident that opens and closes, and reports valid payloads',
    async (protocolVersion) => {
      const rows = { startMs: START_MS, hours: 30, anomalies: { '2': [10, 15] as [number, number] } };
      const { configPath, central } = await setUp(rows, {}, protocolVersion);

      const daemon = run(configPath, ['--until-sources-end']);
      expect(await daemon.exited).toBe(0);
      await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));

      expect(eventsOf(central.received)).toEqual(['open S1/2', 'close S1/2']);
      const open = anomalies(central.received)[0]?.body.incident as Record<string, unknown>;
      expect(open.firstFlaggedAt).toBe(new Date(START_MS + 10 * HOUR_MS).toISOString());
      expect(open.threshold).toBe(1);
      expect(open.peakScore).toBeGreaterThan(50);
      const top = open.topKpis as { kpi: string; observed: number; expected: number }[];
      expect(top.map((t) => t.kpi).sort()).toEqual(['a', 'b', 'c']);
      for (const t of top) expect(t.observed).toBeCloseTo(10, 0);

      const summaries = central.received.filter((m) => m.topic === 'cw/S1/summary').map((m) => m.body);
      expect(summaries.reduce((n, s) => n + (s.rowsIn as number), 0)).toBe(60);
      // Two rows per entity fill the model's window of 2 before the first score.
      expect(summaries.reduce((n, s) => n + (s.rowsScored as number), 0)).toBe(58);

      const ids = central.received.map((m) => m.body.messageId);
      expect(new Set(ids).size).toBe(ids.length);
      for (const m of central.received) validateMessage(m.topic, m.body);
      expect(central.received.filter((m) => m.topic === 'cw/S1/status').map((m) => m.body.state)).toEqual([
        'online',
        'offline',
      ]);
    },
  );

  it.skipIf(!hasMosquitto())(
    'loses nothing when the broker goes away during anomalies and comes back',
    async () => {
      // 70 hours at 36,000×: seven seconds of replay, the anomaly four seconds in, during the outage.
      const rows = { startMs: START_MS, hours: 70, anomalies: { '1': [40, 47] as [number, number] } };
      const { configPath, central, broker, dir } = await setUp(rows, { speed: 36_000 });
      const daemon = run(configPath, ['--until-sources-end']);
      await daemon.waitForLog((l) => l.msg === 'mqtt connected');
      await broker.stop();
      const outageStartMs = Date.now();
      // Seven seconds of replay on an idle machine; a loaded CI machine can take several times that.
      await daemon.waitForLog((l) => l.msg === 'incident' && l.event === 'close', 90_000);
      await broker.start();

      expect(await daemon.exited).toBe(0);
      await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));
      expect(loggedIncidents(daemon).size).toBeGreaterThanOrEqual(2);
      expect(receivedIncidents(central.received)).toEqual(loggedIncidents(daemon));
      // Made while the broker was away: sent after it came back, marked as replayed.
      const late = anomalies(central.received).filter((m) => Date.parse(String(m.body.createdAt)) > outageStartMs);
      expect(late.length).toBeGreaterThan(0);
      expect(late.every((m) => m.body.replayed === true)).toBe(true);
      expect(outboxLeft(dir)).toBe(0);
    },
    150_000,
  );

  it.skipIf(!hasMosquitto())('drops a message the broker refuses and goes on delivering the rest', async () => {
    // Anomaly messages (about 680 bytes) are over this broker's limit; status and summaries are not.
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const broker = await startTestBroker(dir, { extraLines: ['message_size_limit 600'] });
    cleanups.add(() => broker.stop());
    const data = join(dir, 'site.csv');
    await writeFile(data, siteCsv({ startMs: START_MS, hours: 30, anomalies: { '2': [10, 15] } }));
    const config = siteConfig(dir, await writeModel(dir), data, broker.url);
    const central = await subscriber(broker.url, 'cw/S1/#');
    cleanups.add(() => central.client.endAsync(true));

    const daemon = run(await writeConfig(dir, config), ['--until-sources-end']);
    expect(await daemon.exited).toBe(0);
    await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));
    const refused = daemon.logs.filter((l) => l.msg === 'message refused by the broker').map((l) => l.topic);
    // The incident's open and close, and a health message once the summaries made it longer.
    expect(refused.filter((t) => t === 'cw/S1/anomaly').length).toBe(2);
    expect(refused.every((t) => t === 'cw/S1/anomaly' || t === 'cw/S1/health')).toBe(true);
    expect(anomalies(central.received)).toEqual([]);
    expect(central.received.filter((m) => m.topic === 'cw/S1/summary').length).toBeGreaterThan(0);
    expect(outboxLeft(dir)).toBe(0);
  });

  it('has the broker announce it offline (the last will) when it dies without a goodbye', async () => {
    const rows = { startMs: START_MS, hours: 5 };
    const { configPath, central } = await setUp(rows, { mode: 'follow', pollMs: 100 });
    const daemon = run(configPath);
    await daemon.waitForLog((l) => l.msg === 'mqtt subscribed');
    daemon.child.kill('SIGKILL');
    await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));
    const status = central.received.filter((m) => m.topic === 'cw/S1/status').map((m) => m.body);
    expect(status.map((b) => [b.state, b.reason])).toEqual([
      ['online', undefined],
      ['offline', 'lost'],
    ]);
    validatePayload('status', status[1]);
  });

  it('delivers what was in the outbox when it was killed with SIGKILL, after a restart', async () => {
    const rows = { startMs: START_MS, hours: 30, anomalies: { '2': [5, 9] as [number, number] } };
    const { configPath, central, broker, dir } = await setUp(rows);
    await broker.stop();

    const first = run(configPath);
    await first.waitForLog((l) => l.msg === 'source ended');
    await until(() => pendingIds(dir).length >= 2, 10_000, 'outbox to fill');
    first.child.kill('SIGKILL');
    await first.exited;
    const pending = pendingIds(dir);

    await broker.start();
    const second = run(configPath, ['--until-sources-end']);
    expect(await second.exited).toBe(0);
    await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));
    const received = new Map(central.received.map((m) => [m.body.messageId, m.body]));
    for (const id of pending) {
      expect(received.has(id), `message ${id} from the killed agent's outbox`).toBe(true);
      expect(received.get(id)?.replayed).toBe(true);
    }
    expect(eventsOf(central.received)).toEqual(['open S1/2', 'close S1/2']);
    expect(outboxLeft(dir)).toBe(0);
  });
});

function openBuffer(dir: string) {
  return new Database(join(dir, 'state', 'cellwatch.db'), { readonly: true, fileMustExist: true });
}

function pendingIds(dir: string): string[] {
  try {
    const db = openBuffer(dir);
    const rows = db.prepare<[], { payload: string }>("SELECT payload FROM outbox WHERE kind != 'health'").all();
    db.close();
    return rows.map((r) => (JSON.parse(r.payload) as { messageId: string }).messageId);
  } catch {
    return [];
  }
}

function outboxLeft(dir: string): number {
  const db = openBuffer(dir);
  const n = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()?.n ?? -1;
  db.close();
  return n;
}

export type { TestBroker };
