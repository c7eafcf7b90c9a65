import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { scratchDir } from '../helpers.js';
import { startTestBroker, subscriber } from './broker.js';
import { Cleanups, until, writeConfig, type Daemon } from './daemon.js';
import { HOUR_MS, siteConfig, siteCsv, writeModel } from './fixture.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function scratch() {
  const { dir, cleanup } = await scratchDir();
  cleanups.add(cleanup);
  return dir;
}

function run(configPath: string, args: string[] = []): Daemon {
  return cleanups.daemon(configPath, args);
}

describe('cellwatch run with bad configuration', () => {
  it('names every bad key with its path and line, and exits 78', async () => {
    const dir = await scratch();
    const path = join(dir, 'bad.yaml');
    await writeFile(
      path,
      [
        'site: S1',
        'pipelines:',
        '  - name: cells',
        '    source: {type: file, pth: data.csv}',
        '    entity: {columns: [site]}',
        '    model: m.onnx',
        'storage: {path: state/db}',
        'mqtt: {url: "mqtt://127.0.0.1:1", keepaliveS: soon}',
        'alarms: {openFlag: 3}',
      ].join('\n'),
    );
    const result = await runCli(['run', '--config', path]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('error CONFIG_INVALID');
    expect(result.stderr).toContain('/pipelines/0/source/path: is required');
    expect(result.stderr).toContain('/pipelines/0/source/pth: is not a known key');
    expect(result.stderr).toContain('/mqtt/keepaliveS: must be integer');
    expect(result.stderr).toContain('/alarms/openFlag: is not a known key');
    expect(result.stderr).toContain('"line":9');
  });

  it('refuses a missing secret without printing any secret, and exits 78', async () => {
    const dir = await scratch();
    const config = siteConfig(dir, 'm.onnx', 'data.csv', 'mqtt://127.0.0.1:1');
    const path = await writeConfig(dir, { ...config, mqtt: { ...config.mqtt, password: { env: 'CW_NO_SUCH_VAR' } } });
    const result = await runCli(['run', '--config', path]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('error CONFIG_SECRET: environment variable CW_NO_SUCH_VAR');
  });

  it('exits 4 with MODEL_READ when the model file is not a model, with or without --until-sources-end', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'data.csv'), siteCsv({ startMs: 0, hours: 2 }));
    await writeFile(join(dir, 'm.onnx'), 'not a model');
    const path = await writeConfig(dir, siteConfig(dir, join(dir, 'm.onnx'), join(dir, 'data.csv'), 'mqtt://x:1'));
    for (const args of [[], ['--until-sources-end'], ['--check']]) {
      const result = await runCli(['run', '--config', path, ...args]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('error MODEL_READ');
    }
  });

  it('refuses a model path that is a device or a folder with MODEL_READ instead of reading it', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'data.csv'), siteCsv({ startMs: 0, hours: 2 }));
    // /dev/zero never ends: read whole, it took every byte of memory the machine had.
    for (const model of ['/dev/zero', dir]) {
      const path = await writeConfig(dir, siteConfig(dir, model, join(dir, 'data.csv'), 'mqtt://x:1'));
      for (const args of [[], ['--check']]) {
        const result = await runCli(['run', '--config', path, ...args]);
        expect(result.code).toBe(4);
        expect(result.stderr).toContain(`error MODEL_READ: cannot read model file ${model}: not a regular file`);
      }
    }
  });

  it('refuses a configuration, secret or TLS file that is a device, with its code, without reading it', async () => {
    const dir = await scratch();
    const asConfig = await runCli(['run', '--config', '/dev/zero', '--check']);
    expect(asConfig.code).toBe(78);
    expect(asConfig.stderr).toContain('error CONFIG_READ: cannot read the configuration: /dev/zero is not a regular');
    const config = siteConfig(dir, await writeModel(dir), 'data.csv', 'mqtts://x:1');
    const secret = { ...config, mqtt: { ...config.mqtt, password: { file: '/dev/zero' } } };
    const asSecret = await runCli(['run', '--config', await writeConfig(dir, secret, 'secret.yaml'), '--check']);
    expect(asSecret.code).toBe(78);
    expect(asSecret.stderr).toContain('error CONFIG_SECRET: secret file for /mqtt/password cannot be read (ENOTFILE)');
    await writeFile(join(dir, 'long-password'), 'x'.repeat(70_000));
    const long = { ...config, mqtt: { ...config.mqtt, password: { file: join(dir, 'long-password') } } };
    const asLong = await runCli(['run', '--config', await writeConfig(dir, long, 'long.yaml'), '--check']);
    expect(asLong.code).toBe(78);
    expect(asLong.stderr).toContain('error CONFIG_SECRET: /mqtt/password is 70000 bytes; MQTT allows 65535');
    const tls = { ...config, mqtt: { ...config.mqtt, tls: { ca: '/dev/urandom' } } };
    const asCa = await runCli(['run', '--config', await writeConfig(dir, tls, 'tls.yaml'), '--check']);
    expect(asCa.code).toBe(78);
    expect(asCa.stderr).toContain('error CONFIG_READ: /mqtt/tls/ca: cannot read /dev/urandom (ENOTFILE)');
  });

  it('--check loads each model and reads the TLS files without starting anything', async () => {
    const dir = await scratch();
    const model = await writeModel(dir);
    const config = siteConfig(dir, model, join(dir, 'absent.csv'), 'mqtt://x:1');
    const good = await runCli(['run', '--config', await writeConfig(dir, config), '--check']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('pipeline cells: file source, model test-model@1, 3 KPIs');

    const tls = { ...config, mqtt: { ...config.mqtt, tls: { ca: 'no-such-ca.pem' } } };
    const bad = await runCli(['run', '--config', await writeConfig(dir, tls, 'tls.yaml'), '--check']);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('error CONFIG_READ: /mqtt/tls/ca: cannot read');
  });
});

describe('cellwatch run with bad rows and commands', () => {
  it('reports each bad row with its line, counts it in health, and scores the rest', async () => {
    const dir = await scratch();
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const model = await writeModel(dir);
    const lines = siteCsv({ startMs: Date.UTC(2026, 1, 2), hours: 10 }).split('\n');
    lines[3] = lines[3]?.replace(/,[^,]*$/, ',abc') ?? '';
    lines[5] = 'yesterday,S1,1,0,0,0';
    lines[7] = 'too,few';
    await writeFile(join(dir, 'data.csv'), lines.join('\n'));
    const central = await subscriber(broker.url, 'cw/S1/#');
    cleanups.add(() => central.client.endAsync(true));
    const path = await writeConfig(dir, siteConfig(dir, model, join(dir, 'data.csv'), broker.url));

    const daemon = run(path, ['--until-sources-end']);
    expect(await daemon.exited).toBe(0);
    const issues = daemon.logs
      .filter((l) => l.msg === 'source issue')
      .map((l) => `${String(l.code)}@${String(l.line)}`);
    expect(issues).toEqual(['INPUT_VALUE@4', 'INPUT_TIMESTAMP@6', 'INPUT_FIELD_COUNT@8']);
    await until(() => central.received.some((m) => m.topic === 'cw/S1/status' && m.body.state === 'offline'));
    const health = central.received.filter((m) => m.topic === 'cw/S1/health').at(-1)?.body;
    expect(health?.errors).toEqual({ INPUT_FIELD_COUNT: 1, INPUT_TIMESTAMP: 1, INPUT_VALUE: 1 });
    const summaries = central.received.filter((m) => m.topic === 'cw/S1/summary').map((m) => m.body);
    // 20 rows, two dropped whole; the row with one bad cell is kept with that reading missing.
    expect(summaries.reduce((n, s) => n + (s.rowsIn as number), 0)).toBe(18);
  });

  it('silences incidents of an entity put in maintenance over MQTT, while still scoring its rows', async () => {
    const dir = await scratch();
    const broker = await startTestBroker(dir);
    cleanups.add(() => broker.stop());
    const model = await writeModel(dir);
    const startMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 40 * HOUR_MS;
    const rows = {
      startMs,
      hours: 30,
      anomalies: { '1': [20, 25] as [number, number], '2': [20, 25] as [number, number] },
    };
    const data = join(dir, 'data.csv');
    await writeFile(data, siteCsv({ ...rows, hours: 15 }));
    const central = await subscriber(broker.url, 'cw/S1/#');
    cleanups.add(() => central.client.endAsync(true));
    const path = await writeConfig(dir, siteConfig(dir, model, data, broker.url, { mode: 'follow', pollMs: 100 }));

    const daemon = run(path);
    await daemon.waitForLog((l) => l.msg === 'mqtt subscribed');
    const operator = await mqtt.connectAsync(broker.url, { clientId: 'operator' });
    cleanups.add(() => operator.endAsync(true));
    const command = { action: 'start', entity: 'S1/2', start: new Date(startMs).toISOString(), durationMinutes: 3000 };
    await operator.publishAsync('cw/S1/command/maintenance', JSON.stringify(command), { qos: 1 });
    await operator.publishAsync('cw/S1/command/reboot', '{}', { qos: 1 });
    await operator.publishAsync('cw/S1/command/maintenance', JSON.stringify(command), { qos: 1, retain: true });
    await until(() => central.received.filter((m) => m.topic === 'cw/S1/event').length >= 3);

    await appendFile(data, siteCsv(rows, 15));
    await daemon.waitForLog((l) => l.msg === 'incident' && l.event === 'close');
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);

    const events = central.received.filter((m) => m.topic === 'cw/S1/event').map((m) => m.body);
    // A retained command reaches a connected agent as a live one (MQTT clears the flag), and is applied.
    expect(events.map((e) => e.event)).toEqual(['maintenance_started', 'command_rejected', 'maintenance_started']);
    expect(events[1]?.message).toBe('unknown command "reboot"');
    const incidents = central.received.filter((m) => m.topic === 'cw/S1/anomaly').map((m) => m.body);
    expect(incidents.map((m) => `${String(m.event)} ${(m.incident as { entity: string }).entity}`)).toEqual([
      'open S1/1',
      'close S1/1',
    ]);
    const health = central.received.filter((m) => m.topic === 'cw/S1/health').at(-1)?.body;
    expect((health?.alarms as { silenced: number }).silenced).toBe(1);
    expect((health?.pipelines as { rowsScored: number }[])[0]?.rowsScored).toBe(58);

    // On the next connection the broker hands the retained command over again, flagged: it is refused.
    const again = run(path);
    await again.waitForLog((l) => l.msg === 'command rejected');
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    const rejected = again.logs.find((l) => l.msg === 'command rejected');
    expect(rejected?.reason).toBe('retained commands are ignored: publish commands without the retain flag');
  });
});
