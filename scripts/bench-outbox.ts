/**
 * Store-and-forward throughput: queue N messages in the SQLite outbox while the broker is unreachable,
 * then connect and measure how fast the forwarder empties it (QoS 1, acknowledged, deleted one by one),
 * and check that every message arrived. N defaults to 70,000: past the 65,535 packet ids of MQTT, which
 * hangs clients whose id allocator wraps into ids still in use.
 *
 *   npx tsx scripts/bench-outbox.ts [messages=70000] [maxInFlight=32]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openDatabase } from '../src/buffer/database.js';
import { Outbox } from '../src/buffer/outbox.js';
import { Forwarder } from '../src/report/forwarder.js';
import { MqttLink } from '../src/report/mqtt-link.js';
import { startTestBroker, subscriber } from '../test/agent/broker.js';

const total = Number(process.argv[2] ?? 70_000);
const maxInFlight = Number(process.argv[3] ?? 32);
const dir = await mkdtemp(join(tmpdir(), 'cellwatch-bench-'));
const { db } = openDatabase(join(dir, 'bench.db'));
const outbox = new Outbox(db, { maxMessages: total + 10, maxBytes: 1e9 });

let started = performance.now();
for (let i = 0; i < total; i++) {
  const payload = JSON.stringify({ messageId: `m-${i}`, site: 'bench', createdAt: new Date().toISOString(), i });
  outbox.enqueue({
    kind: 'anomaly',
    topic: 'bench/site/anomaly',
    payload,
    qos: 1,
    retain: false,
    createdMs: Date.now(),
  });
}
const enqueueS = (performance.now() - started) / 1000;

const broker = await startTestBroker(dir);
const central = await subscriber(broker.url, 'bench/#');
const log = pino({ level: 'warn' });
const link = new MqttLink(
  {
    url: broker.url,
    clientId: 'bench-agent',
    protocolVersion: 5,
    keepaliveS: 30,
    sessionExpiryS: 0,
    connectTimeoutMs: 5_000,
    reconnectMinMs: 100,
    reconnectMaxMs: 1_000,
    subscriptions: [],
    will: () => ({ topic: 'bench/site/status', payload: '{}', qos: 1, retain: true }),
  },
  {
    connected: () => forwarder.kick(),
    disconnected: () => forwarder.disconnected(),
    message: () => undefined,
    error: () => undefined,
  },
  log,
);
const forwarder = new Forwarder(outbox, link, maxInFlight, log);
started = performance.now();
link.start();
const drained = await forwarder.drain(600_000);
const forwardS = (performance.now() - started) / 1000;
while (central.received.length < total && performance.now() - started < 600_000) {
  await new Promise((r) => setTimeout(r, 50));
}
const unique = new Set(central.received.map((m) => m.body.messageId)).size;

console.log(`broker: ${broker.kind}; messages: ${total}; max in flight: ${maxInFlight}`);
console.log(`enqueue: ${(total / enqueueS).toFixed(0)} msg/s (one transaction each)`);
console.log(`forward: ${(total / forwardS).toFixed(0)} msg/s acknowledged and deleted; drained ${drained}`);
console.log(`received: ${central.received.length} (${unique} unique); outbox left ${outbox.depth().messages}`);
await link.stop();
await central.client.endAsync();
await broker.stop();
db.close();
await rm(dir, { recursive: true, force: true });
