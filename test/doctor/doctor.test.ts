import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers.js';
import { freePort, hasMosquitto, startTestBroker } from '../agent/broker.js';
import { Cleanups, writeConfig } from '../agent/daemon.js';
import { runCli } from '../cli/run-cli.js';
import { doctor, scratchInstall, snapshot, type DoctorCheck } from './doctor-cli.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function scratch(): Promise<string> {
  const { dir, cleanup } = await scratchDir();
  cleanups.add(cleanup);
  return dir;
}

const asRoot = process.getuid?.() === 0;

/** The checks that need nothing but the host still ran, whatever else failed. */
function expectHostChecksRan(check: (name: string) => DoctorCheck): void {
  expect(['ok', 'warn']).toContain(check('clock').status);
  expect(check('clock').floor).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(check('runtime').status).toBe(asRoot ? 'warn' : 'ok');
  expect(check('runtime').node).toBe(process.versions.node);
  expect(check('native').status).toBe('ok');
  expect((check('native').loaded as { module: string }[]).map((l) => l.module)).toEqual(NATIVE_MODULES);
}

const NATIVE_MODULES = ['better-sqlite3', 'onnxruntime-node', 'unix-dgram'];

describe('cellwatch doctor --runtime', () => {
  it('checks Node.js and the compiled modules with no configuration, and takes only one of the two modes', async () => {
    const run = await runCli(['doctor', '--runtime', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { config: unknown; checks: DoctorCheck[] };
    expect(report.config).toBeNull();
    expect(report.checks.map((c) => c.name)).toEqual(['runtime', 'native']);
    const native = report.checks[1] as DoctorCheck & { loaded: { module: string; version: string }[] };
    expect(native.loaded.map((l) => l.module)).toEqual(NATIVE_MODULES);
    expect(native.loaded[0]?.version).toMatch(/^sqlite 3\.\d+/);

    for (const args of [[], ['--runtime', '--config', 'x.yaml']]) {
      const wrong = await runCli(['doctor', ...args]);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/USAGE: doctor takes either --config <file> or --runtime/);
    }
  });
});

describe.skipIf(!hasMosquitto())('cellwatch doctor on a working installation (mosquitto)', () => {
  it('passes beside the running agent and after it stopped, and changes no file', async () => {
    const dir = await scratch();
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const install = await scratchInstall(dir, broker.url);

    // Beside the running agent: its WAL is there, so the buffer is read in place; the agent keeps its session.
    const daemon = cleanups.daemon(install.configPath);
    await daemon.waitForLog((l) => l.msg === 'ready');
    const running = await doctor(install.configPath);
    expect(running.exitCode).toBe(0);
    expect(running.check('database')).toMatchObject({ status: 'ok', checkedIn: 'place', quickCheck: 'ok' });
    // The agent's pid file is there: the broker is reached, but no login takes the site's session.
    expect(running.check('broker')).toMatchObject({ status: 'ok', agentPid: daemon.child.pid, loginTried: false });
    expect(running.check('broker').detail).toMatch(/^TCP to mqtt:\/\/.* ok in \d+ ms; MQTT login not tried/);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.filter((l) => l.msg === 'mqtt connected')).toHaveLength(1);
    expect(daemon.logs.some((l) => l.msg === 'mqtt connection lost')).toBe(false);

    // Stopped: the buffer is one file with no -wal/-shm, and stays so.
    const before = await snapshot(install.stateDir);
    expect(Object.keys(before).filter((f) => /-(wal|shm)$/.test(f))).toEqual([]);
    const stopped = await doctor(install.configPath, ['--login']);
    expect(await snapshot(install.stateDir)).toEqual(before);

    expect(stopped.exitCode).toBe(0);
    expect(stopped.stderr).toBe('');
    expect(stopped.status).toBe(asRoot ? 'warn' : 'ok');
    expect(stopped.check('config')).toMatchObject({ status: 'ok', site: 'S1' });
    expect(stopped.check('database')).toMatchObject({
      status: 'ok',
      checkedIn: 'memory',
      quickCheck: 'ok',
      schemaVersion: 2,
      sizeBytes: (await stat(install.dbPath)).size,
      walBytes: 0,
      rows: { samples: 10, outbox: 0, pmBlocks: 0 },
    });
    const models = stopped.check('models');
    expect(models).toMatchObject({ status: 'ok', dirWritable: true });
    // The run registered the configured file in the store: that stored copy is what the agent would load.
    expect(models.pipelines).toEqual([
      expect.objectContaining({ pipeline: 'cells', modelId: 'test-model', version: 1, origin: 'config' }),
    ]);
    const [cells] = models.pipelines as { path: string; loadMs: number; runMs: number }[];
    expect(cells?.path).toMatch(new RegExp(`^${join(install.stateDir, 'models', 'cells')}/v1-[0-9a-f]{12}\\.onnx$`));
    expect(cells?.loadMs).toBeGreaterThanOrEqual(0);
    expect(stopped.check('broker')).toMatchObject({ status: 'ok', protocol: 'MQTT 5', url: broker.url });
    expect(stopped.check('broker').clientId).toMatch(/^cellwatch-S1-[0-9a-f]{8}-doctor$/);
    expect(stopped.check('broker').connectMs).toBeGreaterThanOrEqual(0);
    const disk = stopped.check('disk');
    expect(disk.status).toBe('ok');
    expect(disk.freeMiB).toBeGreaterThan(0);
    expectHostChecksRan(stopped.check);
  });

  it('fails on a broker that is down or refuses the credentials, and still reports every other check', async () => {
    const dir = await scratch();
    const down = await scratchInstall(dir, `mqtt://127.0.0.1:${await freePort()}`);
    const result = await doctor(down.configPath, ['--timeout-s', '5']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^error DOCTOR_FAILED: 1 of 8 checks failed: broker \(MQTT_CONNECT\)/);
    expect(result.check('broker')).toMatchObject({
      status: 'fail',
      code: 'MQTT_CONNECT',
      details: { reason: 'refused' },
    });
    expect(result.check('config').status).toBe('ok');
    // No agent ever ran here: the buffer is not there yet, which is expected.
    expect(result.check('database')).toMatchObject({ status: 'warn', exists: false });
    expect(result.check('models').status).toBe('ok');
    expect(result.check('disk').status).toBe('ok');
    expectHostChecksRan(result.check);

    // A broker that checks passwords: the wrong one is a CONNACK refusal, not a network failure.
    const passwords = join(dir, 'passwords');
    execFileSync('mosquitto_passwd', ['-c', '-b', passwords, 'site-s1', 'right'], { stdio: 'ignore' });
    const guarded = await startTestBroker(dir, { extraLines: [`password_file ${passwords}`] });
    cleanups.add(() => guarded.stop());
    await writeFile(join(dir, 'password'), 'wrong\n');
    const mqtt = {
      ...down.config.mqtt,
      url: guarded.url,
      username: 'site-s1',
      password: { file: join(dir, 'password') },
    };
    const refusedConfig = await writeConfig(dir, { ...down.config, mqtt }, 'refused.yaml');
    // Without --login only TCP is tried, and the broker takes that.
    const reached = await doctor(refusedConfig);
    expect(reached.check('broker')).toMatchObject({ status: 'ok', loginTried: false });
    expect(reached.check('broker').detail).toMatch(/MQTT login not tried: add --login, with the agent stopped/);
    const refused = await doctor(refusedConfig, ['--login']);
    expect(refused.exitCode).toBe(1);
    expect(refused.check('broker')).toMatchObject({
      status: 'fail',
      code: 'MQTT_REFUSED',
      details: { reason: 'connack', reasonCode: 135 },
    });
    expect(refused.check('broker').detail).toMatch(/Not authorized/);
  });
});

describe('cellwatch doctor on a broken installation', () => {
  it('fails a buffer of garbage bytes with STORAGE_CORRUPT and leaves it exactly as it was', async () => {
    const dir = await scratch();
    const install = await scratchInstall(dir, 'embedded');
    await mkdir(install.stateDir, { recursive: true });
    await writeFile(install.dbPath, randomBytes(64 * 1024));
    const before = await snapshot(install.stateDir);

    const result = await doctor(install.configPath);
    expect(await snapshot(install.stateDir)).toEqual(before);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/DOCTOR_FAILED: 1 of 8 checks failed: database \(STORAGE_CORRUPT\)/);
    expect(result.check('database')).toMatchObject({ status: 'fail', code: 'STORAGE_CORRUPT', sizeBytes: 65536 });
    expect(result.check('database').detail).toMatch(/is damaged \(SQLITE_NOTADB: file is not a database\)/);
    expect(result.check('broker').status).toBe('warn');
    expect(result.check('broker').detail).toMatch(/^embedded demo broker/);
    expect(result.check('models').status).toBe('ok');
    expectHostChecksRan(result.check);
  });

  it('fails an invalid configuration with CONFIG_INVALID, naming every bad key, and skips what needs it', async () => {
    const dir = await scratch();
    const install = await scratchInstall(dir, 'embedded', (c) => ({
      ...c,
      storage: { ...c.storage, maxMb: -1 },
      bogus: true,
    }));
    const result = await doctor(install.configPath);
    expect(result.exitCode).toBe(1);
    const config = result.check('config');
    expect(config).toMatchObject({ status: 'fail', code: 'CONFIG_INVALID' });
    expect(config.detail).toMatch(/^invalid configuration: .*\/storage\/maxMb: must be > 0/);
    expect(config.detail).toMatch(/\/bogus: is not a known key/);
    expect((config.details as { problems: unknown[] }).problems).toHaveLength(2);
    for (const name of ['database', 'models', 'broker', 'disk']) expect(result.check(name).status).toBe('skip');
    expectHostChecksRan(result.check);
    expect(result.stderr).toMatch(/DOCTOR_FAILED: 1 of 8 checks failed: config \(CONFIG_INVALID\)/);
  });
});
