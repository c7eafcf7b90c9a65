import { checkConfiguration } from '../agent/check.js';
import { runningAgentPid } from '../agent/pid-file.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readSecrets, type Secrets } from '../config/secrets.js';
import { VERSION } from '../version.js';
import { checkBroker } from './broker-check.js';
import { checkDatabase } from './database-check.js';
import { checkDisk } from './disk-check.js';
import { checkClock, checkRuntime } from './host-check.js';
import { checkModels } from './model-check.js';
import { checkNativeModules } from './native-check.js';
import { failure, overall, result, type CheckName, type CheckResult, type DoctorReport } from './report.js';

/**
 * `cellwatch doctor`: every check of an installation, in a fixed order, each one run whatever the others
 * found, so one run shows everything a technician has to fix. Only the checks that read the configuration
 * wait for it: when it cannot be loaded they are skipped, not failed (the config check says why).
 */

export interface DoctorOptions {
  configPath: string;
  /** How long the broker has to accept the connection. */
  brokerTimeoutMs: number;
  /** Log in over MQTT as well; otherwise the broker is checked up to the end of the TLS handshake. */
  login: boolean;
}

interface ConfigOutcome {
  check: CheckResult;
  config?: Readonly<Config>;
  /** Undefined when a secret could not be read: the broker cannot be tried without it. */
  secrets?: Secrets;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { check, config, secrets } = await checkConfig(options.configPath);
  const checks: CheckResult[] = [check];
  const needsConfig = async (name: CheckName, run: (c: Readonly<Config>) => Promise<CheckResult>) => {
    checks.push(config ? await run(config) : result(name, 'skip', 'not checked: the configuration did not load'));
  };
  await needsConfig('database', checkDatabase);
  await needsConfig('models', checkModels);
  await needsConfig('broker', (c) =>
    secrets
      ? checkBroker(c, secrets, options, runningAgentPid(c.storage.path))
      : Promise.resolve(result('broker', 'skip', 'not tried: the secrets could not be read')),
  );
  checks.push(await checkClock());
  await needsConfig('disk', checkDisk);
  checks.push(...(await runtimeChecks()));
  return report(options.configPath, config?.site ?? null, checks);
}

/**
 * What needs no configuration: the Node.js that runs the release and its compiled modules. install.sh runs it
 * on a release before switching to it, so one that cannot load its modules here never becomes current.
 */
export async function runRuntimeDoctor(): Promise<DoctorReport> {
  return report(null, null, await runtimeChecks());
}

async function runtimeChecks(): Promise<CheckResult[]> {
  return [checkRuntime(), await checkNativeModules()];
}

function report(config: string | null, site: string | null, checks: CheckResult[]): DoctorReport {
  return { version: VERSION, config, site, checkedAt: new Date().toISOString(), status: overall(checks), checks };
}

/**
 * The configuration as `run --check` sees it: it loads and validates, its secrets can be read, and
 * checkConfiguration passes (TLS files, trusted keys, each configured model against its pipeline, PM rules).
 * A configuration that loads is returned even when a later step fails, so the other checks still run.
 */
async function checkConfig(path: string): Promise<ConfigOutcome> {
  let config: Readonly<Config>;
  try {
    config = await loadConfig(path);
  } catch (err) {
    return { check: failure('config', err, { path }) };
  }
  const figures = { path, site: config.site };
  let secrets: Secrets;
  try {
    secrets = await readSecrets(config);
  } catch (err) {
    return { check: failure('config', err, figures), config };
  }
  try {
    const pipelines = await checkConfiguration(config, secrets);
    const count = `${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'}`;
    return {
      check: result('config', 'ok', `${path} is valid: site ${config.site}, ${count}`, { ...figures, pipelines }),
      config,
      secrets,
    };
  } catch (err) {
    return { check: failure('config', err, figures), config, secrets };
  }
}
