import type { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import { createLogger } from '../agent/logger.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readSecrets } from '../config/secrets.js';
import { embeddedAddress, startEmbeddedBroker, type EmbeddedBroker } from '../report/embedded-broker.js';
import { EXIT } from './output.js';

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
    .option('--until-sources-end', 'stop (draining as on SIGTERM) once every source has ended, e.g. a replay')
    .action(async (flags: RunFlags) => {
      const config = await loadConfig(flags.config);
      const secrets = await readSecrets(config);
      if (flags.check) {
        console.log(
          `configuration ${flags.config} is valid: site ${config.site}, ${config.pipelines.length} pipeline(s)`,
        );
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

  const agent = new Agent(config, secrets, log);
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (untilEnd) {
      const timer = setInterval(() => {
        if (agent.sourcesEnded()) {
          clearInterval(timer);
          resolve('sources ended');
        }
      }, 250);
    }
  });
  try {
    await agent.start();
  } catch (err) {
    await agent.stop(false).catch(() => undefined);
    await broker?.close();
    throw err;
  }

  const reason = await stopped;
  log.info({ reason }, 'stopping');
  // A second signal while draining means "now": exit without waiting for the outbox.
  const force = () => process.exit(EXIT.failure);
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await agent.stop();
  await broker?.close();
  return EXIT.ok;
}
