import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { makeBundle } from '../../src/lifecycle/make-bundle.js';
import { generateKeyPair } from '../../src/lifecycle/signing.js';
import { contractFor, scratchDir, SMALL_LAYOUT } from '../helpers.js';
import { modelBytes, rawBundle } from '../lifecycle/bad-models.js';
import { hasMosquitto, startTestBroker, subscriber } from './broker.js';
import { Cleanups, until, writeConfig } from './daemon.js';
import { HOUR_MS, siteConfig, siteCsv } from './fixture.js';
import { validateMessage } from './payload-check.js';

const START_MS = Date.UTC(2026, 5, 1);
/** A week of hourly rows, the default baseline. */
const BASELINE_HOURS = 168;
const SCORING = contractFor(SMALL_LAYOUT).scoring;
const BROKER = hasMosquitto() ? 'mosquitto' : 'embedded aedes';
const cleanups = new Cleanups();
afterEach(() => cleanups.run());

type Body = Record<string, unknown>;
interface Counts {
  rows: number;
  scored: number;
}
interface Result extends Body {
  action: string;
  result: string;
  code?: string;
  version: number | null;
  message: string;
}
interface State extends Body {
  pipelines: { pipeline: string; active: { version: number; origin: string } | null; previous: number[] }[];
}

/** Site S1, pipeline "cells" following a CSV file, model v1 from the config, one trusted key. */
async function setUp() {
  const { dir, cleanup } = await scratchDir();
  cleanups.add(cleanup);
  const broker = await startTestBroker(dir);
  cleanups.add(() => broker.stop());
  const trusted = generateKeyPair();
  const other = generateKeyPair();
  await writeFile(join(dir, 'fleet.pub'), trusted.publicKeyPem);
  const data = join(dir, 'cells.csv');
  await writeFile(data, siteCsv({ startMs: START_MS, hours: 40 }));
  const v1 = join(dir, 'v1.onnx');
  await writeFile(v1, modelBytes(1));
  const base = siteConfig(dir, v1, data, broker.url, { mode: 'follow', pollMs: 100 });
  const config = {
    ...base,
    models: {
      trustedKeys: [join(dir, 'fleet.pub')],
      maxBundleMb: 0.5,
      calibrationRows: 200,
      minCalibrationRows: 20,
      probationRows: 10,
      probationMaxFlaggedShare: 0.25,
    },
  };
  const configPath = await writeConfig(dir, config);
  const central = await subscriber(broker.url, 'cw/S1/model/#', `central-model-${Date.now()}`);
  cleanups.add(() => central.client.endAsync(true));
  const health = await subscriber(broker.url, 'cw/S1/health', `central-health-${Date.now()}`);
  cleanups.add(() => health.client.endAsync(true));
  const operator = await mqtt.connectAsync(broker.url, { clientId: `operator-${Date.now()}` });
  cleanups.add(() => operator.endAsync(true));

  let hour = 40;
  /** Append hours of rows to the followed file; anomalous ones read 10 on both sectors. */
  const append = async (hours: number, anomalous = false) => {
    const sectors = anomalous ? { '1': [0, 10_000], '2': [0, 10_000] } : {};
    const rows = siteCsv({ startMs: START_MS + hour * HOUR_MS, hours, anomalies: sectors as never }, 0);
    await appendFile(data, rows.split('\n').slice(1).join('\n'));
    hour += hours;
  };
  const results = () => central.received.filter((m) => m.topic === 'cw/S1/model/result').map((m) => m.body as Result);
  const states = () => central.received.filter((m) => m.topic === 'cw/S1/model/state').map((m) => m.body as State);
  const lastHealth = () =>
    health.received.at(-1)?.body as
      { pipelines: { rowsScored: number; modelVersion: number | null }[]; errors: Record<string, number> } | undefined;
  /** Publish a command and wait for the model/result it causes. */
  const command = async (name: string, payload: Buffer | string): Promise<Result> => {
    const before = results().length;
    await operator.publishAsync(`cw/S1/command/model/${name}`, payload, { qos: 1 });
    await until(() => results().length > before, 30_000, `a result for ${name}`);
    return results()[before]!;
  };
  const operatorPublish = (payload: Buffer) => operator.publishAsync('cw/S1/command/model/push', payload, { qos: 1 });
  const privateKey = createPrivateKey(trusted.privateKeyPem);
  const sign = async (onnx: Uint8Array) =>
    (await makeBundle(onnx, { pipeline: 'cells', goldenRows: 4, privateKey })).bytes;
  return {
    dir,
    url: broker.url,
    configPath,
    central,
    other: createPrivateKey(other.privateKeyPem),
    privateKey,
    append,
    results,
    states,
    lastHealth,
    command,
    operatorPublish,
    hours: () => hour,
    sign,
  };
}

describe(`model lifecycle over a real broker (${BROKER})`, () => {
  it('refuses each bad bundle with its own code while v1 keeps scoring; accepts, keeps, rolls back', async () => {
    const site = await setUp();
    let daemon = cleanups.daemon(site.configPath);
    await until(() => site.states().length > 0, 30_000, 'the first model/state');
    expect(site.states()[0]!.pipelines[0]).toMatchObject({
      pipeline: 'cells',
      active: { version: 1, origin: 'config' },
    });
    await until(() => (site.lastHealth()?.pipelines[0]?.rowsScored ?? 0) >= 70, 30_000, 'the first rows scored');

    const good = await site.sign(modelBytes(2));
    const tamperedOnnx = Buffer.from(good);
    const at = tamperedOnnx.length - 20;
    tamperedOnnx.writeUInt8(tamperedOnnx.readUInt8(at) ^ 0xff, at);
    const tamperedManifest = Buffer.from(
      good.toString('latin1').replace('"pipeline": "cells"', '"pipeline": "cellz"'),
      'latin1',
    );
    const bad: [string, Buffer, string][] = [
      ['unsigned', rawBundle(modelBytes(2), { pipeline: 'cells', version: 2 }), 'BUNDLE_UNSIGNED'],
      ['wrong key', rawBundle(modelBytes(2), { pipeline: 'cells', version: 2 }, site.other), 'BUNDLE_UNTRUSTED'],
      ['tampered ONNX bytes', tamperedOnnx, 'BUNDLE_HASH'],
      ['tampered manifest', tamperedManifest, 'BUNDLE_SIGNATURE'],
      ['truncated', good.subarray(0, good.length - 100), 'BUNDLE_SIZE'],
      ['not a bundle', Buffer.from('{"model": "v2"}'), 'BUNDLE_FORMAT'],
      ['oversize', Buffer.concat([good, Buffer.alloc(600 * 1024)]), 'BUNDLE_SIZE'],
      [
        'wrong input width',
        await site.sign(modelBytes(2, { layout: { ...SMALL_LAYOUT, kpis: ['a', 'b'] } })),
        'MODEL_INPUT_WIDTH',
      ],
      [
        'IR version 12',
        rawBundle(modelBytes(2, { irVersion: 12 }), { pipeline: 'cells', version: 2 }, site.privateKey),
        'MODEL_IR_VERSION',
      ],
      [
        'a model that takes its loader down (1.2 GB at load)',
        rawBundle(modelBytes(2, { bombFloats: 300_000_000 }), { pipeline: 'cells', version: 2 }, site.privateKey),
        'MODEL_PROBE',
      ],
      [
        'a model that flags every recent row',
        await site.sign(modelBytes(2, { contract: { scoring: { ...SCORING, threshold: 1e-9 } } })),
        'BUNDLE_CALIBRATION',
      ],
      [
        'another pipeline',
        rawBundle(modelBytes(2), { pipeline: 'radio', version: 2 }, site.privateKey),
        'BUNDLE_PIPELINE',
      ],
    ];
    const scoredBefore = site.lastHealth()!.pipelines[0]!.rowsScored;
    for (const [what, bytes, code] of bad) {
      const result = await site.command('push', bytes);
      expect({ what, result: result.result, code: result.code }).toEqual({ what, result: 'rejected', code });
      await site.append(1);
    }
    // v1 scored the rows that came in meanwhile, and is still the model.
    await until(() => site.lastHealth()!.pipelines[0]!.rowsScored >= scoredBefore + 2 * bad.length, 20_000, 'rows');
    expect(site.lastHealth()!.pipelines[0]!.modelVersion).toBe(1);
    expect(site.lastHealth()!.errors).toMatchObject({ BUNDLE_UNSIGNED: 1, BUNDLE_SIZE: 2, MODEL_PROBE: 1 });
    const calibration = site.results().find((r) => r.code === 'BUNDLE_CALIBRATION')!;
    expect(calibration.message).toMatch(/flags 100\.0 % of \d+ recent rows; its threshold promises 5\.0 %/);

    if (hasMosquitto()) {
      // Past four times maxBundleMb the broker keeps the push from the agent (MQTT 5 maximum packet size):
      // no result, no memory taken; the next push is answered as usual.
      await site.operatorPublish(Buffer.alloc(3 * 2 ** 20));
    }
    const accepted = await site.command('push', good);
    expect(accepted).toMatchObject({ action: 'push', result: 'accepted', version: 2, modelId: 'cells-ae' });
    await until(() => site.states().at(-1)!.pipelines[0]!.active?.version === 2, 10_000, 'state v2');
    expect(site.states().at(-1)!.pipelines[0]).toMatchObject({ active: { origin: 'push' }, previous: [1] });
    await site.append(2);
    await until(() => site.lastHealth()!.pipelines[0]!.modelVersion === 2, 20_000, 'v2 scoring');

    // A restart keeps the pushed model.
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    const statesBefore = site.states().length;
    daemon = cleanups.daemon(site.configPath);
    await until(() => site.states().length > statesBefore, 30_000, 'model/state after restart');
    expect(site.states().at(-1)!.pipelines[0]!.active).toMatchObject({ version: 2, origin: 'push' });

    const rolledBack = await site.command('rollback', JSON.stringify({ pipeline: 'cells' }));
    expect(rolledBack).toMatchObject({ action: 'rollback', result: 'rolled_back', version: 1, code: 'MODEL_ROLLBACK' });
    // model/state follows the result: wait for it rather than assume the order of arrival.
    await until(() => site.states().at(-1)!.pipelines[0]!.active?.version === 1, 10_000, 'state v1');
    expect(site.states().at(-1)!.pipelines[0]!.active).toMatchObject({ version: 1, origin: 'config' });
    expect((await site.command('push', good)).code).toBe('BUNDLE_REPLAY');

    // v3 is accepted on normal rows, then flags every one of its first rows: it is rolled back by itself.
    expect((await site.command('push', await site.sign(modelBytes(3)))).result).toBe('accepted');
    const before = site.results().length;
    await site.append(10, true);
    await until(() => site.results().length > before, 30_000, 'the automatic rollback');
    expect(site.results()[before]).toMatchObject({ action: 'auto_rollback', result: 'rolled_back', version: 1 });
    expect(site.results()[before]!.message).toMatch(
      /flagged \d+ of its first \d+ rows: version 3 replaced by version 1/,
    );
    await until(() => site.states().at(-1)!.pipelines[0]!.active?.version === 1, 10_000, 'state v1');

    // model/state is retained: a central tool that connects now gets it at once.
    const late = await subscriber(site.url, 'cw/S1/model/state', `late-${Date.now()}`);
    cleanups.add(() => late.client.endAsync(true));
    await until(() => late.received.length > 0, 10_000, 'the retained state');
    expect(late.received[0]!.retain).toBe(true);
    for (const m of site.central.received) validateMessage(m.topic, m.body);
    // Through the refusals, three swaps, a restart and two rollbacks, every row was scored: only the first row
    // of each sector is not (the model's window needs the row before it).
    const db = new Database(join(site.dir, 'state', 'cellwatch.db'), { readonly: true });
    cleanups.add(() => Promise.resolve(db.close()));
    const counts = () => db.prepare('SELECT count(*) AS rows, count(score) AS scored FROM samples').get() as Counts;
    await until(() => counts().rows === 2 * site.hours(), 20_000, 'every row appended buffered');
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(counts().scored).toBe(2 * site.hours() - 2);
  }, 240_000);

  it('answers a push it was checking when it was killed, after the restart', async () => {
    const site = await setUp();
    const first = cleanups.daemon(site.configPath);
    await until(() => site.states().length > 0, 30_000, 'the first model/state');
    const inbox = join(site.dir, 'state', 'models', '.inbox');
    // The memory bomb keeps the probe busy for about a second: long enough to kill the agent meanwhile.
    const slow = rawBundle(
      modelBytes(2, { bombFloats: 300_000_000 }),
      { pipeline: 'cells', version: 2 },
      site.privateKey,
    );
    await site.operatorPublish(slow);
    await until(() => existsSync(inbox) && readdirSync(inbox).some((n) => n.endsWith('.cwb')), 10_000, 'the inbox');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(site.results()).toEqual([]);

    const second = cleanups.daemon(site.configPath);
    await until(() => site.results().length > 0, 30_000, 'the result after the restart');
    expect(site.results()[0]).toMatchObject({ action: 'push', result: 'rejected', code: 'MODEL_PROBE', version: 2 });
    await until(() => readdirSync(inbox).length === 0, 10_000, 'the inbox emptied');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('a site without a model learns its own from a replayed baseline, reports it and starts reporting', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const data = join(dir, 'cells.csv');
    await writeFile(data, siteCsv({ startMs: START_MS, hours: BASELINE_HOURS + 12 }));
    const base = siteConfig(dir, 'auto', data, broker.url, { mode: 'follow', pollMs: 100 });
    const config = {
      ...base,
      pipelines: [{ ...base.pipelines[0], features: ['a', 'b', 'c'], training: { baselineHours: BASELINE_HOURS } }],
      models: { minCalibrationRows: 20, allowUnsigned: true },
    };
    const central = await subscriber(broker.url, 'cw/S1/#', `central-auto-${Date.now()}`);
    cleanups.add(() => central.client.endAsync(true));
    const daemon = cleanups.daemon(await writeConfig(dir, config));
    const on = (name: string) => central.received.filter((m) => m.topic === `cw/S1/${name}`).map((m) => m.body);

    await until(() => on('model/result').length > 0, 120_000, 'the on-device training');
    const result = on('model/result')[0] as Result;
    expect(result).toMatchObject({
      action: 'local_training',
      result: 'accepted',
      version: 1,
      modelId: 'S1-cells-local',
    });
    const details = result.details as { rows: number; entities: number; epochs: number; trainingS: number };
    // The rows of the baseline when training started: at least its hours of both sectors, at most the file.
    expect(details.rows).toBeGreaterThanOrEqual(2 * (BASELINE_HOURS + 1));
    expect(details.rows).toBeLessThanOrEqual(2 * (BASELINE_HOURS + 12));
    expect(details.entities).toBe(2);
    expect(details.epochs).toBeGreaterThan(0);
    await until(() => (on('model/state').at(-1) as State | undefined)?.pipelines[0]?.active !== null, 10_000, 'state');
    const state = on('model/state').at(-1) as State & { pipelines: { training: { state: string } }[] };
    expect(state.pipelines[0]).toMatchObject({ active: { version: 1, origin: 'local' }, training: { state: 'idle' } });

    // Rows after the training are scored by the new model: a run of readings of 10 opens an incident.
    const rows = siteCsv({
      startMs: START_MS + (BASELINE_HOURS + 12) * HOUR_MS,
      hours: 12,
      anomalies: { '2': [4, 9] },
    });
    await appendFile(data, rows.split('\n').slice(1).join('\n'));
    await until(() => on('anomaly').some((b) => b.event === 'open'), 30_000, 'an incident');
    const incident = on('anomaly').find((b) => b.event === 'open')!.incident as {
      entity: string;
      modelVersion: number;
    };
    expect(incident.entity).toBe('S1/2');
    expect(on('anomaly').filter((b) => b.event === 'open').length).toBe(1);

    // A pushed model takes precedence over the local one: an unsigned bundle (allowed on this site), sent to
    // the whole fleet, replaces it.
    const operator = await mqtt.connectAsync(broker.url, { clientId: `operator-auto-${Date.now()}` });
    cleanups.add(() => operator.endAsync(true));
    const { bytes } = await makeBundle(modelBytes(5), { pipeline: 'cells', goldenRows: 4 });
    await operator.publishAsync('cw/all/command/model/push', bytes, { qos: 1 });
    await until(() => on('model/result').length > 1, 30_000, 'the push result');
    expect(on('model/result')[1]).toMatchObject({ action: 'push', result: 'accepted', version: 5 });
    const pushed = () => (on('model/state').at(-1) as State).pipelines[0]?.active;
    await until(() => pushed()?.origin === 'push', 10_000, 'the pushed model in model/state');
    expect(pushed()).toMatchObject({ version: 5, modelId: 'cells-ae' });

    for (const m of central.received) validateMessage(m.topic, m.body);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
  }, 240_000);
});
