import { CellwatchError } from '../errors.js';
import type { Config, Secret } from './schema.js';
import { readBoundedFile } from '../io/bounded-read.js';

/** A password or key file is a few KiB at most. */
const MAX_SECRET_BYTES = 1024 * 1024;
const MAX_MQTT_PASSWORD_BYTES = 65_535;

/**
 * Secrets resolved at start-up and kept apart from the configuration object, which is logged and reported:
 * nothing in here may ever reach a log line or a message.
 */
export interface Secrets {
  mqttPassword?: string;
  tlsKey?: string;
}

/** Read every secret the configuration names; all that are missing are reported at once. */
export async function readSecrets(config: Config): Promise<Secrets> {
  const secrets: Secrets = {};
  const problems: CellwatchError[] = [];
  const read = async (secret: Secret | undefined, path: string, store: (value: string) => void) => {
    if (!secret) return;
    try {
      store(await readSecret(secret, path));
    } catch (err) {
      problems.push(err as CellwatchError);
    }
  };
  await read(config.mqtt.password, '/mqtt/password', (v) => {
    // MQTT carries the password in a field with a 16-bit length; a longer one breaks the CONNECT packet.
    if (Buffer.byteLength(v) > MAX_MQTT_PASSWORD_BYTES) {
      const message = `/mqtt/password is ${Buffer.byteLength(v)} bytes; MQTT allows ${MAX_MQTT_PASSWORD_BYTES}`;
      throw new CellwatchError('CONFIG_SECRET', message, { path: '/mqtt/password' });
    }
    secrets.mqttPassword = v;
  });
  await read(config.mqtt.tls?.key, '/mqtt/tls/key', (v) => (secrets.tlsKey = v));
  const [first] = problems;
  if (first && problems.length === 1) throw first;
  if (problems.length > 1) {
    throw new CellwatchError('CONFIG_SECRET', problems.map((p) => p.message).join('; '), {
      problems: problems.map((p) => p.details),
    });
  }
  return secrets;
}

/** A secret file's trailing newline is not part of the secret (echo and most editors add one). */
export async function readSecret(secret: Secret, path: string): Promise<string> {
  let value: string | undefined;
  if ('file' in secret) {
    try {
      value = (await readBoundedFile(secret.file, MAX_SECRET_BYTES)).toString('utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CellwatchError('CONFIG_SECRET', `secret file for ${path} cannot be read (${reason})`, {
        path,
        file: secret.file,
      });
    }
  } else {
    value = process.env[secret.env];
    if (value === undefined) {
      throw new CellwatchError('CONFIG_SECRET', `environment variable ${secret.env} for ${path} is not set`, {
        path,
        env: secret.env,
      });
    }
  }
  if (value.length === 0) throw new CellwatchError('CONFIG_SECRET', `secret for ${path} is empty`, { path });
  return value;
}
