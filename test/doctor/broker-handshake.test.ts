import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { handshakeOnly } from '../../src/doctor/broker-handshake.js';
import type { LinkOptions } from '../../src/report/mqtt-link.js';
import { scratchDir } from '../helpers.js';
import { hasMosquitto, makeCertificates, makeOtherCa, startTestBroker } from '../agent/broker.js';
import { Cleanups } from '../agent/daemon.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe.skipIf(!hasMosquitto())('the broker handshake doctor makes without logging in', () => {
  it('makes the TLS handshake for wss:// as for mqtts://, so a wrong CA fails and not just the TCP', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const tls = await makeCertificates(dir, ['S1']);
    const broker = await startTestBroker(dir, { tls });
    cleanups.add(() => broker.stop());
    const site = tls.clients.S1;
    const options = (url: string, caPem: Buffer) =>
      ({ url, tls: { ca: caPem, cert: site.cert, key: site.key, rejectUnauthorized: true } }) as LinkOptions;
    const otherCa = await readFile(makeOtherCa(dir));

    // The TLS below MQTT or below a WebSocket is the same handshake, so mosquitto's TLS port stands in for both.
    for (const scheme of ['mqtts', 'wss']) {
      const url = `${scheme}://localhost:${broker.port}`;
      const trusted = await handshakeOnly(options(url, site.ca), 5_000);
      expect(trusted).toMatchObject({ connected: true });
      expect(trusted.connected && trusted.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
      const refused = await handshakeOnly(options(url, otherCa), 5_000);
      expect(refused).toMatchObject({ connected: false, timedOut: false });
      expect(!refused.connected && (refused.error as NodeJS.ErrnoException).code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    }
  });
});
