/**
 * Cumulative counters to per-period deltas. Some counters only grow, like an odometer (VES `...Accumulated`
 * fields, some vendor counters); a model needs what happened in each period, so the caller keeps the previous
 * reading of each counter and asks here for the difference.
 *
 * The rule throughout: when the growth cannot be pinned to exactly this period, the delta is NaN with an
 * outcome that says why, never a guess. A NaN becomes a gap the featurizer knows how to handle; a wrong number
 * becomes a false alarm, or hides a real one.
 */
import { CellwatchError } from '../errors.js';

export interface CounterReading {
  /** The granularity period the reading closes, in UTC milliseconds: [beginMs, endMs). */
  beginMs: number;
  endMs: number;
  /** The cumulative value at endMs; a bigint for 64-bit counters beyond 2^53. */
  value: number | bigint;
}

/**
 * - ok: contiguous periods, the counter grew (or stood still);
 * - first: no previous reading, nothing to subtract;
 * - gap: one or more periods are missing between the two readings;
 * - wrap: the counter passed its maximum and started again from 0;
 * - reset: the counter went down and no wrap explains it (a node restart zeroed it);
 * - out_of_order: the reading is not later than the previous one (a late or repeated file).
 */
export type DeltaOutcome = 'ok' | 'first' | 'gap' | 'wrap' | 'reset' | 'out_of_order';

/** `delta` is NaN unless `outcome` is 'ok' or 'wrap'. */
export interface CounterDelta {
  delta: number;
  outcome: DeltaOutcome;
}

const FIRST: CounterDelta = Object.freeze({ delta: Number.NaN, outcome: 'first' });
const GAP: CounterDelta = Object.freeze({ delta: Number.NaN, outcome: 'gap' });
const RESET: CounterDelta = Object.freeze({ delta: Number.NaN, outcome: 'reset' });
const OUT_OF_ORDER: CounterDelta = Object.freeze({ delta: Number.NaN, outcome: 'out_of_order' });

/**
 * The growth of a cumulative counter from `previous` to `current`. Pure: the caller persists the readings.
 * The caller should keep `current` as the next `previous` for every outcome except 'out_of_order', so a late
 * file cannot move the counter back in time.
 *
 * `widthBits` is the counter's width when known (32 or 64); without it a decrease is always a reset.
 * Throws PM_VALUE when a value is negative or not finite: no cumulative counter can hold it.
 */
export function counterDelta(
  previous: CounterReading | undefined,
  current: CounterReading,
  widthBits?: 32 | 64,
): CounterDelta {
  checkValue(current.value);
  if (previous === undefined) return FIRST;

  checkValue(previous.value);
  if (previous.endMs !== current.beginMs) {
    // Growth over several periods attributed to one would be a spike that never happened.
    return current.beginMs > previous.endMs ? GAP : OUT_OF_ORDER;
  }

  return valueDelta(previous.value, current.value, widthBits);
}

function valueDelta(previous: number | bigint, current: number | bigint, widthBits: 32 | 64 | undefined): CounterDelta {
  // The common case: both fit a double exactly, so plain subtraction is exact.
  const numbers = typeof previous === 'number' && typeof current === 'number';
  if (numbers && Number.isSafeInteger(previous) && Number.isSafeInteger(current) && current >= previous) {
    return ok(current - previous);
  }

  // A decimal cumulative value (a volume in kbit, say) has no integer width to wrap at.
  if (!isInteger(previous) || !isInteger(current)) {
    const before = Number(previous);
    const after = Number(current);
    return after >= before ? ok(after - before) : RESET;
  }

  return integerDelta(BigInt(previous), BigInt(current), widthBits);
}

/** Integer counters in BigInt, so 64-bit values above 2^53 subtract exactly; only the delta becomes a number. */
function integerDelta(previous: bigint, current: bigint, widthBits: 32 | 64 | undefined): CounterDelta {
  if (current >= previous) return ok(Number(current - previous));
  if (widthBits === undefined) return RESET;

  const range = 1n << BigInt(widthBits);
  if (previous >= range || current >= range) return RESET;

  // A wrap is only plausible from the top half of the range, and only if the wrapped delta is small. A node
  // restart that zeroes the counter and counts up from a small value would give a wrapped delta close to
  // 2^width, which no counter grows by in one period; calling that a wrap would report an absurd spike.
  const wrapped = current + range - previous;
  const plausible = previous >= range >> 1n && wrapped < range >> 2n;
  return plausible ? { delta: Number(wrapped), outcome: 'wrap' } : RESET;
}

function ok(delta: number): CounterDelta {
  return { delta, outcome: 'ok' };
}

function isInteger(value: number | bigint): boolean {
  return typeof value === 'bigint' || Number.isInteger(value);
}

function checkValue(value: number | bigint): void {
  const valid = typeof value === 'bigint' ? value >= 0n : Number.isFinite(value) && value >= 0;
  if (!valid) {
    throw new CellwatchError('PM_VALUE', `a cumulative counter reading is ${String(value)}, not a finite number >= 0`, {
      value: String(value),
    });
  }
}
