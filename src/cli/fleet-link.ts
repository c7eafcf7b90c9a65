import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import type { Command } from 'commander';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CellwatchError } from '../errors.js';
import { redactUrl } from '../report/mqtt-link.js';
import {
  ModelResultPayloadSchema,
  ModelStatePayloadSchema,
  type ModelResultPayload,
  type ModelStatePayload,
} from '../report/payloads.js';
import { FLEET } from '../report/topics.js';
import { integer } from './parse.js';

/*
 * The broker connection of the fleet commands (model push, rollback, status): its flags, one short clean
 * session per run, and the waits for what sites publish, each checked against the payload schemas.
 */

/** The flags withLink adds, as commander hands them over. */
export interface LinkFlags {
  url: string;
  prefix: string;
  ca?: string;
  cert?: string;
  key?: string;
  username?: string;
  passwordFile?: string;
  connectTimeoutS: number;
  json?: boolean;
}

/** The options every fleet command takes to reach the broker. */
export function withLink(command: Command): Command {
  return command
    .requiredOption('--url <url>', 'the broker, e.g. mqtts://broker.example:8883')
    .option('--prefix <prefix>', 'the topic prefix the sites use', 'cellwatch')
    .option('--ca <file>', 'CA certificate (PEM) to check the broker with')
    .option('--cert <file>', 'client certificate (PEM) for mutual TLS')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--username <name>', 'MQTT user name')
    .option('--password-file <file>', 'file holding the MQTT password (never a flag: it would show in ps)')
    .option('--connect-timeout-s <s>', 'give up connecting after this long', integer(1, 600), 10)
    .option('--json', 'print the result as JSON');
}

// Formats checked by hand, like the manifest's, so the CLI needs no format plugin for two of them.
const ajv = new Ajv({
  strict: true,
  formats: {
    uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    'date-time': (s: string) => /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(s) && !isNaN(Date.parse(s)),
  },
});
const validResult = ajv.compile<ModelResultPayload>(ModelResultPayloadSchema);
const validState = ajv.compile<ModelStatePayload>(ModelStatePayloadSchema);

function parsed<T>(payload: Buffer, valid: (data: unknown) => data is T): T | undefined {
  try {
    const data = JSON.parse(payload.toString('utf8')) as unknown;
    return valid(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

export interface Answer {
  result: ModelResultPayload;
  invalid: number;
}
/** What a result must name to answer this command; null fields (an unreadable bundle) match anything. */
type Expected = { pipeline: string; modelId?: string; version?: number };

/** One connected client and what the commands do with it; every wait also ends if the connection is lost. */
export class Link {
  private lost: Promise<never>;
  private ending = false;

  constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
    url: string,
  ) {
    this.lost = new Promise<never>((_, reject) => {
      client.on('close', () => {
        if (!this.ending) reject(new CellwatchError('MQTT_CONNECT', `the connection to ${url} was lost`));
      });
    });
    // A rejection nobody waits for must not end the process; a wait that races it still sees it.
    this.lost.catch(() => undefined);
    client.on('error', () => undefined);
  }

  private guard<T>(op: Promise<T>): Promise<T> {
    return Promise.race([op, this.lost]);
  }

  async publish(topic: string, payload: Buffer): Promise<void> {
    // QoS 1: resolved when the broker has the message, and so the sites' persistent sessions have it too.
    await this.guard(this.client.publishAsync(topic, payload, { qos: 1, retain: false })).catch((err: Error) => {
      // A broker closes the link on a message over its size limit (mosquitto: message_size_limit).
      throw new CellwatchError('MQTT_PUBLISH', `the broker did not take the message on ${topic}: ${err.message}`, {
        topic,
        bytes: payload.length,
      });
    });
  }

  private async subscribe(filter: string): Promise<void> {
    const granted = await this.guard(this.client.subscribeAsync(filter, { qos: 1 }));
    if (granted.some((g) => g.qos === 128)) {
      throw new CellwatchError('MQTT_CONNECT', `the broker refused the subscription to ${filter} (its ACL?)`, {
        filter,
      });
    }
  }

  /** Subscribe before the command is sent, so a fast site's answer cannot come before we listen. */
  async results(site: string, action: 'push' | 'rollback', want: Expected) {
    const topic = `${this.prefix}/${site}/model/result`;
    let invalid = 0;
    let found: (r: ModelResultPayload) => void = () => undefined;
    const answer = new Promise<ModelResultPayload>((resolve) => (found = resolve));
    this.client.on('message', (t, payload, packet) => {
      // A retained result is an old one: only what the site says after this command counts.
      if (t !== topic || packet.retain) return;
      const r = parsed(payload, validResult);
      if (!r) invalid++;
      else if (r.action === action && matches(r, want)) found(r);
    });
    await this.subscribe(topic);
    return {
      next: async (waitMs: number): Promise<Answer | undefined> => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
        const result = await this.guard(Promise.race([answer, timeout])).finally(() => clearTimeout(timer));
        return result && { result, invalid };
      },
    };
  }

  /**
   * Every site's first answer to a fleet-wide command. Subscribe before the command is sent, then collect
   * until waitMs: the broker cannot say how many sites there are, so the wait is the only end.
   */
  async fleetResults(action: 'push', want: Expected) {
    const bySite = new Map<string, ModelResultPayload>();
    this.client.on('message', (_topic, payload, packet) => {
      if (packet.retain) return;
      const r = parsed(payload, validResult);
      if (r && r.action === action && matches(r, want) && !bySite.has(r.site)) bySite.set(r.site, r);
    });
    await this.subscribe(`${this.prefix}/+/model/result`);
    return {
      collect: async (waitMs: number): Promise<ModelResultPayload[]> => {
        await this.guard(new Promise((resolve) => setTimeout(resolve, waitMs)));
        return [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site));
      },
    };
  }

  /** The newest valid state per site within waitMs; retained ones arrive right after the subscription. */
  async states(filter: string, waitMs: number, oneSite: boolean) {
    const bySite = new Map<string, ModelStatePayload>();
    let invalid = 0;
    let done: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (done = resolve));
    this.client.on('message', (_topic, payload) => {
      if (payload.length === 0) return; // a cleared retained message, not a state
      const s = parsed(payload, validState);
      if (!s) invalid++;
      else bySite.set(s.site, s);
      if (s && oneSite) done();
    });
    await this.subscribe(filter);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await this.guard(Promise.race([enough, timeout])).finally(() => clearTimeout(timer));
    const states = [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site));
    return { states, invalid };
  }

  async end(): Promise<void> {
    this.ending = true;
    if (!this.client.connected) {
      await this.client.endAsync(true);
      return;
    }
    // A clean DISCONNECT when the broker answers; a link that went dead meanwhile is cut instead of hanging.
    const timer = setTimeout(() => this.client.stream.destroy(), 1000);
    await this.client.endAsync().finally(() => clearTimeout(timer));
  }
}

function matches(r: ModelResultPayload, want: Expected): boolean {
  const same = <T>(got: T | null, wanted: T | undefined) => got === null || wanted === undefined || got === wanted;
  return same(r.pipeline, want.pipeline) && same(r.modelId, want.modelId) && same(r.version, want.version);
}

/** Connect (clean session, random id: a CLI run leaves nothing behind at the broker), run, and always end. */
export async function session<T>(flags: LinkFlags, run: (link: Link) => Promise<T>): Promise<T> {
  const options = await clientOptions(flags);
  const shown = redactUrl(flags.url);
  const client = await mqtt.connectAsync(flags.url, options, false).catch((err: Error) => {
    throw new CellwatchError('MQTT_CONNECT', `cannot connect to the MQTT broker at ${shown}: ${err.message.trim()}`, {
      url: shown,
    });
  });
  const link = new Link(client, flags.prefix, shown);
  try {
    return await run(link);
  } finally {
    await link.end();
  }
}

async function clientOptions(flags: LinkFlags): Promise<IClientOptions> {
  const protocol = URL.canParse(flags.url) ? new URL(flags.url).protocol : '';
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(protocol)) {
    throw new CellwatchError('USAGE', `--url must be mqtt://, mqtts://, ws:// or wss://host:port, not "${flags.url}"`);
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new CellwatchError('USAGE', '--cert and --key go together');
  }
  const file = (path: string | undefined) => (path === undefined ? undefined : readOrFail(path));
  const [ca, cert, key, password] = await Promise.all([
    file(flags.ca),
    file(flags.cert),
    file(flags.key),
    file(flags.passwordFile),
  ]);
  return {
    clientId: `cellwatch-cli-${randomBytes(6).toString('hex')}`,
    clean: true,
    protocolVersion: 4,
    connectTimeout: flags.connectTimeoutS * 1000,
    reconnectPeriod: 0,
    username: flags.username,
    // A password file ends with a newline more often than not; the password itself never does.
    password: password?.toString('utf8').replace(/\r?\n$/, ''),
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
  };
}

/** A topic level that is a site: what the agent config allows, and never the fleet pseudo-site. */
export function checkSite(site: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(site) || site === FLEET) {
    throw new CellwatchError('USAGE', `"${site}" is not a site name (letters, digits, _ . : -; not "${FLEET}")`);
  }
  return site;
}

export function checkPrefix(prefix: string): string {
  if (!/^[^#+$][^#+]*$/.test(prefix) || prefix.endsWith('/')) {
    throw new CellwatchError('USAGE', `"${prefix}" is not a topic prefix (no # or +, no trailing /)`);
  }
  return prefix;
}

export function readOrFail(path: string): Promise<Buffer> {
  return readFile(path).catch((err: unknown) => cannotRead(path, err));
}

export function cannotRead(path: string, err: unknown): never {
  throw new CellwatchError('INPUT_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { path });
}
