import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import type { Logger } from 'pino';

/** The part of unix-dgram's socket used here (the package ships no types). */
interface DatagramSocket {
  send(
    buf: Buffer,
    offset: number,
    length: number,
    path: string,
    callback: (err?: NodeJS.ErrnoException) => void,
  ): void;
  close(): void;
}

/**
 * The sd_notify protocol (readiness, status, watchdog, stopping) spoken by the daemon's own process.
 * Node has no Unix datagram sockets, so the datagram goes through unix-dgram; the `systemd-notify` tool is
 * not used because systemd 252 drops a message whose sender has already exited before it is read.
 * Outside systemd (no NOTIFY_SOCKET) every call does nothing, so the daemon runs the same by hand.
 */
export class ServiceNotifier {
  private failing = false;

  private constructor(
    private readonly socket: DatagramSocket | undefined,
    private readonly path: string,
    /** How often to feed the watchdog; undefined when systemd asked for none. */
    readonly watchdogIntervalMs: number | undefined,
    private readonly log: Logger,
  ) {}

  static fromEnvironment(log: Logger, env: NodeJS.ProcessEnv = process.env): ServiceNotifier {
    const path = env.NOTIFY_SOCKET ?? '';
    const interval = watchdogIntervalMs(env);
    if (!path) return new ServiceNotifier(undefined, '', undefined, log);
    if (path.startsWith('@')) {
      // systemd itself uses a path; an abstract socket comes only from other managers.
      log.warn({ code: 'SERVICE_NOTIFY', notifySocket: path }, 'abstract notify socket not supported');
      return new ServiceNotifier(undefined, '', undefined, log);
    }
    try {
      const require = createRequire(import.meta.url);
      const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DatagramSocket };
      return new ServiceNotifier(unix.createSocket('unix_dgram'), path, interval, log);
    } catch (err) {
      log.warn({ code: 'SERVICE_NOTIFY', err: (err as Error).message }, 'service manager notification unavailable');
      return new ServiceNotifier(undefined, '', undefined, log);
    }
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  ready(status: string): Promise<boolean> {
    return this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  status(status: string): Promise<boolean> {
    return this.send(`STATUS=${status}`);
  }

  /** A watchdog ping, with a new status line when there is one. */
  watchdog(status?: string): Promise<boolean> {
    return this.send(status === undefined ? 'WATCHDOG=1' : `WATCHDOG=1\nSTATUS=${status}`);
  }

  stopping(status: string): Promise<boolean> {
    return this.send(`STOPPING=1\nSTATUS=${status}`);
  }

  close(): void {
    this.socket?.close();
  }

  /** Resolves false when the message could not be sent; a lost notification is logged, never thrown. */
  private send(message: string): Promise<boolean> {
    const socket = this.socket;
    if (!socket) return Promise.resolve(false);
    const buf = Buffer.from(message);
    return new Promise((resolve) => {
      socket.send(buf, 0, buf.length, this.path, (err) => {
        // One line when notifications start failing and one when they work again, not one per ping.
        if (err && !this.failing) {
          const errno = typeof err.errno === 'number' && err.errno < 0 ? getSystemErrorName(err.errno) : err.message;
          this.log.warn({ code: 'SERVICE_NOTIFY', err: errno, notifySocket: this.path }, 'service notification failed');
        } else if (!err && this.failing) this.log.info({ notifySocket: this.path }, 'service notification works again');
        this.failing = err !== undefined;
        resolve(!err);
      });
    });
  }
}

/**
 * A third of the watchdog timeout systemd set for this process (sd_watchdog_enabled(3) suggests half): a
 * loaded 2-core controller can delay a timer by seconds, and one late ping must not cost a restart.
 */
/** Bounds on the ping interval: no busy loop for a tiny WatchdogSec, no timer overflow for a huge one. */
const MIN_PING_MS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
  return Math.min(MAX_TIMER_MS, Math.max(MIN_PING_MS, Math.floor(usec / 1000 / 3)));
}

/** True when stdout is the journal's stream (systemd sets JOURNAL_STREAM to its device:inode). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const { dev, ino } = fstatSync(1);
    return stream === `${dev}:${ino}`;
  } catch {
    return false;
  }
}
