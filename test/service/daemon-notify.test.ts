import { spawn } from 'node:child_process';
import { fstatSync, openSync, closeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker } from '../agent/broker.js';
import { Cleanups, daemonArgs, until, writeConfig } from '../agent/daemon.js';
import { siteConfig, siteCsv, HOUR_MS, writeModel } from '../agent/fixture.js';
import { scratchDir } from '../helpers.js';
import { notifySocket } from './notify-socket.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const PASSWORD = 'pw-4c1f9e-never-logged';

/**
 * The daemon as systemd runs it: NOTIFY_SOCKET, WATCHDOG_USEC and a journal stream on stdout (here a file,
 * named in JOURNAL_STREAM by its device and inode as systemd does), with the broker password in the env.
 */
describe('cellwatch run under a service manager', () => {
  it('is ready once connected, feeds the watchdog, logs with priorities and no secret, stops cleanly', async () => {
    const { dir, cleanup } = await scratchDir();
    cleanups.add(cleanup);
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const data = join(dir, 'cells.csv');
    await writeFile(data, siteCsv({ startMs: Date.UTC(2026, 0, 1) - 48 * HOUR_MS, hours: 48 }));
    const base = siteConfig(dir, await writeModel(dir), data, broker.url);
    const config = await writeConfig(dir, {
      ...base,
      mqtt: { ...base.mqtt, username: 'S1', password: { env: 'CW_TEST_MQTT_PASSWORD' } },
    });
    const socket = notifySocket(join(dir, 'notify'));
    cleanups.add(() => Promise.resolve(socket.close()));
    const logPath = join(dir, 'journal.log');
    const out = openSync(logPath, 'w');
    const { dev, ino } = fstatSync(out);
    const child = spawn(process.execPath, daemonArgs(config), {
      stdio: ['ignore', out, 'pipe'],
      env: {
        ...process.env,
        NOTIFY_SOCKET: join(dir, 'notify'),
        WATCHDOG_USEC: '1500000',
        JOURNAL_STREAM: `${dev}:${ino}`,
        CW_TEST_MQTT_PASSWORD: PASSWORD,
      },
    });
    closeSync(out);
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    cleanups.add(() => Promise.resolve(child.exitCode === null && child.kill('SIGKILL')));

    const fields = () => socket.messages.map((m) => m.fields);
    await until(() => fields().some((f) => f.READY === '1'), 60_000, 'READY=1');
    const ready = fields().find((f) => f.READY === '1');
    expect(ready).toMatchObject({ READY: '1', MAINPID: String(child.pid) });
    expect(ready?.STATUS).toMatch(/^running, connected to the broker, \d+ messages queued, 0 incidents open$/);
    await until(() => fields().filter((f) => f.WATCHDOG === '1').length >= 3, 20_000, 'three watchdog pings');
    const pings = socket.messages.filter((m) => m.fields.WATCHDOG === '1').map((m) => m.atMs);
    // A third of 1.5 s; the gaps stay well under the timeout itself.
    for (let i = 1; i < pings.length; i++) expect(pings[i]! - pings[i - 1]!).toBeLessThan(1500);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fields().at(-1)).toEqual({ STOPPING: '1', STATUS: 'draining the outbox' });

    const text = await readFile(logPath, 'utf8');
    expect(text).not.toContain(PASSWORD);
    const lines = text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    const priority = { 20: '7', 30: '6', 40: '4', 50: '3', 60: '2' } as Record<number, string>;
    const messages: string[] = [];
    for (const line of lines) {
      const [, prefix, json] = /^<(\d)>(\{.*\})$/.exec(line) ?? [];
      expect(json, line).toBeDefined();
      const entry = JSON.parse(json ?? '') as { level: number; msg: string };
      expect(prefix).toBe(priority[entry.level]);
      messages.push(entry.msg);
    }
    // Readiness comes after the broker connection, and the log says so.
    expect(messages.indexOf('ready')).toBeGreaterThan(messages.indexOf('mqtt connected'));
    expect(messages).toContain('agent stopped');
  }, 120_000);
});
