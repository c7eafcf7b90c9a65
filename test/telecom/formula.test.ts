import jsep from 'jsep';
import { describe, expect, it } from 'vitest';
import { CellwatchError } from '../../src/errors.js';
import { compileFormula } from '../../src/telecom/formula.js';

/** A getter over a fixed set of counters; a counter the set lacks reads NaN, as the caller's getter does. */
function counters(values: Record<string, number>): (counter: string) => number {
  return (counter) => values[counter] ?? Number.NaN;
}

function evaluate(text: string, values: Record<string, number> = {}): number {
  return compileFormula(text).evaluate(counters(values));
}

function compileError(text: string): CellwatchError {
  try {
    compileFormula(text);
  } catch (err) {
    if (err instanceof CellwatchError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('compileFormula: values', () => {
  it('computes a ratio as a percentage', () => {
    const f = compileFormula('100 * RRC.ConnEstabSucc / RRC.ConnEstabAtt');
    expect(f.evaluate(counters({ 'RRC.ConnEstabSucc': 95, 'RRC.ConnEstabAtt': 100 }))).toBe(95);
    expect(f.evaluate(counters({ 'RRC.ConnEstabSucc': 1, 'RRC.ConnEstabAtt': 8 }))).toBe(12.5);
  });

  it('reads a dotted 3GPP name as one counter, and a plain vendor name too', () => {
    expect(evaluate('DRB.UEThpDl / 1000', { 'DRB.UEThpDl': 52_000 })).toBe(52);
    expect(evaluate('RRC.ConnEstabAtt.Cause1', { 'RRC.ConnEstabAtt.Cause1': 7 })).toBe(7);
    expect(evaluate('pmRrcConnEstabSucc', { pmRrcConnEstabSucc: 3 })).toBe(3);
  });

  it('reads counter("...") for a name jsep cannot take as an identifier', () => {
    const f = compileFormula('counter("SM.PrbUsedDl.01-06E442") + counter(\'a b\')');
    expect(f.evaluate(counters({ 'SM.PrbUsedDl.01-06E442': 40, 'a b': 2 }))).toBe(42);
    expect(f.counters).toEqual(['SM.PrbUsedDl.01-06E442', 'a b']);
  });

  it('parses decimal and exponent literals as numbers', () => {
    expect(evaluate('0.5')).toBe(0.5);
    expect(evaluate('.5 + 1.25')).toBe(1.75);
    expect(evaluate('1e3')).toBe(1000);
    expect(evaluate('2.5e-2 * 4')).toBe(0.1);
    expect(evaluate('x * 1E+2', { x: 3 })).toBe(300);
  });

  it('follows operator precedence and parentheses', () => {
    expect(evaluate('a + b * c', { a: 1, b: 2, c: 3 })).toBe(7);
    expect(evaluate('(a + b) * c', { a: 1, b: 2, c: 3 })).toBe(9);
    expect(evaluate('a - b - c', { a: 10, b: 2, c: 3 })).toBe(5);
    expect(evaluate('a / b / c', { a: 24, b: 2, c: 3 })).toBe(4);
    expect(evaluate('-a + b', { a: 1, b: 5 })).toBe(4);
    expect(evaluate('-(a + b) * 2', { a: 1, b: 5 })).toBe(-12);
  });

  it('gives NaN, never Infinity, for a division by zero', () => {
    expect(evaluate('a / b', { a: 5, b: 0 })).toBeNaN();
    expect(evaluate('a / b', { a: 0, b: 0 })).toBeNaN();
    expect(evaluate('100 * a / (b - b)', { a: 1, b: 3 })).toBeNaN();
  });

  it('gives NaN for a missing counter, whatever the operator', () => {
    expect(evaluate('a', {})).toBeNaN();
    expect(evaluate('a + 1', {})).toBeNaN();
    expect(evaluate('0 * a', {})).toBeNaN();
    expect(evaluate('-a', {})).toBeNaN();
    expect(evaluate('abs(a)', {})).toBeNaN();
  });

  it('gives NaN for an overflow rather than Infinity', () => {
    expect(evaluate('a * a', { a: 1e200 })).toBeNaN();
    expect(evaluate('1 / (a * a)', { a: 1e200 })).toBeNaN();
    expect(evaluate('a', { a: Number.POSITIVE_INFINITY })).toBeNaN();
  });

  it('computes sum, mean, min, max and abs', () => {
    const values = { a: 6, b: 3, c: -9 };
    expect(evaluate('sum(a, b, c, 1)', values)).toBe(1);
    expect(evaluate('mean(a, b)', values)).toBe(4.5);
    expect(evaluate('min(a, b, c)', values)).toBe(-9);
    expect(evaluate('max(a, b, c)', values)).toBe(6);
    expect(evaluate('abs(c)', values)).toBe(9);
    expect(evaluate('sum(a)', values)).toBe(6);
    expect(evaluate('sum(RRU.PrbUsedDl, RRU.PrbUsedUl)', { 'RRU.PrbUsedDl': 30, 'RRU.PrbUsedUl': 12 })).toBe(42);
  });

  it('gives NaN from sum, mean, min and max when any argument is missing', () => {
    const values = { a: 6, b: 3 };
    expect(evaluate('sum(a, b, missing)', values)).toBeNaN();
    expect(evaluate('mean(a, missing)', values)).toBeNaN();
    expect(evaluate('min(missing, a)', values)).toBeNaN();
    expect(evaluate('max(a, missing)', values)).toBeNaN();
  });

  it('lists the distinct counters in first-use order and keeps the text', () => {
    const f = compileFormula('sum(b, a) / (a + counter("c-1") + b)');
    expect(f.counters).toEqual(['b', 'a', 'c-1']);
    expect(f.text).toBe('sum(b, a) / (a + counter("c-1") + b)');
    expect(compileFormula('2 * 3').counters).toEqual([]);
  });

  it('evaluates the same compiled formula many times with different counters', () => {
    const f = compileFormula('a - b');
    expect([1, 2, 3].map((i) => f.evaluate(counters({ a: 10 * i, b: i })))).toEqual([9, 18, 27]);
  });

  it('leaves jsep as it found it, so other users of jsep still read a.b as member access', () => {
    compileFormula('DRB.UEThpDl / 1000');
    expect(jsep.additional_identifier_chars.has('.')).toBe(false);
    expect(jsep('a.b').type).toBe('MemberExpression');
  });
});

describe('compileFormula: rejected formulas', () => {
  it.each([
    ['', 'KPI formula "" is empty'],
    ['   ', 'KPI formula "   " is empty'],
    ['a +', 'KPI formula "a +" does not parse: Expected expression after + at character 3'],
    ['a = 1', 'KPI formula "a = 1" does not parse: Unexpected "=" at character 2'],
    ['foo(a)', 'KPI formula "foo(a)" calls the unknown function "foo" (known: sum, mean, min, max, abs, counter)'],
    [
      'Math.max(a, b)',
      'KPI formula "Math.max(a, b)" calls the unknown function "Math.max" (known: sum, mean, min, max, abs, counter)',
    ],
    ['sum()', 'KPI formula "sum()" calls sum() with 0 argument(s); it takes at least 1'],
    ['abs(a, b)', 'KPI formula "abs(a, b)" calls abs() with 2 argument(s); it takes exactly 1'],
    ['counter()', 'KPI formula "counter()" calls counter() with 0 argument(s); it takes exactly 1'],
    ['counter(a)', 'KPI formula "counter(a)" calls counter() without a quoted, non-empty counter name'],
    ['counter("")', 'KPI formula "counter("")" calls counter() without a quoted, non-empty counter name'],
    ['"a" + 1', 'KPI formula ""a" + 1" has the string "a" outside counter("...")'],
    ['true', 'KPI formula "true" uses the literal true; only numbers are allowed'],
    ['1e999', 'KPI formula "1e999" has the number 1e999, which is out of range'],
    ['a[0]', 'KPI formula "a[0]" uses member access (a[b], (a).b)'],
    ['(a).b', 'KPI formula "(a).b" uses member access (a[b], (a).b)'],
    ['[a, b]', 'KPI formula "[a, b]" uses an array'],
    ['a > b', 'KPI formula "a > b" uses the operator ">"; only + - * / are allowed'],
    ['a == b', 'KPI formula "a == b" uses the operator "=="; only + - * / are allowed'],
    ['a % 2', 'KPI formula "a % 2" uses the operator "%"; only + - * / are allowed'],
    ['a ** 2', 'KPI formula "a ** 2" uses the operator "**"; only + - * / are allowed'],
    ['!a', 'KPI formula "!a" uses the operator "!"; only unary minus is allowed'],
    ['a ? b : 0', 'KPI formula "a ? b : 0" uses a conditional (a ? b : c)'],
    ['this', 'KPI formula "this" uses "this"'],
    ['(a, b)', 'KPI formula "(a, b)" uses a comma sequence'],
    [
      'a b',
      'KPI formula "a b" uses more than one expression (a missing operator, or a "," or ";" outside a function call)',
    ],
    ['a..b', 'KPI formula "a..b" names the counter "a..b", which has an empty part between dots'],
    [
      'DRB.UEThpDl. / 1000',
      'KPI formula "DRB.UEThpDl. / 1000" names the counter "DRB.UEThpDl.", which has an empty part between dots',
    ],
  ])('rejects %j as CONFIG_INVALID naming the formula', (text, message) => {
    const err = compileError(text);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe(message);
    expect(err.details).toEqual({ formula: text });
  });
});
