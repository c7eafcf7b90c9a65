import Database from 'better-sqlite3';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLiveness, STALL_LIMIT_MS } from '../../src/agent/liveness.js';
import { journalPrefixed } from '../../src/agent/logger.js';
import { ServiceNotifier } from '../../src/service/sd-notify.js';
import { WatchdogFeeder, type Liveness } from '../../src/service/watchdog.js';
import { until } from '../agent/daemon.js';
import { scratchDir } from '../helpers.js';
import { notifySocket } from './notify-socket.js';

const log = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function socketAndNotifier(env: NodeJS.ProcessEnv = {}) {
  const { dir, cleanup } = await scratchDir();
  cleanups.push(cleanup);
  const path = join(dir, 'notify');
  const socket = notifySocket(path);
  cleanups.push(socket.close);
  const notifier = ServiceNotifier.fromEnvironment(log, { NOTIFY_SOCKET: path, ...env });
  cleanups.push(() => notifier.close());
  return { socket, notifier };
}

describe('sd_notify', () => {
  it('sends readiness with the main PID, status, watchdog and stopping as datagrams', async () => {
    const { socket, notifier } = await socketAndNotifier();
    expect(notifier.enabled).toBe(true);
    expect(await notifier.ready('running, connected to the broker')).toBe(true);
    expect(await notifier.watchdog()).toBe(true);
    expect(await notifier.stopping('draining the outbox')).toBe(true);
    await until(() => socket.messages.length === 3, 5000, 'three datagrams');
    expect(socket.messages.map((m) => m.fields)).toEqual([
      { READY: '1', STATUS: 'running, connected to the broker', MAINPID: String(process.pid) },
      { WATCHDOG: '1' },
      { STOPPING: '1', STATUS: 'draining the outbox' },
    ]);
  });

  it('feeds the watchdog at a third of WATCHDOG_USEC, only for the PID systemd named', async () => {
    const own = await socketAndNotifier({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: String(process.pid) });
    expect(own.notifier.watchdogIntervalMs).toBe(1000);
    const other = await socketAndNotifier({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: String(process.pid + 1) });
    expect(other.notifier.watchdogIntervalMs).toBeUndefined();
    // Bounded: no busy loop for a microsecond timeout, no timer overflow for an absurd one.
    expect((await socketAndNotifier({ WATCHDOG_USEC: '1' })).notifier.watchdogIntervalMs).toBe(100);
    expect((await socketAndNotifier({ WATCHDOG_USEC: '99999999999999' })).notifier.watchdogIntervalMs).toBe(
      2 ** 31 - 1,
    );
  });

  it('does nothing outside systemd, and a socket that is gone is a logged failure, not a crash', async () => {
    const none = ServiceNotifier.fromEnvironment(log, {});
    expect(none.enabled).toBe(false);
    expect(await none.ready('x')).toBe(false);
    const { dir, cleanup } = await scratchDir();
    cleanups.push(cleanup);
    const gone = ServiceNotifier.fromEnvironment(log, { NOTIFY_SOCKET: join(dir, 'no-such-socket') });
    cleanups.push(() => gone.close());
    expect(gone.enabled).toBe(true);
    expect(await gone.watchdog()).toBe(false);
  });
});

describe('watchdog', () => {
  it('withholds pings while the daemon is unhealthy, resumes when it recovers, and sends status changes', async () => {
    const { socket, notifier } = await socketAndNotifier({ WATCHDOG_USEC: '3000000' });
    let state: Liveness = { healthy: true };
    let status = 'running, connected to the broker';
    const feeder = new WatchdogFeeder(
      notifier,
      () => state,
      log,
      () => status,
    );
    expect(feeder.tick()).toBe(true);
    expect(feeder.tick()).toBe(true);
    state = { healthy: false, reason: 'pipeline cells has not finished a batch for 130 s' };
    expect(feeder.tick()).toBe(false);
    expect(feeder.tick()).toBe(false);
    state = { healthy: true };
    status = 'running, broker unreachable: buffering';
    expect(feeder.tick()).toBe(true);
    await until(() => socket.messages.length === 4, 5000, 'four datagrams');
    // The status goes out only when it changes; the second unhealthy tick repeats nothing.
    expect(socket.messages.map((m) => m.fields)).toEqual([
      { WATCHDOG: '1', STATUS: 'running, connected to the broker' },
      { WATCHDOG: '1' },
      { STATUS: 'unhealthy: pipeline cells has not finished a batch for 130 s' },
      { WATCHDOG: '1', STATUS: 'running, broker unreachable: buffering' },
    ]);
  });

  it('calls a closed buffer or a pipeline stuck past the limit unhealthy', () => {
    const db = new Database(':memory:');
    const idle = { name: 'cells', stalledForMs: () => 0 };
    const stuck = { name: 'radio', stalledForMs: () => STALL_LIMIT_MS + 5000 };
    expect(checkLiveness(db, [idle], 0)).toEqual({ healthy: true });
    expect(checkLiveness(db, [idle, stuck], 0)).toEqual({
      healthy: false,
      reason: `pipeline radio has not finished a batch for ${(STALL_LIMIT_MS + 5000) / 1000} s`,
    });
    db.close();
    const closed = checkLiveness(db, [idle], 0);
    expect(closed.healthy).toBe(false);
    expect(closed.healthy === false && closed.reason).toMatch(/^the buffer does not answer: .*not open/);
  });
});

describe('journal priorities', () => {
  it('prefixes each JSON line with the syslog priority of its pino level', () => {
    const line = (level: number) => `{"level":${level},"time":"2026-12-04T00:00:00.000Z","msg":"m"}\n`;
    expect([10, 20, 30, 40, 50, 60].map((l) => journalPrefixed(line(l)).slice(0, 3))).toEqual([
      '<7>',
      '<7>',
      '<6>',
      '<4>',
      '<3>',
      '<2>',
    ]);
    expect(journalPrefixed(line(40)).slice(3)).toBe(line(40));
    expect(journalPrefixed('not json\n')).toBe('not json\n');
  });
});
