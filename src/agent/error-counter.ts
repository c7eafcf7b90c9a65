import type { ErrorCode } from '../errors.js';

/** Errors counted by code since start: the health message carries them so the central side sees trends. */
export class ErrorCounter {
  private readonly counts = new Map<ErrorCode, number>();

  count(code: ErrorCode, times = 1): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + times);
  }

  get(code: ErrorCode): number {
    return this.counts.get(code) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
