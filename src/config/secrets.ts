import { readFile } from 'node:fs/promises';
import { CellwatchError } from '../errors.js';
import type { Config, Secret } from './schema.js';

/**
 * Secrets resolved at start-up and kept apart from the configuration object, which is logged and reported:
 * nothing in here may ever reach a log line or a message.
 */
export interface Secrets {
  mqttPassword?: string;
  tlsKey?: string;
}

export async function readSecrets(config: Config): Promise<Secrets> {
  const secrets: Secrets = {};
  if (config.mqtt.password) secrets.mqttPassword = await readSecret(config.mqtt.password, '/mqtt/password');
  if (config.mqtt.tls?.key) secrets.tlsKey = await readSecret(config.mqtt.tls.key, '/mqtt/tls/key');
  return secrets;
}

/** A secret file's trailing newline is not part of the secret (echo and most editors add one). */
export async function readSecret(secret: Secret, path: string): Promise<string> {
  let value: string | undefined;
  if ('file' in secret) {
    try {
      value = (await readFile(secret.file, 'utf8')).replace(/\r?\n$/, '');
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
