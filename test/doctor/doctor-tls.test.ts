import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers.js';
import { hasMosquitto, makeCertificates, makeOtherCa, startTestBroker } from '../agent/broker.js';
import { Cleanups, writeConfig } from '../agent/daemon.js';
import { doctor, scratchInstall } from './doctor-cli.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe.skipIf(!hasMosquitto())('cellwatch doctor against a TLS broker that wants a client certificate', () => {
  it('connects with the configured CA and client certificate, and fails with MQTT_TLS on another CA', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const tls = await makeCertificates(dir, ['S1', 'S2']);
    const broker = await startTestBroker(dir, { tls });
    cleanups.add(() => broker.stop());
    const otherCa = makeOtherCa(dir);
    const client = { cert: tls.clients.S1.certFile, key: { file: tls.clients.S1.keyFile } };
    const install = await scratchInstall(dir, broker.url, (c) => ({
      ...c,
      mqtt: { ...c.mqtt, tls: { ...client, ca: tls.caFile } },
    }));

    const trusted = await doctor(install.configPath, ['--login']);
    expect(trusted.check('broker')).toMatchObject({ status: 'ok', url: broker.url, protocol: 'MQTT 5' });
    expect(trusted.check('broker').tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect(trusted.check('broker').detail).toMatch(
      /^connected to mqtts:\/\/localhost:\d+ in \d+ ms \(MQTT 5 over TLSv1/,
    );
    expect(trusted.check('config').status).toBe('ok');
    expect(trusted.check('broker').certificateCn).toBe('S1');

    // Another site's certificate connects, but the broker of deploy/mosquitto would refuse all it sends.
    const s2 = { cert: tls.clients.S2.certFile, key: { file: tls.clients.S2.keyFile }, ca: tls.caFile };
    const asS2 = { ...install.config, mqtt: { ...install.config.mqtt, tls: s2 } };
    const borrowed = await doctor(await writeConfig(dir, asS2, 's2.yaml'));
    expect(borrowed.check('broker')).toMatchObject({ status: 'warn', certificateCn: 'S2' });
    expect(borrowed.check('broker').detail).toMatch(/client certificate's CN is "S2", not the site id "S1"/);
    expect(trusted.exitCode).toBe(0);

    const wrongCa = { ...install.config.mqtt, tls: { ...client, ca: otherCa } };
    const path = await writeConfig(dir, { ...install.config, mqtt: wrongCa }, 'wrong-ca.yaml');
    const refused = await doctor(path, ['--login']);
    expect(refused.exitCode).toBe(1);
    expect(refused.check('broker')).toMatchObject({
      status: 'fail',
      code: 'MQTT_TLS',
      details: { reason: 'tls', tlsError: 'SELF_SIGNED_CERT_IN_CHAIN' },
    });
    expect(refused.check('broker').detail).toMatch(
      /self[- ]signed certificate in certificate chain.*check mqtt\.tls\.ca/,
    );
    expect(refused.check('config').status).toBe('ok');
    expect(refused.stderr).toMatch(/DOCTOR_FAILED: 1 of 8 checks failed: broker \(MQTT_TLS\)/);

    // Without --login: the handshake, and a client certificate the broker does not take is still caught.
    const handshake = await doctor(install.configPath);
    expect(handshake.check('broker')).toMatchObject({ status: 'ok', loginTried: false });
    expect(handshake.check('broker').tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=S1', '-keyout', 'stray.key', '-out', 'stray.csr');
    const byOtherCa = ['-CA', 'other-ca.pem', '-CAkey', 'other-ca.key', '-CAcreateserial'];
    ssl('x509', '-req', '-in', 'stray.csr', ...byOtherCa, '-out', 'stray.pem');
    const stray = { cert: join(dir, 'stray.pem'), key: { file: join(dir, 'stray.key') }, ca: tls.caFile };
    const strayPath = await writeConfig(
      dir,
      { ...install.config, mqtt: { ...install.config.mqtt, tls: stray } },
      's.yaml',
    );
    const strayCert = await doctor(strayPath);
    expect(strayCert.check('broker')).toMatchObject({ status: 'fail', code: 'MQTT_TLS' });

    // Beside the running agent: the TLS handshake alone, with the same certificates and the same verdicts.
    const daemon = cleanups.daemon(install.configPath);
    await daemon.waitForLog((l) => l.msg === 'ready');
    const beside = await doctor(install.configPath);
    expect(beside.check('broker')).toMatchObject({ status: 'ok', agentPid: daemon.child.pid, loginTried: false });
    expect(beside.check('broker').tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect(beside.check('broker').detail).toMatch(/^TLS handshake \(TLSv1\.[23]\) with the configured certificates/);
    const besideWrongCa = await doctor(path);
    expect(besideWrongCa.check('broker')).toMatchObject({
      status: 'fail',
      code: 'MQTT_TLS',
      details: { reason: 'tls', tlsError: 'SELF_SIGNED_CERT_IN_CHAIN' },
    });
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.filter((l) => l.msg === 'mqtt connected')).toHaveLength(1);
  });
});
