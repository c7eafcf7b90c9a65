import type { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import { checkConfiguration } from '../agent/check.js';
import { createLogger } from '../agent/logger.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readSecrets } from '../config/secrets.js';
import { embeddedAddress, startEmbeddedBroker, type EmbeddedBroker } from '../report/embedded-broker.js';
import { ServiceNotifier } from '../service/sd-notify.js';
import { WatchdogFeeder } from '../service/watchdog.js';
import { EXIT } from './output.js';

/**
 * Readiness waits this long for the broker: a site whose uplink is down at boot still starts (it buffers and
 * scores), and says so in its status, instead of failing its start and being restarted in a loop.
 */
const READY_BROKER_WAIT_MS = 30_000;

interface RunFlags {
  config: string;
  check?: boolean;
  untilSourcesEnd?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent: sample, buffer, score and report over MQTT until SIGTERM')
    .requiredOption('--config <file>', 'YAML configuration (see deploy/cellwatch.example.yaml)')
    .option('--check', 'validate the configuration and its secrets, then exit')
    .option('--until-sources-end', 'stop (draining as on SIGTERM) once every replayed file has ended')
    .action(async (flags: RunFlags) => {
      const config = await loadConfig(flags.config);
      const secrets = await readSecrets(config);
      if (flags.check) {
        const lines = await checkConfiguration(config, secrets);
        console.log(`configuration ${flags.config} is valid: site ${config.site}`);
        for (const line of lines) console.log(`  ${line}`);
        return;
      }
      process.exitCode = await runAgent(config, secrets, flags.untilSourcesEnd ?? false);
    });
}

/** Run until a signal (or the end of every source), then drain; resolves to the exit code. */
async function runAgent(config: Config, secrets: Awaited<ReturnType<typeof readSecrets>>, untilEnd: boolean) {
  const log = createLogger(config.logLevel, config.site);
  let broker: EmbeddedBroker | undefined;
  const embedded = embeddedAddress(config.mqtt.url);
  if (embedded) {
    broker = await startEmbeddedBroker(embedded.host, embedded.port);
    log.warn({ url: broker.url }, 'embedded broker started (demo use only)');
    // aedes speaks MQTT 3.1.1 only.
    config = { ...config, mqtt: { ...config.mqtt, url: broker.url, protocolVersion: 4 } };
  }

  const notifier = ServiceNotifier.fromEnvironment(log);
  const agent = new Agent(config, secrets, log);
  // Signals are taken from the start, so a SIGTERM while models load still ends in a clean stop.
  let signalled: ((reason: string) => void) | undefined;
  const early = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (signal: string) => signalled?.(signal);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  let timer: NodeJS.Timeout | undefined;
  try {
    await agent.start();
  } catch (err) {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await agent.stop(false).catch(() => undefined);
    await broker?.close();
    throw err;
  }
  const ended = new Promise<string>((resolve) => {
    if (!untilEnd) return;
    timer = setInterval(() => {
      if (agent.sourcesEnded()) resolve('sources ended');
    }, 250);
  });
  const stopped = Promise.race([early, ended]).finally(() => clearInterval(timer));

  const ready = await brokerOrTimeout(agent, stopped);
  await notifier.ready(agent.statusLine());
  log.info({ broker: ready ? 'connected' : 'unreachable', notified: notifier.enabled }, 'ready');
  const watchdog = new WatchdogFeeder(
    notifier,
    (nowMs) => agent.liveness(nowMs),
    log,
    () => agent.statusLine(),
  );
  watchdog.start();

  const reason = await stopped;
  log.info({ reason }, 'stopping');
  watchdog.stop();
  await notifier.stopping('draining the outbox');
  // A second signal while draining means "now": exit without waiting for the outbox.
  const force = () => process.exit(EXIT.failure);
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await agent.stop();
  await broker?.close();
  notifier.close();
  return EXIT.ok;
}

/** Resolves true once the agent is connected, false after READY_BROKER_WAIT_MS or on a signal. */
async function brokerOrTimeout(agent: Agent, signalled: Promise<string>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const connected = new Promise<boolean>((resolve) => {
    const check = () => (agent.brokerConnected ? resolve(true) : (poll = setTimeout(check, 100)));
    check();
  });
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_BROKER_WAIT_MS)));
  try {
    return await Promise.race([connected, timeout, signalled.then(() => false)]);
  } finally {
    clearTimeout(timer);
    clearTimeout(poll);
  }
}
