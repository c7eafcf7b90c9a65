import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { modelsTrust } from '../../src/lifecycle/models-config.js';
import { generateKeyPair } from '../../src/lifecycle/signing.js';
import { rejection, scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(() => cleanup());

/** Only the models section is read. */
function config(models: { trustedKeys: string[]; dir?: string }): Config {
  const section = { allowUnsigned: false, maxBundleMb: 2, dir: join(dir, 'models'), ...models };
  return { models: section } as unknown as Config;
}

describe('modelsTrust', () => {
  it('reads the trusted keys and the size limit', async () => {
    const pair = generateKeyPair();
    await writeFile(join(dir, 'fleet.pub'), pair.publicKeyPem);
    const trust = await modelsTrust(config({ trustedKeys: [join(dir, 'fleet.pub')] }));
    expect([...trust.trustedKeys.keys()]).toEqual([pair.keyId]);
    expect(trust).toMatchObject({ allowUnsigned: false, maxBytes: 2 * 2 ** 20 });
  });

  it('makes an unusable key file or a models folder that is a file a configuration error (exit 78)', async () => {
    const pair = generateKeyPair();
    await writeFile(join(dir, 'fleet.key'), pair.privateKeyPem);
    await writeFile(join(dir, 'junk.pub'), 'not a key');
    await writeFile(join(dir, 'a-file'), '');
    for (const trustedKeys of [[join(dir, 'missing.pub')], [join(dir, 'fleet.key')], [join(dir, 'junk.pub')]]) {
      const err = await rejection(() => modelsTrust(config({ trustedKeys })));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toMatch(/^models\.trustedKeys: key file /);
    }
    const file = await rejection(() => modelsTrust(config({ trustedKeys: [], dir: join(dir, 'a-file') })));
    expect(file).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `models.dir: ${join(dir, 'a-file')} is not a folder`,
    });
  });
});
