import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { CellwatchError } from '../errors.js';

export interface EmbeddedBroker {
  /** mqtt://host:port of the listening broker. */
  url: string;
  close(): Promise<void>;
}

/**
 * An in-process MQTT broker (aedes) on a real TCP port, for the zero-setup demo and for machines without
 * mosquitto. It speaks MQTT 3.1.1 only and keeps everything in memory: a site in the field talks to a real
 * broker. Port 0 picks a free port.
 */
export async function startEmbeddedBroker(host = '127.0.0.1', port = 0): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw new CellwatchError(
      'MQTT_CONNECT',
      `embedded broker cannot listen on ${host}:${port}: ${(err as Error).message}`,
      {
        host,
        port,
      },
    );
  }
  const address = server.address() as AddressInfo;
  return {
    url: `mqtt://${host}:${address.port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/** "embedded" or "embedded://host:port" in the config means: start an embedded broker there. */
export function embeddedAddress(url: string): { host: string; port: number } | undefined {
  if (url === 'embedded') return { host: '127.0.0.1', port: 1883 };
  const match = /^embedded:\/\/([^:/]+):(\d+)$/.exec(url);
  return match ? { host: match[1] as string, port: Number(match[2]) } : undefined;
}
