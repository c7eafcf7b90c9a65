import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker } from '../../src/report/embedded-broker.js';

/** A broker on a real TCP port: mosquitto when it is installed (as in CI), else the embedded one. */
export interface TestBroker {
  kind: 'mosquitto' | 'aedes';
  url: string;
  port: number;
  /** Stop the broker (an outage); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Debian installs mosquitto in /usr/sbin, which is not on a normal user's PATH. */
export function mosquittoBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  return existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : undefined;
}

export function hasMosquitto(): boolean {
  return mosquittoBinary() !== undefined;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Files for a TLS listener that also asks clients for a certificate (mTLS). */
export interface BrokerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate and key the broker accepts, for the readiness probe. */
  client: { cert: Buffer; key: Buffer; ca: Buffer };
}

/** One client certificate, signed by the test CA, with CN = its name (the site id under use_identity_as_username). */
export interface ClientCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/**
 * A throw-away CA, a server certificate for localhost (by name and by address) and one client certificate per
 * name, made with openssl in dir. The first client is the readiness probe's.
 */
export async function makeCertificates<N extends string>(
  dir: string,
  clientNames: readonly [N, ...N[]],
): Promise<BrokerTls & { clients: Record<N, ClientCertificate> }> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  // RSA as the production certificates would be; -nodes leaves the keys unencrypted for mosquitto and mqtt.js.
  const key = ['-newkey', 'rsa:2048', '-nodes'];
  const days = ['-days', '2'];
  ssl('req', '-x509', ...key, ...days, '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  const issue = async (file: string, cn: string, extensions: string) => {
    ssl('req', ...key, '-subj', `/CN=${cn}`, '-keyout', `${file}.key`, '-out', `${file}.csr`);
    await writeFile(join(dir, `${file}.ext`), `${extensions}\n`);
    const signing = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', ...days, '-extfile', `${file}.ext`];
    ssl('x509', '-req', '-in', `${file}.csr`, ...signing, '-out', `${file}.pem`);
    return { certFile: join(dir, `${file}.pem`), keyFile: join(dir, `${file}.key`) };
  };
  const server = await issue('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  const ca = await readFile(join(dir, 'ca.pem'));
  const clients = {} as Record<N, ClientCertificate>;
  for (const name of clientNames) {
    // The name goes into a file name: the CNs tests use are plain site ids.
    const files = await issue(`client-${name}`, name, '');
    clients[name] = { ...files, ca, cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
  }
  return { caFile: join(dir, 'ca.pem'), ...server, client: clients[clientNames[0]], clients };
}

/**
 * A second CA that signed nothing the broker holds (other-ca.pem and other-ca.key in dir): what a site
 * configured with the wrong bundle trusts. Returns the certificate's path.
 */
export function makeOtherCa(dir: string): string {
  const ca = ['-subj', '/CN=other-ca', '-keyout', 'other-ca.key', '-out', 'other-ca.pem'];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', ...ca], {
    cwd: dir,
    stdio: 'ignore',
  });
  return join(dir, 'other-ca.pem');
}

export async function startTestBroker(
  dir: string,
  { tls, extraLines = [] }: { tls?: BrokerTls; extraLines?: string[] } = {},
): Promise<TestBroker> {
  const port = await freePort();
  const url = tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`;
  const mosquitto = mosquittoBinary();
  if ((tls || extraLines.length > 0) && !mosquitto) throw new Error('this test broker needs mosquitto');
  if (mosquitto) {
    const tlsLines = tls
      ? [`cafile ${tls.caFile}`, `certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`, 'require_certificate true']
      : [];
    const conf = join(dir, 'mosquitto.conf');
    // Persistence on, so sessions and queued messages survive the broker's own restart like a real deployment.
    await writeFile(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        ...tlsLines,
        ...extraLines,
        'allow_anonymous true',
        // Started as root (CI), mosquitto switches to its own user, which cannot write to our scratch folder.
        `user ${process.getuid?.() === 0 ? 'root' : userInfo().username}`,
        'persistence true',
        `persistence_location ${dir}/`,
        'max_queued_messages 100000',
        'log_dest none',
        '',
      ].join('\n'),
    );
    const { start, stop } = mosquittoProcess(mosquitto, conf, url, tls?.client);
    await start();
    return { kind: 'mosquitto', url, port, start, stop };
  }
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>> | undefined;
  const start = async () => {
    broker = await startEmbeddedBroker('127.0.0.1', port);
  };
  await start();
  return {
    kind: 'aedes',
    url,
    port,
    start,
    stop: async () => {
      await broker?.close();
      broker = undefined;
    },
  };
}

/**
 * mosquitto run on a config file written by the caller: start() spawns it and waits until a client (with
 * the given certificate, for an mTLS listener) can connect to url; stop() ends it with SIGTERM, so it saves
 * its persistence file as a service stop would.
 */
export function mosquittoProcess(
  binary: string,
  conf: string,
  url: string,
  probe?: BrokerTls['client'],
): { start: () => Promise<void>; stop: () => Promise<void> } {
  let child: ChildProcess | undefined;
  return {
    start: async () => {
      // stderr is kept: a config mosquitto refuses ends it at once, and its message is the useful failure.
      let stderr = '';
      const c = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      child = c;
      const died = () =>
        c.exitCode === null && c.signalCode === null
          ? undefined
          : `mosquitto exited (${c.exitCode ?? c.signalCode}): ${stderr.trim()}`;
      await waitForPort(url, probe, died);
    },
    stop: async () => {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitForPort(url: string, tls?: BrokerTls['client'], died?: () => string | undefined): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const death = died?.();
    if (death !== undefined) throw new Error(death);
    try {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500, ...tls });
      await c.endAsync();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`broker at ${url} did not come up`);
}

/** A central subscriber with a persistent session: collects every message under the site's topics. */
export async function subscriber(url: string, filter: string, clientId = `central-${process.pid}-${Date.now()}`) {
  const received: { topic: string; body: Record<string, unknown>; retain: boolean }[] = [];
  const client: MqttClient = await mqtt.connectAsync(url, { clientId, clean: false, protocolVersion: 4 });
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, received };
}
