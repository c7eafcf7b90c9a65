import { createRequire } from 'node:module';

interface ServerSocket {
  on(event: 'message', listener: (buf: Buffer) => void): void;
  bind(path: string): void;
  close(): void;
}

/** A stand-in for systemd's notify socket: a real Unix datagram socket that records what it receives. */
export function notifySocket(path: string) {
  const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): ServerSocket };
  const socket = unix.createSocket('unix_dgram');
  const messages: { atMs: number; fields: Record<string, string> }[] = [];
  socket.on('message', (buf) => {
    const fields: Record<string, string> = {};
    for (const line of buf.toString().split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
    }
    messages.push({ atMs: Date.now(), fields });
  });
  socket.bind(path);
  return { messages, close: () => socket.close() };
}
