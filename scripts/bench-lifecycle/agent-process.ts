/**
 * The built agent (dist/) as its own process against a broker, with what a benchmark needs from outside:
 * its resident memory from /proc, its log lines, and the model/result and model/state messages it publishes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  central: MqttClient;
  results: Record<string, unknown>[];
  log: () => string;
  /** Resident and peak resident memory of the agent process, MiB. */
  memory(): Promise<{ rssMb: number; hwmMb: number }>;
  stop(): Promise<void>;
}

export async function until(what: string, check: () => boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startAgent(dir: string, config: Record<string, unknown>, url: string): Promise<AgentProcess> {
  if (!existsSync(MAIN)) throw new Error('this benchmark runs the built agent: npm run build');
  const configPath = join(dir, 'cellwatch.yaml');
  await writeFile(configPath, stringify(config));
  const central = await mqtt.connectAsync(url, { clientId: `bench-central-${process.pid}` });
  const results: Record<string, unknown>[] = [];
  central.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString()) as Record<string, unknown>));
  await central.subscribeAsync(`cw/${String(config.site)}/model/result`, { qos: 1 });

  const child = spawn(process.execPath, [MAIN, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  await until('the agent to start', () => log.includes('"agent started"') || child.exitCode !== null, 60_000);
  if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}:\n${log}`);
  return {
    child,
    central,
    results,
    log: () => log,
    memory: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await central.endAsync();
    },
  };
}
