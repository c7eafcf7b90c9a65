import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBundle } from '../../src/lifecycle/make-bundle.js';
import type { Manifest } from '../../src/lifecycle/manifest.js';
import type { ModelResultPayload, ModelStatePayload } from '../../src/report/payloads.js';
import { freePort, startTestBroker, subscriber, type TestBroker } from '../agent/broker.js';
import { writeModel } from '../agent/fixture.js';
import { scratchDir } from '../helpers.js';
import { runCli } from './run-cli.js';

let dir: string;
let cleanup: () => Promise<void>;
let broker: TestBroker;
let bundlePath: string;
let bundle: Buffer;
let manifest: Manifest;
const clients = new Set<MqttClient>();

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir());
  broker = await startTestBroker(dir);
  const onnx = await readFile(await writeModel(dir));
  ({ bytes: bundle, manifest } = await makeBundle(onnx, { pipeline: 'cells', goldenRows: 2 }));
  bundlePath = join(dir, 'cells.cwb');
  await writeFile(bundlePath, bundle);
});
afterEach(async () => {
  await Promise.all([...clients].map((c) => c.endAsync()));
  clients.clear();
});
afterAll(async () => {
  await broker.stop();
  await cleanup();
});

type Reply = Omit<ModelResultPayload, 'messageId' | 'site' | 'createdAt'>;
interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
}

/** Site S1 as the agent looks from the broker: it takes model commands and answers with what `answer` says. */
async function fakeSite(prefix: string, answer: (topic: string, payload: Buffer) => Reply[] = () => []) {
  const received: Received[] = [];
  const client = await mqtt.connectAsync(broker.url, { clientId: `site-${randomUUID()}`, clean: true });
  clients.add(client);
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, payload, qos: packet.qos });
    for (const reply of answer(topic, payload)) {
      const body = { messageId: randomUUID(), site: 'S1', createdAt: new Date().toISOString(), ...reply };
      client.publish(`${prefix}/S1/model/result`, JSON.stringify(body), { qos: 1 });
    }
  });
  await client.subscribeAsync(`${prefix}/+/command/model/#`, { qos: 1 });
  return { client, received };
}

function pushResult(result: 'accepted' | 'rejected', extra: Partial<Reply> = {}): Reply {
  return {
    action: 'push',
    result,
    pipeline: manifest.pipeline,
    modelId: manifest.modelId,
    version: manifest.version,
    message: result === 'accepted' ? 'activated' : 'not newer than the active version',
    details: {},
    ...extra,
  };
}

const link = (prefix: string) => ['--url', broker.url, '--prefix', prefix];

describe('cellwatch model push', () => {
  it('sends the exact bundle bytes to the site, waits for its result and exits 0 when accepted', async () => {
    const site = await fakeSite('p1', () => [
      // Noise the CLI must pass over: another action, a result for another model, and a malformed message.
      { ...pushResult('accepted'), action: 'local_training' },
      pushResult('rejected', { modelId: 'other-model', code: 'BUNDLE_REPLAY' }),
      { action: 'push' } as Reply,
      pushResult('accepted', { details: { calibration: 0.01 } }),
    ]);
    const r = await runCli(['model', 'push', bundlePath, '--site', 'S1', ...link('p1')]);
    expect(r.code, r.stderr).toBe(0);
    expect(site.received).toHaveLength(1);
    expect(site.received[0]!.topic).toBe('p1/S1/command/model/push');
    expect(site.received[0]!.qos).toBe(1);
    expect(site.received[0]!.payload.equals(bundle)).toBe(true);
    expect(r.stdout).toContain(`pushed ${bundlePath} (${manifest.modelId} v${manifest.version} for pipeline cells`);
    expect(r.stdout).toContain(`site S1: push ${manifest.modelId} v${manifest.version} for pipeline cells: accepted`);
    expect(r.stdout).toMatch(/details\s+\{"calibration":0.01\}/);
    expect(r.stderr).toContain('ignored 1 model/result message(s)');
  });

  it('exits 4 and shows the code when the site rejects the bundle', async () => {
    await fakeSite('p2', () => [pushResult('rejected', { code: 'BUNDLE_REPLAY' })]);
    const r = await runCli(['model', 'push', bundlePath, '--site', 'S1', ...link('p2')]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toContain(': rejected');
    expect(r.stdout).toMatch(/code\s+BUNDLE_REPLAY/);

    const json = await runCli(['model', 'push', bundlePath, '--site', 'S1', ...link('p2'), '--json']);
    expect(json.code).toBe(4);
    const out = JSON.parse(json.stdout) as { topic: string; bytes: number; result: ModelResultPayload };
    expect(out).toMatchObject({ topic: 'p2/S1/command/model/push', bytes: bundle.length });
    expect(out.result).toMatchObject({ action: 'push', result: 'rejected', code: 'BUNDLE_REPLAY', site: 'S1' });
  });

  it('sends to the fleet topic with --all, not retained, and does not wait with --wait-s 0', async () => {
    const site = await fakeSite('p3');
    const r = await runCli(['model', 'push', bundlePath, '--all', ...link('p3'), '--wait-s', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('results arrive per site on p3/+/model/result');
    await expect.poll(() => site.received.length).toBe(1);
    expect(site.received[0]!.topic).toBe('p3/all/command/model/push');
    expect(site.received[0]!.payload.equals(bundle)).toBe(true);
    // A retained bundle would reach every site that ever subscribes later, long after the operator meant it.
    const late = await fakeSite('p3');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(late.received).toHaveLength(0);
  });

  it('with --all lists the answers the sites give within --wait-s, and exits 4 if one refused', async () => {
    await fakeSite('p6', () => [pushResult('rejected', { code: 'BUNDLE_PIPELINE', pipeline: null })]);
    const r = await runCli(['model', 'push', bundlePath, '--all', ...link('p6'), '--wait-s', '2']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toContain('1 site(s) answered within 2 s');
    expect(r.stdout).toMatch(/^S1\s+rejected\s+BUNDLE_PIPELINE\s+not newer/m);
  });

  it('fails with FLEET_TIMEOUT when no result comes in time, saying the push stays queued', async () => {
    const site = await fakeSite('p4');
    const r = await runCli(['model', 'push', bundlePath, '--site', 'S1', ...link('p4'), '--wait-s', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error FLEET_TIMEOUT: no push result from site S1 within 1 s/);
    expect(r.stderr).toContain('persistent session');
    expect(r.stderr).toContain('p4/S1/model/result');
    expect(site.received).toHaveLength(1);
  });

  it('refuses an oversize bundle before it connects, and says when the broker cannot be reached', async () => {
    const big = join(dir, 'big.cwb');
    await writeFile(big, Buffer.alloc(2 * 1024 * 1024 + 1));
    const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
    const r = await runCli(['model', 'push', big, '--site', 'S1', '--url', nowhere, '--max-mb', '2']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error BUNDLE_SIZE: .*big\.cwb has 2097153 bytes, over --max-mb 2/);

    const down = await runCli(['model', 'push', bundlePath, '--site', 'S1', '--url', nowhere]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error MQTT_CONNECT: cannot connect to the MQTT broker at mqtt:\/\/127\.0\.0\.1/);
  });

  it('takes exactly one of --site and --all', async () => {
    const both = await runCli(['model', 'push', bundlePath, '--site', 'S1', '--all', ...link('p5')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('error USAGE: give exactly one of --site <site> or --all');
    const none = await runCli(['model', 'push', bundlePath, ...link('p5')]);
    expect(none.code).toBe(2);
  });
});

describe('cellwatch model rollback', () => {
  it('sends {"pipeline"} to the site and reports rolled_back (0) or rejected (4)', async () => {
    let verdict: Reply = { ...pushResult('accepted'), action: 'rollback', result: 'rolled_back', version: 1 };
    const site = await fakeSite('r1', () => [verdict]);
    const r = await runCli(['model', 'rollback', '--site', 'S1', '--pipeline', 'cells', ...link('r1')]);
    expect(r.code, r.stderr).toBe(0);
    expect(site.received[0]!.topic).toBe('r1/S1/command/model/rollback');
    expect(JSON.parse(site.received[0]!.payload.toString())).toEqual({ pipeline: 'cells' });
    expect(r.stdout).toContain('site S1: rollback');
    expect(r.stdout).toContain(': rolled_back');

    verdict = { ...verdict, result: 'rejected', code: 'MODEL_STORE', message: 'nothing to roll back to' };
    const rejected = await runCli(['model', 'rollback', '--site', 'S1', '--pipeline', 'cells', ...link('r1')]);
    expect(rejected.code).toBe(4);
    expect(rejected.stdout).toMatch(/code\s+MODEL_STORE/);
  });
});

describe('cellwatch model status', () => {
  it('collects the retained model state of every site and prints each pipeline', async () => {
    const state = (site: string, version: number): ModelStatePayload => ({
      messageId: randomUUID(),
      site,
      createdAt: new Date().toISOString(),
      pipelines: [
        {
          pipeline: 'cells',
          active: {
            modelId: 'cells-ctx',
            version,
            origin: 'push',
            keyId: '0123456789abcdef',
            sha256: 'ab'.repeat(32),
            activatedAt: '2026-01-02T03:04:05.000Z',
          },
          previous: [version - 1],
          training: null,
        },
        {
          pipeline: 'host',
          active: null,
          previous: [],
          training: { state: 'collecting', baselineHours: 5, neededHours: 24, lastTrainedAt: null },
        },
      ],
    });
    const [s1, s2] = [state('S1', 3), state('S2', 7)];
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `central-${randomUUID()}` });
    clients.add(publisher);
    await publisher.publishAsync('s1/S1/model/state', JSON.stringify(s1), { qos: 1, retain: true });
    await publisher.publishAsync('s1/S2/model/state', JSON.stringify(s2), { qos: 1, retain: true });
    await publisher.publishAsync('s1/S3/model/state', '{"not":"a state"}', { qos: 1, retain: true });

    const r = await runCli(['model', 'status', ...link('s1'), '--wait-ms', '1000']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^site\s+pipeline\s+model\s+version\s+origin\s+key\s+activated\s+previous\s+training$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['S1', 'cells', 'cells-ctx', '3'],
      ['S1', 'host', '(none)', '-'],
      ['S2', 'cells', 'cells-ctx', '7'],
      ['S2', 'host', '(none)', '-'],
    ]);
    expect(lines[1]).toMatch(/\spush\s+0123456789abcdef\s+2026-01-02T03:04:05\.000Z\s+2\s+-$/);
    expect(lines[2]).toContain('collecting, baseline 5.0/24 h');
    expect(r.stderr).toContain('ignored 1 model/state message(s)');

    const json = await runCli(['model', 'status', ...link('s1'), '--site', 'S2', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([s2]);

    // The helper subscriber is the central consumer's view: the states stay retained after status read them.
    const central = await subscriber(broker.url, 's1/+/model/state', `c-${randomUUID()}`);
    clients.add(central.client);
    await expect.poll(() => central.received.filter((m) => m.retain).length).toBe(3);
  });
});
