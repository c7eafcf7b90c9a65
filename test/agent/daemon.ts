import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Daemon {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number>;
  /** Resolves with the first log line (already written or to come) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Write a YAML config into dir and return its path. */
export async function writeConfig(dir: string, config: object, name = 'cellwatch.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, stringify(config));
  return path;
}

/** Node's arguments for `cellwatch run` from source. */
export function daemonArgs(configPath: string, extraArgs: string[] = []): string[] {
  return ['--import', 'tsx', MAIN, 'run', '--config', configPath, ...extraArgs];
}

/** `cellwatch run` as its own process, from source through tsx, exactly as a service manager starts it. */
export function startDaemon(configPath: string, extraArgs: string[] = [], env = process.env): Daemon {
  const child = spawn(process.execPath, daemonArgs(configPath, extraArgs), { stdio: ['ignore', 'pipe', 'pipe'], env });
  const logs: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.trim()) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let closed = false;
  child.once('close', () => (closed = true));
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : 1))),
  );
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const settle = () => {
          clearTimeout(timer);
          child.off('close', onClose);
          if (waiters.includes(waiter)) waiters.splice(waiters.indexOf(waiter), 1);
        };
        const waiter = {
          match,
          resolve: (line: Record<string, unknown>) => (settle(), resolve(line)),
        };
        // The last lines say where the daemon was when the wait gave up.
        const fail = (why: string) => {
          settle();
          const last = [...logs.slice(-8).map((l) => JSON.stringify(l)), stderr.slice(-2000)].join('\n');
          reject(new Error(`no matching log line: ${why}; its last lines:\n${last}`));
        };
        const timer = setTimeout(() => fail(`none in ${timeoutMs} ms`), timeoutMs);
        // 'close' comes after the last output: a daemon that has closed will never write the line.
        const onClose = () => fail(`the daemon exited (${child.exitCode ?? child.signalCode})`);
        waiters.push(waiter);
        if (closed) onClose();
        else child.once('close', onClose);
      });
    },
  };
}

/** Poll until check() is true. */
export async function until(check: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Clean-up steps a test registers as it goes, run newest first after it (register with afterEach). */
export class Cleanups {
  private steps: (() => Promise<unknown>)[] = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step().catch(() => undefined);
  }

  /** Start the daemon; a daemon still running when the test ends is killed. */
  daemon(configPath: string, args: string[] = []): Daemon {
    const daemon = startDaemon(configPath, args);
    this.add(async () => {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      await daemon.exited;
    });
    return daemon;
  }
}
