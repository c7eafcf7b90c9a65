import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * `cellwatch.pid` beside the buffer while the agent runs. Tools that must not disturb a running agent read it:
 * `cellwatch doctor` does not log in to the broker under the site's identity then, because a broker that
 * binds client ids to certificates would hand the site's session to the doctor and drop the agent.
 */
export function pidFilePath(storagePath: string): string {
  return join(dirname(storagePath), 'cellwatch.pid');
}

/** Readable by all: the service's umask (0077) would hide it from a doctor run by a member of its group. */
export function writePidFile(storagePath: string): void {
  const path = pidFilePath(storagePath);
  writeFileSync(path, `${process.pid}\n`);
  chmodSync(path, 0o644);
}

/** Removes the file only when it is this process's (a second agent on the same buffer must not erase it). */
export function removePidFile(storagePath: string): void {
  if (readPid(storagePath) === process.pid) rmSync(pidFilePath(storagePath), { force: true });
}

/**
 * The pid of the agent running on this buffer, or undefined. A file left by an agent that was killed names
 * a dead process, or one that reused its pid: only a live process whose command line is cellwatch's counts.
 */
export function runningAgentPid(storagePath: string): number | undefined {
  const pid = readPid(storagePath);
  if (pid === undefined) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((arg) => /cellwatch|[/\\]cli[/\\]main\.[jt]s$/.test(arg)) && cmdline.includes('run')
      ? pid
      : undefined;
  } catch {
    // No /proc (not Linux) or hidden: a live process named in the file is taken to be the agent.
    return pid;
  }
}

function readPid(storagePath: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFilePath(storagePath), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
