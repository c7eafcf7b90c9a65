/**
 * The whole agent taking one large PM file while it holds an MQTT connection: mosquitto on a free port,
 * logging connections, and `cellwatch run` from dist/ with the smallest keepalive the schema allows. The
 * broker drops a client it hears nothing from for 1.5 × keepalive; its log says so ("Client ... has exceeded
 * timeout"), which is what this run looks for, together with the agent's own loop figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { freePort } from '../../test/agent/broker.js';
import type { LoopFigures } from './loop-probe.js';

/** The schema's minimum (src/config/schema.ts): the broker gives up after 7.5 s of silence. */
const KEEPALIVE_S = 5;
const CLIENT_ID = 'bench-pm-agent';
const MOSQUITTO = '/usr/sbin/mosquitto';
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./daemon-probe.ts', import.meta.url));

export interface DaemonFigures {
  keepaliveS: number;
  importMs: number;
  storedRows: number;
  loop: LoopFigures;
  /** Times mosquitto saw the agent connect: 1 when the connection held. */
  connects: number;
  /** mosquitto's log lines about a client that exceeded its keepalive. */
  timeouts: string[];
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startMosquitto(dir: string, port: number): Promise<{ child: ChildProcess; logPath: string }> {
  if (!existsSync(MOSQUITTO)) throw new Error(`--daemon needs mosquitto at ${MOSQUITTO}`);
  const logPath = join(dir, 'mosquitto.log');
  const conf = join(dir, 'mosquitto.conf');
  // Started as root, mosquitto switches to its own user, which cannot write to our scratch folder.
  const user = process.getuid?.() === 0 ? 'root' : userInfo().username;
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${user}`, `log_dest file ${logPath}`];
  lines.push('log_type error', 'log_type warning', 'log_type notice', 'log_type information');
  await writeFile(conf, [...lines, 'connection_messages true', ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  await until('mosquitto', async () => (await readFile(logPath, 'utf8').catch(() => '')).includes('listen'), 10_000);
  return { child, logPath };
}

function agentConfig(dir: string, drop: string, port: number, features: string[]): object {
  return {
    site: 'S1',
    pipelines: [
      {
        name: 'cells',
        source: { type: 'pm', path: drop, pollMs: 200 },
        entity: { columns: ['site', 'cell'] },
        features,
        intervalS: 900,
      },
    ],
    storage: { path: join(dir, 'state', 'cellwatch.db') },
    // Health and summaries on their defaults (minutes apart): only PINGREQs keep the connection alive.
    mqtt: { url: `mqtt://127.0.0.1:${port}`, clientId: CLIENT_ID, keepaliveS: KEEPALIVE_S, topicPrefix: 'cw' },
    logLevel: 'info',
  };
}

/** Run the agent, drop `file` into its folder, and report what the agent and the broker saw. */
export async function runDaemon(file: string, dir: string, features: string[]): Promise<DaemonFigures> {
  if (!existsSync(MAIN)) throw new Error('--daemon needs a build: npm run build');
  const drop = join(dir, 'drop');
  await mkdir(drop);
  const port = await freePort();
  const broker = await startMosquitto(dir, port);
  const configPath = join(dir, 'cellwatch.yaml');
  await writeFile(configPath, stringify(agentConfig(dir, drop, port, features)));

  const loopFile = join(dir, 'loop.json');
  const agent = spawn(process.execPath, ['--import', 'tsx', '--import', PROBE, MAIN, 'run', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CELLWATCH_BENCH_LOOP_FILE: loopFile },
  });
  let log = '';
  agent.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    await until('the agent to connect', () => log.includes('"mqtt connected"') && log.includes('"pipeline started"'));
    await sleep(1_000);

    agent.kill('SIGUSR2');
    await sleep(200);
    const startedMs = performance.now();
    await rename(file, join(drop, basename(file)));
    await until('the file in done/', async () => (await readdir(join(drop, 'done')).catch(() => [])).length > 0);
    const importMs = performance.now() - startedMs;
    // Long enough for the broker to judge the keepalive over the stretch that followed the import as well.
    await sleep(1.5 * KEEPALIVE_S * 1000 + 1_000);
    agent.kill('SIGUSR2');
    await until('the loop figures', () => existsSync(loopFile), 10_000);

    agent.kill('SIGTERM');
    await exited(agent);
    const db = new Database(join(dir, 'state', 'cellwatch.db'), { readonly: true });
    const storedRows = db.prepare<[], number>('SELECT count(*) FROM samples').pluck().get() ?? 0;
    db.close();

    const brokerLog = (await readFile(broker.logPath, 'utf8')).split('\n');
    return {
      keepaliveS: KEEPALIVE_S,
      importMs,
      storedRows,
      loop: JSON.parse(await readFile(loopFile, 'utf8')) as LoopFigures,
      connects: brokerLog.filter((l) => l.includes('New client connected') && l.includes(CLIENT_ID)).length,
      timeouts: brokerLog.filter((l) => l.includes('exceeded timeout')),
    };
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    broker.child.kill('SIGTERM');
    await exited(broker.child);
  }
}
