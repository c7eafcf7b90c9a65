import { CellwatchError } from '../errors.js';
import type { RowIssue } from '../io/table.js';

/** Exit codes: one per class of failure, so scripts and systemd can tell them apart. */
export const EXIT = { ok: 0, failure: 1, usage: 2, input: 3, model: 4, storage: 5, config: 78 } as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof CellwatchError)) return EXIT.failure;
  if (err.code === 'USAGE' || err.code === 'TRAIN_CONFIG') return EXIT.usage;
  // 78 is EX_CONFIG from sysexits.h: a service manager can refuse to restart on it instead of hot-looping.
  if (err.code.startsWith('CONFIG_')) return EXIT.config;
  if (err.code === 'STORAGE_OPEN') return EXIT.storage;
  if (err.code.startsWith('INPUT_') || err.code === 'LABELS_MISMATCH' || err.code === 'OUTPUT_WRITE') return EXIT.input;
  if (err.code.startsWith('MODEL_') || err.code.startsWith('BUNDLE_') || err.code === 'SCORE_NON_FINITE') {
    return EXIT.model;
  }
  return EXIT.failure;
}

/** One line for a person, with the code first so it can be searched for in docs/errors.md. */
export function describeError(err: unknown): string {
  if (err instanceof CellwatchError) {
    const details = Object.keys(err.details).length > 0 ? ` ${JSON.stringify(err.details)}` : '';
    return `error ${err.code}: ${err.message}${details}`;
  }
  // A system error (ENOENT, EACCES, ENOSPC …) is the machine's, not a bug: say it without a stack trace.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code))
    return `error ${code}: ${err.message}`;
  return `error INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}

export function fixed(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function percent(value: number, digits = 1): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(digits)} %` : 'n/a';
}

/** Print a list of [label, value] pairs as aligned lines. */
export function table(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
}

/** The first input issues with their line numbers, then how many there were in all. */
export function printIssues(issues: readonly RowIssue[], total: number): void {
  for (const issue of issues.slice(0, 5)) {
    console.log(`  line ${issue.line}: ${issue.code} ${issue.message}${issue.rowDropped ? ' (row dropped)' : ''}`);
  }
  if (total > 5) console.log(`  … ${total - 5} more input issues`);
}
