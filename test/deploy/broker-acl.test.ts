import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOPIC_SCHEMAS, type TopicName } from '../../src/report/payloads.js';
import { FLEET, Topics } from '../../src/report/topics.js';
import { hasMosquitto } from '../agent/broker.js';
import { until } from '../agent/daemon.js';
import { scratchDir } from '../helpers.js';
import {
  certificates,
  directives,
  readShipped,
  startShippedBroker,
  type Certificates,
  type Identity,
  type Peer,
  type ShippedBroker,
} from './shipped-broker.js';

const PREFIX = 'cellwatch';
const S1 = new Topics(PREFIX, 'S1');
const S2 = new Topics(PREFIX, 'S2');
const FLEET_PUSH = `${PREFIX}/${FLEET}/command/model/push`;
/** MQTT 5 reason code of a PUBACK for a publish the ACL refuses. */
const NOT_AUTHORIZED = 0x87;
/** Past mosquitto's default max_queued_messages (1,000): the default would keep a third of these. */
const BACKLOG = 3_000;
/** How the central subscriber connects (docs/broker.md): a persistent session under its own certificate. */
const CENTRAL: IClientOptions = { protocolVersion: 4, clean: false, clientId: 'central' };

describe.skipIf(!hasMosquitto())('deploy/mosquitto: the shipped broker config and ACL (mosquitto)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let tls: Certificates;
  let broker: ShippedBroker;
  const peers: Peer[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    tls = await certificates(dir);
    broker = await startShippedBroker(dir, tls);
  });
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.client.endAsync(true)));
  });
  afterAll(async () => {
    await broker?.stop();
    await cleanup?.();
  });

  async function connect(who: Identity, options?: IClientOptions, on = broker): Promise<Peer> {
    const peer = await on.connect(who, options);
    peers.push(peer);
    return peer;
  }

  /** Central's persistent session subscribed to the whole tree, emptied of what an earlier test left in it. */
  async function central(): Promise<Peer> {
    await (await broker.connect('central', { ...CENTRAL, clean: true })).end();
    const peer = await connect('central', CENTRAL);
    await peer.client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
    return peer;
  }

  it('is a Debian drop-in with one client-certificate listener and the limits the agent needs', async () => {
    const found = directives((await readShipped()).conf);
    const value = (name: string) => {
      const lines = found.filter((d) => d.name === name);
      expect(lines, name).toHaveLength(1);
      return lines[0]?.value;
    };
    expect(found.filter((d) => d.name === 'listener').map((d) => d.value)).toEqual(['8883']);
    expect(value('require_certificate')).toBe('true');
    expect(value('use_identity_as_username')).toBe('true');
    expect(value('use_username_as_clientid')).toBe('true');
    expect(value('allow_anonymous')).toBe('false');
    expect(value('persistence')).toBe('true');
    // Debian's mosquitto.conf sets these; a second persistence_location is a fatal "Duplicate" error.
    for (const name of ['persistence_location', 'pid_file', 'include_dir', 'log_dest']) {
      expect(
        found.some((d) => d.name === name),
        name,
      ).toBe(false);
    }
    expect(Number(value('max_queued_messages'))).toBeGreaterThanOrEqual(BACKLOG);
    // The agent's maximum packet size with the default models.maxBundleMb of 16 (src/agent/link-options.ts).
    expect(Number(value('max_packet_size'))).toBe(4 * 16 * 2 ** 20 + 64 * 1024);
  });

  it('lets a site publish each topic the agent has, and its will, and central receive them', async () => {
    const tag = 'own';
    const c = await central();
    const will = { topic: S1.of('status'), payload: Buffer.from(`${tag}:will`), qos: 1 as const, retain: false };
    const s1 = await connect('S1', { clientId: 'cellwatch-S1-0badc0de', will });
    const names = Object.keys(TOPIC_SCHEMAS) as TopicName[];
    for (const name of names) expect(await s1.publish(S1.of(name), `${tag}:${name}`), name).toBe(0);
    // The box dies without a DISCONNECT: the broker publishes the will for it.
    s1.client.stream.destroy();
    await c.waitFor(S1.of('status'), `${tag}:will`);
    expect(c.tagged(tag)).toEqual([...names.map((n) => `${S1.of(n)} ${tag}:${n}`), `${S1.of('status')} ${tag}:will`]);
  });

  it("refuses a site's publish for another site, into any command topic, or outside its topics", async () => {
    const tag = 'refused';
    const c = await central();
    const s1 = await connect('S1');
    await s1.client.subscribeAsync(S1.commandFilter, { qos: 1 });
    const refused = [
      S2.of('anomaly'),
      FLEET_PUSH,
      `${PREFIX}/S1/command/maintenance`,
      `${PREFIX}/S2/command/maintenance`,
      `${PREFIX}/S1/debug`,
      `${PREFIX}/S1`,
    ];
    for (const topic of refused) expect(await s1.publish(topic, `${tag}:${topic}`), topic).toBe(NOT_AUTHORIZED);
    // The connection survives the refusals. Central gets S1's messages in order, so once this one is in, any
    // refused one that had slipped through would be in too.
    expect(await s1.publish(S1.of('anomaly'), `${tag}:marker`)).toBe(0);
    await c.waitFor(S1.of('anomaly'), `${tag}:marker`);
    expect(c.tagged(tag)).toEqual([`${S1.of('anomaly')} ${tag}:marker`]);
    await s1.barrier();
    expect(s1.tagged(tag)).toEqual([]);
  });

  it('keeps central identities from forging site data, and gives the fleet pseudo-site nothing', async () => {
    const tag = 'central-side';
    const c = await central();
    const ops = await connect('ops');
    expect(await ops.publish(S1.of('anomaly'), `${tag}:forged`)).toBe(NOT_AUTHORIZED);
    const all = await connect('all');
    const granted = await all.client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    expect(await all.publish(`${PREFIX}/${FLEET}/status`, `${tag}:as-all`)).toBe(NOT_AUTHORIZED);
    expect(await all.publish(FLEET_PUSH, `${tag}:as-all`)).toBe(NOT_AUTHORIZED);
    expect(await ops.publish(FLEET_PUSH, `${tag}:push`)).toBe(0);
    await c.waitFor(FLEET_PUSH, `${tag}:push`);
    expect(c.tagged(tag)).toEqual([`${FLEET_PUSH} ${tag}:push`]);
    await all.barrier();
    expect(all.received).toEqual([]);
  });

  it("delivers a site its own and fleet-wide commands and nothing of another site's", async () => {
    const tag = 'read';
    const s1 = await connect('S1');
    // mosquitto 2.0 grants every filter and checks read access per message instead.
    const filters = [S1.commandFilter, S1.fleetModelFilter, `${PREFIX}/S2/#`, `${PREFIX}/+/anomaly`];
    const granted = await s1.client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])));
    expect(granted.map((g) => [g.topic, g.qos])).toEqual(filters.map((f) => [f, 1]));
    const s2 = await connect('S2');
    await s2.client.subscribeAsync([S2.commandFilter, S2.fleetModelFilter], { qos: 1 });
    const ops = await connect('ops');

    expect(await ops.publish(`${PREFIX}/S2/command/maintenance`, `${tag}:for-S2`)).toBe(0);
    expect(await s2.publish(S2.of('anomaly'), `${tag}:S2-data`)).toBe(0);
    expect(await ops.publish(`${PREFIX}/S1/command/maintenance`, `${tag}:for-S1`)).toBe(0);
    expect(await ops.publish(FLEET_PUSH, `${tag}:fleet`)).toBe(0);
    await s2.waitFor(FLEET_PUSH, `${tag}:fleet`);
    await s1.waitFor(FLEET_PUSH, `${tag}:fleet`);
    expect(s2.tagged(tag)).toEqual([`${PREFIX}/S2/command/maintenance ${tag}:for-S2`, `${FLEET_PUSH} ${tag}:fleet`]);
    expect(s1.tagged(tag)).toEqual([`${PREFIX}/S1/command/maintenance ${tag}:for-S1`, `${FLEET_PUSH} ${tag}:fleet`]);
  });

  it(`keeps ${BACKLOG} messages for central while it is away, and across a broker restart`, async () => {
    for (const restart of [false, true]) {
      const tag = restart ? 'restart' : 'backlog';
      await (await central()).end();
      const s1 = await connect('S1');
      const sent = Array.from({ length: BACKLOG }, (_, i) => `${tag}:${i}`);
      const codes = await Promise.all(sent.map((text) => s1.publish(S1.of('health'), text)));
      expect(codes.filter((code) => code !== 0)).toEqual([]);
      await s1.end();
      if (restart) {
        // SIGTERM, as systemctl restart sends: mosquitto writes its database on the way out.
        await broker.stop();
        await broker.start();
      }
      const c = await connect('central', CENTRAL);
      expect(c.sessionPresent).toBe(true);
      // On a timeout the comparison below says how many arrived.
      await until(() => c.tagged(tag).length >= BACKLOG, 20_000).catch(() => undefined);
      await c.barrier();
      expect(c.tagged(tag)).toEqual(sent.map((text) => `${S1.of('health')} ${text}`));
      await c.end();
    }
  });

  it("does not let a site take central's session by asking for its client id", async () => {
    const tag = 'takeover';
    await (await central()).end();
    const s2 = await connect('S2');
    expect(await s2.publish(S2.of('anomaly'), `${tag}:queued`)).toBe(0);
    // A clean session under central's id would end central's session and its queue; the broker names it S1.
    const thief = await connect('S1', { ...CENTRAL, clean: true });
    await thief.client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
    const c = await connect('central', CENTRAL);
    expect(c.sessionPresent).toBe(true);
    await c.waitFor(S2.of('anomaly'), `${tag}:queued`);
    await thief.barrier();
    expect(thief.tagged(tag)).toEqual([]);
  });

  it('carries a model push past the default maxBundleMb to the site: its size is for the agent to judge', async () => {
    const s1 = await connect('S1', { properties: { maximumPacketSize: 4 * 16 * 2 ** 20 + 64 * 1024 } });
    await s1.client.subscribeAsync(S1.commandFilter, { qos: 1 });
    const ops = await connect('ops');
    const bundle = 'b'.repeat(16 * 2 ** 20 + 1);
    expect(await ops.publish(`${PREFIX}/S1/command/model/push`, bundle)).toBe(0);
    await until(() => s1.received.length > 0, 20_000, 'the pushed bundle');
    expect(s1.received.map((m) => [m.topic, m.text.length])).toEqual([
      [`${PREFIX}/S1/command/model/push`, bundle.length],
    ]);
  });

  it("shows why the ACL lists a site's topics: a deny on its command topics also stops its commands", async () => {
    const tag = 'deny';
    const variant = await startShippedBroker(join(dir, 'deny-variant'), tls, [`pattern deny ${PREFIX}/%u/command/#`]);
    try {
      const s1 = await connect('S1', {}, variant);
      await s1.client.subscribeAsync([S1.commandFilter, S1.fleetModelFilter], { qos: 1 });
      expect(await s1.publish(`${PREFIX}/S1/command/maintenance`, `${tag}:self`)).toBe(NOT_AUTHORIZED);
      const ops = await connect('ops', {}, variant);
      expect(await ops.publish(`${PREFIX}/S1/command/maintenance`, `${tag}:for-S1`)).toBe(0);
      expect(await ops.publish(FLEET_PUSH, `${tag}:fleet`)).toBe(0);
      await s1.waitFor(FLEET_PUSH, `${tag}:fleet`);
      expect(s1.tagged(tag)).toEqual([`${FLEET_PUSH} ${tag}:fleet`]);
    } finally {
      await Promise.all(peers.splice(0).map((p) => p.client.endAsync(true)));
      await variant.stop();
    }
  });
});
