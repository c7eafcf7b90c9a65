import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { CellwatchError } from '../errors.js';
import type { LinkOptions, OutgoingMessage } from '../report/mqtt-link.js';
import { Topics } from '../report/topics.js';
import { readBoundedFile } from '../io/bounded-read.js';

/** A CA bundle is the largest TLS file, a few hundred KiB for a full public set. */
const MAX_TLS_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The broker connection as configured: TLS material read from disk, secrets from where the config points,
 * and a client id that is stable on one box (the broker keeps its session) and unique across boxes.
 */
export async function linkOptions(config: Config, secrets: Secrets, will: () => OutgoingMessage): Promise<LinkOptions> {
  const { mqtt } = config;
  const topics = new Topics(mqtt.topicPrefix, config.site);
  const tls = mqtt.tls;
  const material = tls && {
    ca: tls.ca === undefined ? undefined : await readTlsFile(tls.ca, '/mqtt/tls/ca'),
    cert: tls.cert === undefined ? undefined : await readTlsFile(tls.cert, '/mqtt/tls/cert'),
    key: secrets.tlsKey === undefined ? undefined : Buffer.from(secrets.tlsKey),
  };
  if (material) checkTlsMaterial(material);
  return {
    url: mqtt.url,
    clientId: mqtt.clientId ?? defaultClientId(config.site),
    protocolVersion: mqtt.protocolVersion,
    username: mqtt.username,
    password: secrets.mqttPassword,
    tls: tls && {
      ...material,
      rejectUnauthorized: tls.rejectUnauthorized,
      servername: tls.servername,
    },
    keepaliveS: mqtt.keepaliveS,
    sessionExpiryS: mqtt.sessionExpiryS,
    // The largest command is a bundle. A push somewhat over maxBundleMb (a mistake) still arrives and is
    // refused with BUNDLE_SIZE on model/result; one past four times it (an attack, or a wrong file) is dropped
    // by the broker and never takes the agent's memory.
    maximumPacketBytes: Math.ceil(4 * config.models.maxBundleMb * 2 ** 20) + 64 * 1024,
    connectTimeoutMs: mqtt.connectTimeoutMs,
    reconnectMinMs: mqtt.reconnectMinMs,
    reconnectMaxMs: mqtt.reconnectMaxMs,
    subscriptions: [topics.commandFilter, topics.fleetModelFilter],
    will,
  };
}

/** cellwatch-<site>-<8 hex of the host name>: two boxes configured with the same site still do not collide. */
export function defaultClientId(site: string): string {
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  return `cellwatch-${site}-${host}`.slice(0, 64);
}

/** A PEM file that is not a certificate or key fails here, named, instead of deep inside the first connect. */
function checkTlsMaterial(material: { ca?: Buffer; cert?: Buffer; key?: Buffer }): void {
  try {
    createSecureContext(material);
  } catch (err) {
    const reason = (err as Error).message;
    throw new CellwatchError('CONFIG_INVALID', `/mqtt/tls: the CA, certificate or key is not usable (${reason})`, {
      path: '/mqtt/tls',
    });
  }
}

async function readTlsFile(path: string, key: string): Promise<Buffer> {
  try {
    return await readBoundedFile(path, MAX_TLS_FILE_BYTES);
  } catch (err) {
    throw new CellwatchError('CONFIG_READ', `${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`, {
      path: key,
      file: path,
    });
  }
}
