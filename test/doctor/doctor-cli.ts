import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { writeConfig } from '../agent/daemon.js';
import { siteConfig, siteCsv, writeModel } from '../agent/fixture.js';
import { runCli } from '../cli/run-cli.js';

/** One check of `cellwatch doctor --json`, with its figures. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  code?: string;
  [figure: string]: unknown;
}

export interface DoctorRun {
  exitCode: number;
  stderr: string;
  status: string;
  checks: DoctorCheck[];
  /** The check of that name; fails the test when it is missing. */
  check: (name: string) => DoctorCheck;
}

export const CHECK_NAMES = ['config', 'database', 'models', 'broker', 'clock', 'disk', 'runtime', 'native'];

/** `cellwatch doctor --json` as its own process; the report must be JSON and hold every check, in order. */
export async function doctor(configPath: string, args: string[] = []): Promise<DoctorRun> {
  const { code, stdout, stderr } = await runCli(['doctor', '--config', configPath, '--json', ...args]);
  let report: { status: string; checks: DoctorCheck[] };
  try {
    report = JSON.parse(stdout) as typeof report;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${code}): ${stdout}\n${stderr}`);
  }
  expect(report.checks.map((c) => c.name)).toEqual(CHECK_NAMES);
  return {
    exitCode: code,
    stderr,
    status: report.status,
    checks: report.checks,
    check: (name) => {
      const found = report.checks.find((c) => c.name === name);
      if (!found) throw new Error(`no ${name} check in ${stdout}`);
      return found;
    },
  };
}

/** Every file under dir with its size, modification time and SHA-256: what "doctor changed nothing" compares. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      const info = await stat(path);
      const sha = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      files[relative(dir, path)] = `${info.size} ${info.mtimeMs} ${info.mode.toString(8)} ${sha}`;
    }
  };
  await walk(dir);
  return files;
}

export interface ScratchInstall {
  configPath: string;
  /** The folder of the buffer and the models store. */
  stateDir: string;
  dbPath: string;
  config: ReturnType<typeof siteConfig>;
}

/**
 * A small installation in dir: a real model, five hours of rows for two sectors, and a configuration for it.
 * The buffer limit is small, so the disk check's need (and its verdict) does not depend on the test machine.
 */
export async function scratchInstall(
  dir: string,
  url: string,
  change: (config: ReturnType<typeof siteConfig>) => object = (c) => c,
): Promise<ScratchInstall> {
  const model = await writeModel(dir);
  await writeFile(join(dir, 'data.csv'), siteCsv({ startMs: Date.UTC(2026, 1, 2), hours: 5 }));
  const base = siteConfig(dir, model, join(dir, 'data.csv'), url, { mode: 'follow' });
  const config = { ...base, storage: { ...base.storage, maxMb: 16 } };
  const stateDir = join(dir, 'state');
  const configPath = await writeConfig(dir, change(config));
  return { configPath, stateDir, dbPath: config.storage.path, config };
}
