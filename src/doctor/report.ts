import { CellwatchError } from '../errors.js';

/**
 * What `cellwatch doctor` prints: one result per check. A failed check carries the code of what went wrong
 * (the same codes the agent reports, see docs/errors.md), so a technician can search for it; a warning may
 * carry one too. Measured figures sit beside the detail as plain fields, for scripts reading --json.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export type CheckName = 'config' | 'database' | 'models' | 'broker' | 'clock' | 'disk' | 'runtime' | 'native';

export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** One short line for a person. */
  detail: string;
  /** An ErrorCode, or an OS errno code (EACCES …) when the machine said no before cellwatch could. */
  code?: string;
  [figure: string]: unknown;
}

export interface DoctorReport {
  version: string;
  /** Null for a check of the runtime alone (`--runtime`), which reads no configuration. */
  config: string | null;
  site: string | null;
  checkedAt: string;
  /** The worst status of any check: fail, else warn, else ok (skipped checks count as neither). */
  status: 'ok' | 'warn' | 'fail';
  checks: CheckResult[];
}

export function result(
  name: CheckName,
  status: CheckStatus,
  detail: string,
  figures: Record<string, unknown> = {},
): CheckResult {
  return { name, status, detail, ...figures };
}

/**
 * A check that ended in an error. A coded error keeps its code and details; an OS error (EACCES, ENOSPC …)
 * keeps its errno code, as describeError does; anything else is a doctor bug and says INTERNAL.
 */
export function failure(name: CheckName, err: unknown, figures: Record<string, unknown> = {}): CheckResult {
  if (err instanceof CellwatchError) {
    const details = Object.keys(err.details).length > 0 ? { details: err.details } : {};
    return { name, status: 'fail', detail: err.message, code: err.code, ...details, ...figures };
  }
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const known = typeof code === 'string' && /^E[A-Z]+$/.test(code);
  return { name, status: 'fail', detail: message, code: known ? code : 'INTERNAL', ...figures };
}

/** The worse of two statuses, for a check made of several parts (one per pipeline, one per folder). */
export function worse(a: CheckStatus, b: CheckStatus): CheckStatus {
  const rank: Record<CheckStatus, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };
  return rank[b] > rank[a] ? b : a;
}

export function overall(checks: readonly CheckResult[]): DoctorReport['status'] {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  return checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
}

/** The human form: `status  name      detail`, aligned, the code after the detail when there is one. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => {
    const code = c.code === undefined ? '' : ` [${c.code}]`;
    return `${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}${code}`;
  });
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const skipped = count('skip') > 0 ? `, ${count('skip')} skipped` : '';
  const tally = `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail${skipped}`;
  lines.push(`cellwatch ${report.version} doctor, ${report.config ?? 'runtime only'}: ${tally}`);
  return lines.join('\n');
}

/** The error the command ends with when a check failed: stderr and the exit code say so after the report. */
export function doctorFailed(report: DoctorReport): CellwatchError | undefined {
  const failed = report.checks.filter((c) => c.status === 'fail');
  if (failed.length === 0) return undefined;
  const names = failed.map((c) => `${c.name} (${String(c.code ?? 'no code')})`).join(', ');
  return new CellwatchError('DOCTOR_FAILED', `${failed.length} of ${report.checks.length} checks failed: ${names}`, {
    failed: failed.map((c) => c.name),
  });
}

export const MIB = 2 ** 20;

/** Bytes as MiB with one decimal, for details a person reads. */
export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
