import { stat } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { CellwatchError, isCellwatchError } from '../errors.js';
import { readPublicKeys, type TrustOptions } from './signing.js';

/**
 * The models section checked as configuration: a trusted key file that cannot be used, or a models folder
 * that is a file, is the configuration's error (CONFIG_INVALID, exit 78: a service manager does not restart
 * into it), found by `run --check` as by `run`.
 */
export async function modelsTrust(config: Readonly<Config>): Promise<TrustOptions> {
  const { models } = config;
  let trustedKeys: TrustOptions['trustedKeys'];
  try {
    trustedKeys = await readPublicKeys(models.trustedKeys);
  } catch (err) {
    if (!isCellwatchError(err)) throw err;
    throw new CellwatchError('CONFIG_INVALID', `models.trustedKeys: ${err.message}`, { ...err.details });
  }
  const dir = models.dir as string;
  const found = await stat(dir).catch(() => undefined);
  if (found && !found.isDirectory()) {
    throw new CellwatchError('CONFIG_INVALID', `models.dir: ${dir} is not a folder`, { path: dir });
  }
  return { trustedKeys, allowUnsigned: models.allowUnsigned, maxBytes: Math.floor(models.maxBundleMb * 2 ** 20) };
}
