import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { PmSourceConfig } from '../../src/config/schema.js';
import { readSecrets } from '../../src/config/secrets.js';
import { KpiFormulas } from '../../src/sources/pm/kpi-formulas.js';
import { rejection, scratchDir, thrown } from '../helpers.js';

const MINIMAL = `
site: S1
pipelines:
  - name: cells
    source: {type: file, path: data/cells.csv}
    entity: {columns: [site, sector]}
    model: models/m.onnx
storage: {path: state/cw.db}
mqtt: {url: "mqtt://127.0.0.1:1883"}
`;

describe('configuration', () => {
  it('accepts the annotated example in deploy/', async () => {
    const text = await readFile(new URL('../../deploy/cellwatch.example.yaml', import.meta.url), 'utf8');
    const config = parseConfig(text, '/etc/cellwatch');
    expect(config.site).toBe('SITE-042');
    expect(config.pipelines.map((p) => p.source.type)).toEqual(['file', 'pm', 'system']);
    // The PM pipeline's formulas compile against its features, as at the agent's start, and give the KPIs.
    const radio = config.pipelines[1]!;
    const source = radio.source as PmSourceConfig;
    const formulas = new KpiFormulas(radio.features ?? [], source.kpis);
    const counters = new Map(
      Object.entries({
        'RRC.ConnEstabSucc.mo-Data': 90,
        'RRC.ConnEstabSucc.mt-Access': 8,
        'RRC.ConnEstabAtt.mo-Data': 95,
        'RRC.ConnEstabAtt.mt-Access': 5,
        'VS.CPU.Load.Mean': 41,
        'DRB.UEThpDl': 52_000,
      }).map(([name, value]) => [name, { value, suspect: false }]),
    );
    const { values } = formulas.evaluate(counters);
    const kpi = (name: string) => values[(radio.features ?? []).indexOf(name)];
    expect([kpi('rrc_setup_success_pct'), kpi('cpu_load_pct'), kpi('dl_throughput_mbps')]).toEqual([98, 41, 52]);
    expect(kpi('ho_success_pct')).toBeNaN();
    expect(config.maintenance[0]?.entity).toBe('SITE-042/2');
  });

  it('fills every default, resolves paths against the file and freezes the result', () => {
    const config = parseConfig(MINIMAL, '/srv/site');
    expect(config.storage).toEqual({ path: '/srv/site/state/cw.db', retentionHours: 720, maxMb: 1024 });
    expect(config.pipelines[0]?.model).toBe('/srv/site/models/m.onnx');
    expect(config.pipelines[0]?.source).toEqual({
      type: 'file',
      path: '/srv/site/data/cells.csv',
      mode: 'follow',
      speed: 1,
      timestampColumn: 'timestamp',
      fromEnd: false,
      pollMs: 1000,
    });
    expect(config.alarms.openFlags).toBe(3);
    expect(config.mqtt.outbox).toEqual({ maxMessages: 100_000, maxMb: 64 });
    expect(Object.isFrozen(config.pipelines[0]?.entity.columns)).toBe(true);
  });

  it('reports every problem at once, each with its key path and line', () => {
    const text = MINIMAL.replace('path: data/cells.csv', 'path: data/cells.csv, mode: tail')
      .replace('{type: file', '{type: file')
      .concat('alarms: {openFlags: 9, windowRows: 4}\nsumary: {}\n');
    const err = thrown(() => parseConfig(text, '/'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details.problems).toEqual([
      { path: '/pipelines/0/source/mode', message: 'must be one of: follow, replay, directory', line: 5 },
      { path: '/sumary', message: 'is not a known key', line: 11 },
    ]);
  });

  it('names an unknown source type, and rules the schema cannot state', () => {
    const unknown = thrown(() => parseConfig(MINIMAL.replace('type: file', 'type: snmp'), '/'));
    expect(unknown.details.problems).toEqual([
      { path: '/pipelines/0/source/type', message: 'must be one of: system, file, pm', line: 5 },
    ]);
    const order = thrown(() => parseConfig(`${MINIMAL}alarms: {openFlags: 9, windowRows: 4}\n`, '/'));
    expect(order.details.problems).toEqual([{ path: '/alarms/openFlags', message: 'must be at most windowRows' }]);
  });

  it('refuses broker URLs it cannot use without repeating them (they may hold a password)', () => {
    for (const url of ['bob:hunter2@127.0.0.1:1883', 'http://bob:hunter2@h', 'mqtt://bob:hunter2@[::1']) {
      const err = thrown(() => parseConfig(MINIMAL.replace('"mqtt://127.0.0.1:1883"', `"${url}"`), '/'));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(JSON.stringify(err)).not.toContain('hunter2');
      expect((err.details.problems as { path: string }[])[0]?.path).toBe('/mqtt/url');
    }
  });

  it('refuses a $ topic prefix and intervals a timer cannot hold', () => {
    const text = MINIMAL.replace(
      'mqtt: {url: "mqtt://127.0.0.1:1883"}',
      'mqtt: {url: "mqtt://h", topicPrefix: $SYS}',
    ).concat('summary: {intervalMinutes: 43200}\nhealth: {intervalS: 3000000}\n');
    const paths = (thrown(() => parseConfig(text, '/')).details.problems as { path: string }[]).map((p) => p.path);
    expect(paths).toEqual(['/mqtt/topicPrefix', '/summary/intervalMinutes', '/health/intervalS']);
  });

  it('reports an alias to nothing as a YAML error', () => {
    expect(thrown(() => parseConfig('site: *nothing\n', '/')).code).toBe('CONFIG_YAML');
  });

  it('reports YAML syntax errors with their line', () => {
    const err = thrown(() => parseConfig('site: S1\npipelines: [\n', '/'));
    expect(err.code).toBe('CONFIG_YAML');
    expect(err.details.line).toBeGreaterThanOrEqual(2);
  });

  it('reads secrets from files (without the trailing newline) and the environment, never into the config', async () => {
    const { dir, cleanup } = await scratchDir();
    try {
      await writeFile(join(dir, 'pw'), 's3cret\n');
      const text = MINIMAL.replace(
        'mqtt: {url: "mqtt://127.0.0.1:1883"}',
        'mqtt:\n  url: mqtt://h\n  password: {file: pw}\n  tls: {key: {env: CW_TEST_KEY}}',
      );
      await writeFile(join(dir, 'c.yaml'), text);
      const config = await loadConfig(join(dir, 'c.yaml'));
      process.env.CW_TEST_KEY = 'KEY';
      expect(await readSecrets(config)).toEqual({ mqttPassword: 's3cret', tlsKey: 'KEY' });
      expect(JSON.stringify(config)).not.toContain('s3cret');
      delete process.env.CW_TEST_KEY;
      expect((await rejection(() => readSecrets(config))).code).toBe('CONFIG_SECRET');
      await writeFile(join(dir, 'pw'), '');
      process.env.CW_TEST_KEY = 'KEY';
      expect((await rejection(() => readSecrets(config))).message).toBe('secret for /mqtt/password is empty');
    } finally {
      delete process.env.CW_TEST_KEY;
      await cleanup();
    }
  });

  it('refuses a missing file with CONFIG_READ', async () => {
    expect((await rejection(() => loadConfig('/nonexistent/cellwatch.yaml'))).code).toBe('CONFIG_READ');
  });
});
