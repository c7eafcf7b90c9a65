import { describe, expect, it } from 'vitest';
import { CellwatchError } from '../../src/errors.js';
import { counterDelta, type CounterReading } from '../../src/telecom/counters.js';

const PERIOD = 15 * 60_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC

/** The reading that closes the n-th 15-minute period after T0. */
function reading(n: number, value: number | bigint): CounterReading {
  return { beginMs: T0 + n * PERIOD, endMs: T0 + (n + 1) * PERIOD, value };
}

describe('counterDelta', () => {
  it('returns the growth between two contiguous periods', () => {
    expect(counterDelta(reading(0, 1_000), reading(1, 1_250))).toEqual({ delta: 250, outcome: 'ok' });
  });

  it('returns 0 for a counter that stood still', () => {
    expect(counterDelta(reading(0, 1_000), reading(1, 1_000))).toEqual({ delta: 0, outcome: 'ok' });
  });

  it('returns the growth of a decimal cumulative value', () => {
    expect(counterDelta(reading(0, 10.5), reading(1, 12.75))).toEqual({ delta: 2.25, outcome: 'ok' });
    expect(counterDelta(reading(0, 12.75), reading(1, 3.5))).toEqual({ delta: Number.NaN, outcome: 'reset' });
  });

  it('has nothing to subtract from the first reading', () => {
    expect(counterDelta(undefined, reading(0, 1_000))).toEqual({ delta: Number.NaN, outcome: 'first' });
  });

  it('does not attribute growth over a missing period to one period', () => {
    expect(counterDelta(reading(0, 1_000), reading(2, 1_500))).toEqual({ delta: Number.NaN, outcome: 'gap' });
  });

  it('calls a reading that is not after the previous one out of order', () => {
    const late = counterDelta(reading(3, 1_000), reading(1, 900));
    const repeated = counterDelta(reading(3, 1_000), reading(3, 1_000));
    expect(late).toEqual({ delta: Number.NaN, outcome: 'out_of_order' });
    expect(repeated).toEqual({ delta: Number.NaN, outcome: 'out_of_order' });
  });

  it('calls a decrease a reset when the counter width is unknown', () => {
    expect(counterDelta(reading(0, 4_294_967_000), reading(1, 200))).toEqual({ delta: Number.NaN, outcome: 'reset' });
  });

  it('unwraps a 32-bit counter that passed its maximum near the top of its range', () => {
    expect(counterDelta(reading(0, 4_294_967_000), reading(1, 200), 32)).toEqual({ delta: 496, outcome: 'wrap' });
  });

  it('calls a decrease from the bottom half of the range a reset, not a wrap', () => {
    // 2^31 - 1 down to 10 would "wrap" by 2^31 + 11: a restart, not growth.
    expect(counterDelta(reading(0, 2_147_483_647), reading(1, 10), 32)).toEqual({
      delta: Number.NaN,
      outcome: 'reset',
    });
  });

  it('calls a wrap that would need a delta of a quarter of the range or more a reset', () => {
    // From 2^31 (top half) to 2^30: the wrapped delta would be 2^31 + 2^30, far above a quarter of the range.
    expect(counterDelta(reading(0, 2 ** 31), reading(1, 2 ** 30), 32)).toEqual({ delta: Number.NaN, outcome: 'reset' });
    // Just below a quarter of the range is still a plausible wrap.
    const justBelow = counterDelta(reading(0, 2 ** 32 - 1), reading(1, 2 ** 30 - 2), 32);
    expect(justBelow).toEqual({ delta: 2 ** 30 - 1, outcome: 'wrap' });
    const atQuarter = counterDelta(reading(0, 2 ** 32 - 1), reading(1, 2 ** 30 - 1), 32);
    expect(atQuarter).toEqual({ delta: Number.NaN, outcome: 'reset' });
  });

  it('calls a decrease from a value the declared width cannot hold a reset', () => {
    expect(counterDelta(reading(0, 2 ** 33), reading(1, 5), 32)).toEqual({ delta: Number.NaN, outcome: 'reset' });
  });

  it('unwraps a 64-bit counter above 2^53 exactly', () => {
    expect(counterDelta(reading(0, 2n ** 64n - 10n), reading(1, 5n), 64)).toEqual({ delta: 15, outcome: 'wrap' });
  });

  it('subtracts two 64-bit values above 2^53 exactly', () => {
    // As doubles, 2^60 + 1 and 2^60 + 8 are both 2^60: the difference would be 0.
    const delta = counterDelta(reading(0, 2n ** 60n + 1n), reading(1, 2n ** 60n + 8n), 64);
    expect(delta).toEqual({ delta: 7, outcome: 'ok' });
  });

  it('subtracts a bigint and a number exactly', () => {
    expect(counterDelta(reading(0, 2n ** 53n + 1n), reading(1, 2 ** 53 + 4))).toEqual({ delta: 3, outcome: 'ok' });
    expect(counterDelta(reading(0, 100), reading(1, 2n ** 53n + 100n))).toEqual({ delta: 2 ** 53, outcome: 'ok' });
  });

  it('calls a 64-bit counter that fell from a small value a reset', () => {
    expect(counterDelta(reading(0, 2n ** 60n), reading(1, 5n), 64)).toEqual({ delta: Number.NaN, outcome: 'reset' });
  });

  it('rejects a negative or non-finite reading as PM_VALUE', () => {
    for (const value of [-1, -1n, Number.NaN, Number.POSITIVE_INFINITY]) {
      const attempt = (): unknown => counterDelta(reading(0, 10), reading(1, value));
      expect(attempt).toThrow(CellwatchError);
      expect(attempt).toThrow(`a cumulative counter reading is ${String(value)}, not a finite number >= 0`);
    }
    expect(() => counterDelta(reading(0, -5), reading(1, 10))).toThrow(CellwatchError);
    expect(() => counterDelta(undefined, reading(0, -5))).toThrow(
      expect.objectContaining({ code: 'PM_VALUE', details: { value: '-5' } }),
    );
  });
});
