import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { CellwatchError } from '../errors.js';
import { VERSION } from '../version.js';
import { failure, result, type CheckResult } from './report.js';

/**
 * The host under the agent: a clock that can be trusted (TLS certificates and every message timestamp
 * depend on it) and a Node.js the agent supports, run by the user the service runs as.
 */

/**
 * A time before this is certainly wrong: it is the date of this release, so a box whose clock is behind it
 * has lost its time (no RTC battery, NTP never reached). Raised with each release; docs/errors.md
 * (HOST_UNSUITABLE) names it.
 */
export const CLOCK_FLOOR = '2026-12-01T00:00:00Z';

const TIMEDATECTL_TIMEOUT_MS = 3_000;

const require = createRequire(import.meta.url);
// Two levels up from src/doctor and from dist/doctor alike, as src/version.ts reads it from src.
const pkg = require('../../package.json') as { engines?: { node?: string } };

export async function checkClock(): Promise<CheckResult> {
  const now = new Date();
  const figures = { now: now.toISOString(), floor: CLOCK_FLOOR };
  if (now.getTime() < Date.parse(CLOCK_FLOOR)) {
    const message =
      `the system time ${figures.now} is before ${CLOCK_FLOOR}, the release of cellwatch ${VERSION}: ` +
      'the clock is wrong, so broker certificates look not yet valid and timestamps are wrong';
    return failure('clock', new CellwatchError('HOST_UNSUITABLE', message, { now: figures.now }), {
      ...figures,
      ntpSynchronized: null,
    });
  }
  const ntp = await ntpSynchronized();
  if (ntp.synchronized === false) {
    const detail = `${figures.now}, after the release floor, but not synchronized by NTP: it may drift`;
    return result('clock', 'warn', detail, { ...figures, ntpSynchronized: false });
  }
  const said = ntp.synchronized ? 'synchronized by NTP' : `NTP state unknown, ${ntp.why}`;
  return result('clock', 'ok', `${figures.now}, after the release floor, ${said}`, {
    ...figures,
    ntpSynchronized: ntp.synchronized,
  });
}

/** What systemd's timedatectl says; null with the reason where there is no timedatectl or no systemd. */
function ntpSynchronized(): Promise<{ synchronized: boolean | null; why?: string }> {
  return new Promise((resolve) => {
    const args = ['show', '-p', 'NTPSynchronized', '--value'];
    execFile('timedatectl', args, { timeout: TIMEDATECTL_TIMEOUT_MS }, (err, stdout) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'no timedatectl' : 'timedatectl cannot answer: no systemd';
        resolve({ synchronized: null, why });
        return;
      }
      const value = stdout.trim();
      if (value === 'yes' || value === 'no') resolve({ synchronized: value === 'yes' });
      else resolve({ synchronized: null, why: `timedatectl said "${value}"` });
    });
  });
}

export function checkRuntime(): CheckResult {
  const node = process.versions.node;
  const engines = pkg.engines?.node ?? null;
  const uid = process.getuid?.() ?? null;
  const user = safeUserName();
  const figures = { node, engines, user, uid };
  const minimum = engines === null ? undefined : parseMinimum(engines);
  if (minimum !== undefined && compare(node, minimum) < 0) {
    const message = `Node.js ${node} is older than cellwatch ${VERSION} needs (${engines})`;
    return failure('runtime', new CellwatchError('HOST_UNSUITABLE', message, { node, engines }), figures);
  }
  const meets = minimum === undefined ? `engines "${engines ?? 'none'}" not checked` : `meets ${engines}`;
  if (uid === 0) {
    // Root passes every permission check: the install may still be unusable by the service user.
    const detail = `Node.js ${node} ${meets}; running as root: run as the service user to check its permissions`;
    return result('runtime', 'warn', detail, figures);
  }
  return result('runtime', 'ok', `Node.js ${node} ${meets}; running as ${user ?? `uid ${uid}`}`, figures);
}

/** ">=20.10" and the like; anything else is not checked. */
function parseMinimum(range: string): number[] | undefined {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  return match ? [match[1], match[2], match[3]].map((part) => Number(part ?? 0)) : undefined;
}

function compare(version: string, minimum: number[]): number {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < minimum.length; i++) {
    const diff = (parts[i] ?? 0) - (minimum[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function safeUserName(): string | null {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (a container's arbitrary uid) has no name.
    return null;
  }
}
