import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers.js';
import { hasMosquitto, makeCertificates, startTestBroker } from './broker.js';
import { Cleanups, writeConfig } from './daemon.js';
import { siteConfig, siteCsv, writeModel } from './fixture.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe.skipIf(!hasMosquitto())('cellwatch run over TLS with a client certificate (mosquitto)', () => {
  it('connects when the broker certificate checks out against the configured CA', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const tls = await makeCertificates(dir, ['S1']);
    const broker = await startTestBroker(dir, { tls });
    cleanups.add(() => broker.stop());
    const model = await writeModel(dir);
    await writeFile(join(dir, 'data.csv'), siteCsv({ startMs: Date.UTC(2026, 1, 2), hours: 5 }));
    const base = siteConfig(dir, model, join(dir, 'data.csv'), broker.url);
    const clientTls = { cert: tls.clients.S1.certFile, key: { file: tls.clients.S1.keyFile } };

    const trusted = await writeConfig(
      dir,
      { ...base, mqtt: { ...base.mqtt, tls: { ...clientTls, ca: tls.caFile } } },
      'ok.yaml',
    );
    const good = cleanups.daemon(trusted, ['--until-sources-end']);
    expect(await good.exited).toBe(0);
    expect(good.logs.some((l) => l.msg === 'mqtt connected')).toBe(true);
    expect(good.logs.find((l) => l.msg === 'agent stopped')?.drained).toBe(true);

    // Without the CA the self-signed chain must be refused: certificate checks are on by default.
    const untrusted = await writeConfig(
      dir,
      { ...base, drainTimeoutS: 0, mqtt: { ...base.mqtt, tls: clientTls } },
      'no-ca.yaml',
    );
    const refused = cleanups.daemon(untrusted);
    const failure = await refused.waitForLog((l) => l.msg === 'mqtt connection failed');
    expect(String(failure.err)).toMatch(/self[- ]signed certificate/);
    expect(refused.logs.some((l) => l.msg === 'mqtt connected')).toBe(false);
    refused.child.kill('SIGTERM');
    expect(await refused.exited).toBe(0);
    // The key file's content never reaches the log.
    const key = (await readFile(tls.clients.S1.keyFile, 'utf8')).split('\n')[1] ?? 'no key line';
    expect(JSON.stringify([...good.logs, ...refused.logs])).not.toContain(key);
  });
});
