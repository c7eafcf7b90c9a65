import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { CellwatchError } from '../errors.js';
import { FLEET } from '../report/topics.js';
import { AUTO_MODEL, ConfigSchema, type Config } from './schema.js';
import { readBoundedFile } from '../io/bounded-read.js';

/** Far above any real configuration; a larger file is a wrong path. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** One problem with the configuration, located by its key path (JSON pointer) and, when known, its line. */
export interface ConfigProblem {
  path: string;
  message: string;
  line?: number;
}

// useDefaults fills every omitted key that has a default, so the rest of the agent reads one complete object.
const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, discriminator: true });
const validateConfig = ajv.compile<Config>(ConfigSchema);

/** Read, parse and validate a YAML configuration file; paths inside it are taken relative to its folder. */
export async function loadConfig(path: string): Promise<Readonly<Config>> {
  let text: string;
  try {
    text = (await readBoundedFile(path, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (err) {
    throw new CellwatchError('CONFIG_READ', `cannot read the configuration: ${(err as Error).message}`, { path });
  }
  return parseConfig(text, dirname(resolve(path)));
}

/** Parse and validate configuration text; every problem is reported at once, each with its key path. */
export function parseConfig(text: string, baseDir: string): Readonly<Config> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const line = first ? lineCounter.linePos(first.pos[0]).line : undefined;
    throw new CellwatchError('CONFIG_YAML', `not valid YAML: ${first?.message.split('\n')[0] ?? 'parse error'}`, {
      line,
    });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias to nothing, or an alias bomb: the YAML library refuses to expand it.
    throw new CellwatchError('CONFIG_YAML', `not valid YAML: ${(err as Error).message.split('\n')[0]}`, {});
  }
  if (!validateConfig(data)) {
    const problems = describeErrors(validateConfig.errors ?? [], doc, lineCounter);
    const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    throw new CellwatchError('CONFIG_INVALID', `invalid configuration: ${summary}`, { problems });
  }
  checkConsistency(data);
  return deepFreeze(resolvePaths(data, baseDir));
}

/** Rules a schema cannot state: names that must be unique, ranges that must be ordered. */
function checkConsistency(config: Config): void {
  const problems: ConfigProblem[] = [];
  const names = config.pipelines.map((p) => p.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.push({ path: `/pipelines/${i}/name`, message: `repeats "${name}"` });
  });
  if (config.site === FLEET) problems.push({ path: '/site', message: `"${FLEET}" names every site in commands` });
  const urlProblem = checkBrokerUrl(config.mqtt.url);
  if (urlProblem) problems.push({ path: '/mqtt/url', message: urlProblem });
  if (config.mqtt.reconnectMaxMs < config.mqtt.reconnectMinMs) {
    problems.push({ path: '/mqtt/reconnectMaxMs', message: 'must be at least reconnectMinMs' });
  }
  if (config.alarms.openFlags > config.alarms.windowRows) {
    problems.push({ path: '/alarms/openFlags', message: 'must be at most windowRows' });
  }
  config.pipelines.forEach((p, i) => {
    if ((p.model === undefined || p.model === AUTO_MODEL) && p.features === undefined) {
      const message = 'is required when the pipeline has no model file (none, or model: auto)';
      problems.push({ path: `/pipelines/${i}/features`, message });
    }
  });
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    throw new CellwatchError('CONFIG_INVALID', `invalid configuration: ${summary}`, { problems });
  }
}

const BROKER_SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:', 'embedded:']);

/** What is wrong with a broker URL, in words that never repeat the URL (it may carry a password). */
function checkBrokerUrl(url: string): string | undefined {
  if (url === 'embedded') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL (mqtt://host:port, mqtts://, ws://, wss:// or embedded)';
  }
  if (!BROKER_SCHEMES.has(parsed.protocol)) return `scheme ${parsed.protocol} is not one of mqtt, mqtts, ws, wss`;
  if (!parsed.hostname) return 'has no host';
  return undefined;
}

/** Turn Ajv's errors into one line per problem, each with its key path and line. */
function describeErrors(errors: ErrorObject[], doc: Document, lines: LineCounter): ConfigProblem[] {
  const problems = new Map<string, ConfigProblem>();
  for (const error of errors) {
    let path = error.instancePath || '/';
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'additionalProperties') {
      path = joinPointer(error.instancePath, String(error.params.additionalProperty));
      message = 'is not a known key';
    } else if (error.keyword === 'required') {
      path = joinPointer(error.instancePath, String(error.params.missingProperty));
      message = 'is required';
    } else if (error.keyword === 'enum') {
      message = `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`;
    } else if (error.keyword === 'discriminator') {
      path = joinPointer(error.instancePath, 'type');
      message = 'must be one of: system, file, pm';
    }
    const key = `${path}|${message}`;
    if (!problems.has(key)) problems.set(key, { path, message, line: lineOf(path, doc, lines) });
  }
  return [...problems.values()].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path));
}

function joinPointer(base: string, key: string): string {
  return `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The line a key path starts on, walking up to the nearest key that exists in the file. */
function lineOf(pointer: string, doc: Document, lines: LineCounter): number | undefined {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
  for (let n = parts.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(parts.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}

/** File paths in the configuration are relative to the configuration's own folder, like most daemons'. */
function resolvePaths(config: Config, baseDir: string): Config {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const secret = <T extends { file: string } | { env: string }>(s: T): T =>
    'file' in s ? { ...s, file: at(s.file) } : s;
  const tls = config.mqtt.tls;
  return {
    ...config,
    storage: { ...config.storage, path: at(config.storage.path) },
    models: {
      ...config.models,
      dir: config.models.dir ? at(config.models.dir) : join(dirname(at(config.storage.path)), 'models'),
      trustedKeys: config.models.trustedKeys.map(at),
    },
    mqtt: {
      ...config.mqtt,
      password: config.mqtt.password && secret(config.mqtt.password),
      tls: tls && {
        ...tls,
        ca: tls.ca && at(tls.ca),
        cert: tls.cert && at(tls.cert),
        key: tls.key && secret(tls.key),
      },
    },
    pipelines: config.pipelines.map((p) => ({
      ...p,
      model: p.model && p.model !== AUTO_MODEL ? at(p.model) : p.model,
      source: p.source.type === 'system' ? p.source : { ...p.source, path: at(p.source.path) },
    })),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
