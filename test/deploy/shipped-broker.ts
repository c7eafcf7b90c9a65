import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  freePort,
  makeCertificates,
  mosquittoBinary,
  mosquittoProcess,
  type ClientCertificate,
} from '../agent/broker.js';
import { until } from '../agent/daemon.js';

const SHIPPED = fileURLToPath(new URL('../../deploy/mosquitto/', import.meta.url));

/** The identities the tests connect as: two sites, the two central ones, the fleet pseudo-site, the probe. */
export const IDENTITIES = ['probe', 'central', 'ops', 'S1', 'S2', 'all'] as const;
export type Identity = (typeof IDENTITIES)[number];

/** The directive lines of a mosquitto config (comments and blank lines left out), in file order. */
export function directives(text: string): { name: string; value: string }[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [name = '', ...rest] = line.split(/\s+/);
      return { name, value: rest.join(' ') };
    });
}

export async function readShipped(): Promise<{ conf: string; acl: string }> {
  const read = (file: string) => readFile(join(SHIPPED, file), 'utf8');
  return { conf: await read('cellwatch.conf'), acl: await read('cellwatch.acl') };
}

/**
 * The shipped drop-in with only what ties it to one machine replaced, line by line: the listener's port (bound to
 * loopback), the certificate paths, the ACL path and, if the file sets it, the user. Any other absolute path is
 * refused, so a new path directive in the shipped file fails here until this test learns about it.
 */
export function localise(
  conf: string,
  local: { port: number; caFile: string; certFile: string; keyFile: string; aclFile: string; user: string },
): string {
  const paths: Record<string, string> = {
    cafile: local.caFile,
    certfile: local.certFile,
    keyfile: local.keyFile,
    acl_file: local.aclFile,
  };
  return directives(conf)
    .map(({ name, value }) => {
      if (name === 'listener') return `listener ${local.port} 127.0.0.1`;
      if (name === 'user') return `user ${local.user}`;
      const path = paths[name];
      if (path !== undefined) return `${name} ${path}`;
      if (value.startsWith('/')) throw new Error(`shipped config: ${name} ${value} is a path this test does not map`);
      return `${name} ${value}`;
    })
    .join('\n');
}

export type Certificates = Awaited<ReturnType<typeof makeCertificates<Identity>>>;

/** A throw-away CA, a localhost server certificate and one client certificate per identity (CN = its name). */
export function certificates(dir: string): Promise<Certificates> {
  return makeCertificates(dir, IDENTITIES);
}

export interface ShippedBroker {
  url: string;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Connect as one identity (its certificate), with the message collector attached before the CONNACK. */
  connect(who: Identity, options?: IClientOptions): Promise<Peer>;
}

/**
 * mosquitto laid out as on Debian: a main file with what /etc/mosquitto/mosquitto.conf sets there (persistence
 * location, log, include_dir), and the shipped cellwatch.conf in conf.d beside it with the shipped ACL. extraAcl
 * lines are appended to the ACL, for tests of what the shipped file deliberately avoids.
 */
export async function startShippedBroker(
  dir: string,
  tls: Certificates,
  extraAcl: string[] = [],
): Promise<ShippedBroker> {
  const binary = mosquittoBinary();
  if (!binary) throw new Error('these tests need mosquitto');
  const { conf, acl } = await readShipped();
  const port = await freePort();
  const aclFile = join(dir, 'cellwatch.acl');
  await mkdir(join(dir, 'conf.d'), { recursive: true });
  await writeFile(aclFile, [acl, ...extraAcl, ''].join('\n'));
  // Started as root (CI), mosquitto switches to its own user, which cannot read or write our scratch folder.
  const user = process.getuid?.() === 0 ? 'root' : userInfo().username;
  await mkdir(join(dir, 'lib'));
  const dropIn = localise(conf, { port, ...tls, aclFile, user });
  await writeFile(join(dir, 'conf.d', 'cellwatch.conf'), `${dropIn}\n`);
  const main = join(dir, 'mosquitto.conf');
  await writeFile(
    main,
    [
      'persistence true',
      `persistence_location ${join(dir, 'lib')}/`,
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      `include_dir ${join(dir, 'conf.d')}`,
      ...(directives(conf).some((d) => d.name === 'user') ? [] : [`user ${user}`]),
      '',
    ].join('\n'),
  );
  const url = `mqtts://localhost:${port}`;
  // The probe has a certificate of its own: a probe as central would, with a clean session, end central's.
  const broker = mosquittoProcess(binary, main, url, tls.clients.probe);
  await broker.start();
  return { url, dir, ...broker, connect: (who, options) => Peer.connect(url, tls.clients[who], options) };
}

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
}

/** One MQTT client and everything it has been sent. */
export class Peer {
  readonly received: Received[] = [];
  sessionPresent = false;
  /** Rejects when the connection closes: a publish the broker answers by disconnecting fails instead of hanging. */
  private readonly closed: Promise<never>;

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.received.push({ topic, text: payload.toString(), retain: packet.retain });
    });
    this.closed = new Promise<never>((_, reject) => {
      client.once('close', () => reject(new Error('the broker closed the connection')));
    });
    this.closed.catch(() => undefined);
  }

  /**
   * The collector is attached before the connection is made: messages queued for a persistent session follow the
   * CONNACK at once, before an awaited connectAsync would hand the client back.
   */
  static async connect(url: string, identity: ClientCertificate, options: IClientOptions = {}): Promise<Peer> {
    const { cert, key, ca } = identity;
    const client = mqtt.connect(url, { cert, key, ca, protocolVersion: 5, reconnectPeriod: 0, ...options });
    const peer = new Peer(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', (connack) => {
        peer.sessionPresent = connack.sessionPresent;
        resolve();
      });
      client.once('error', reject);
    });
    return peer;
  }

  /** What arrived carrying this test's tag, as "topic text". */
  tagged(tag: string): string[] {
    return this.received.filter((m) => m.text.startsWith(`${tag}:`)).map((m) => `${m.topic} ${m.text}`);
  }

  async waitFor(topic: string, text: string, timeoutMs = 10_000): Promise<void> {
    const seen = () => this.received.some((m) => m.topic === topic && m.text === text);
    await until(seen, timeoutMs, `${topic} "${text}"`);
  }

  /**
   * A round trip to the broker. mosquitto writes to one connection in order, so once the UNSUBACK is here, every
   * message the broker routed to this client before it read the UNSUBSCRIBE is here too: a silence after this is
   * a refusal, not a message still on its way.
   */
  async barrier(): Promise<void> {
    await this.client.unsubscribeAsync(`barrier/${Date.now()}`);
  }

  /** The reason code a QoS 1 publish is answered with: 0 accepted, else the broker's refusal. */
  async publish(topic: string, text: string): Promise<number> {
    try {
      // A PUBACK; an accepted one carries no reason code before MQTT 5, and may leave it out in MQTT 5.
      const acked = this.client.publishAsync(topic, text, { qos: 1 });
      const ack = (await Promise.race([acked, this.closed])) as { reasonCode?: number } | undefined;
      return ack?.reasonCode ?? 0;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') return code;
      throw err;
    }
  }

  async end(): Promise<void> {
    await this.client.endAsync();
  }
}
