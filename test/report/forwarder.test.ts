import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/buffer/outbox.js';
import { Forwarder } from '../../src/report/forwarder.js';
import { MqttLink, type OutgoingMessage } from '../../src/report/mqtt-link.js';
import { startTestBroker, subscriber } from '../agent/broker.js';
import { Cleanups, until } from '../agent/daemon.js';
import { useTempDatabase } from '../buffer/temp-database.js';

/**
 * The link and the forwarder against a real broker, with a fault put into the live mqtt.js client: the
 * socket error that once froze the agent for good (no scoring, no log line) when a broker went away.
 */

const temp = useTempDatabase();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const MESSAGES = 60;
const log = pino({ level: 'silent' });

/** The mqtt.js client behind the link: the place a real socket fault shows up. */
type ClientInside = { client?: { emit(event: 'error', err: Error): boolean; end(force: boolean): unknown } };

async function setUp() {
  const broker = await startTestBroker(temp.dir);
  cleanups.add(() => broker.stop());
  const central = await subscriber(broker.url, 'site/#');
  cleanups.add(() => central.client.endAsync(true));

  const outbox = new Outbox(temp.db, { maxMessages: 10_000, maxBytes: 10_000_000 });
  let made = 0;
  const enqueue = (n: number) => {
    for (let i = 0; i < n; i++) {
      const payload = JSON.stringify({ n: made++ });
      outbox.enqueue({ kind: 'anomaly', topic: 'site/anomaly', payload, qos: 1, retain: false, createdMs: Date.now() });
    }
  };
  let connections = 0;
  const link = new MqttLink(
    {
      url: broker.url,
      clientId: `forwarder-test-${process.pid}`,
      protocolVersion: 5,
      keepaliveS: 30,
      sessionExpiryS: 3600,
      connectTimeoutMs: 2_000,
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      subscriptions: [],
      will: (): OutgoingMessage => ({ topic: 'site/status', payload: '{}', qos: 1, retain: true }),
    },
    {
      connected: () => (connections++, forwarder.connected()),
      disconnected: () => forwarder.disconnected(),
      message: () => undefined,
      error: () => undefined,
    },
    log,
  );
  const forwarder = new Forwarder(outbox, link, 10, log);
  cleanups.add(() => link.stop());
  let publishes = 0;
  const publish = link.publish.bind(link);
  // Counts attempts; past a bound that only a resend loop reaches, it hangs the send so the loop ends and
  // the test can fail on the count instead of freezing the worker.
  link.publish = (message) => (++publishes > 10_000 ? new Promise<void>(() => undefined) : publish(message));

  return {
    outbox,
    forwarder,
    link,
    central,
    enqueue,
    inside: link as unknown as ClientInside,
    connections: () => connections,
    publishes: () => publishes,
  };
}

describe('Forwarder over MqttLink, with faults in the live connection', () => {
  it('takes the link down on a socket error at once, reconnects, and delivers every message', async () => {
    const { outbox, forwarder, link, central, enqueue, inside, connections } = await setUp();
    enqueue(MESSAGES);
    link.start();
    await until(() => link.connected, 10_000, 'first connection');

    // Messages are in flight; the agent then publishes an incident, as it did when the agent froze.
    inside.client?.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    expect(link.connected).toBe(false);
    enqueue(1);
    forwarder.kick();

    await until(() => outbox.depth().messages === 0, 20_000, 'outbox to drain');
    expect(connections()).toBe(2);
    const delivered = () => new Set(central.received.filter((m) => m.topic === 'site/anomaly').map((m) => m.body.n));
    await until(() => delivered().size === MESSAGES + 1, 10_000, 'delivery');
  });

  it('does not resend at once a message the client refuses on the spot; the next connection sends it', async () => {
    const { outbox, forwarder, link, enqueue, inside, connections, publishes } = await setUp();
    link.start();
    await until(() => link.connected, 10_000, 'first connection');

    // Ended but not yet closed: mqtt.js now refuses every publish in the same tick, while the link has not
    // yet heard of the close.
    inside.client?.end(true);
    expect(link.connected).toBe(true);
    enqueue(MESSAGES);
    forwarder.kick();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(publishes()).toBe(10);

    await until(() => outbox.depth().messages === 0, 20_000, 'outbox to drain');
    expect(connections()).toBe(2);
    expect(publishes()).toBeLessThan(10 + MESSAGES + 10);
  });
});
