/**
 * KPI formulas from configuration: an operator writes `100 * RRC.ConnEstabSucc.sum / RRC.ConnEstabAtt.sum` in
 * YAML and cellwatch turns raw PM counters into the KPI a model reads. jsep parses the text; this file decides
 * which of jsep's JavaScript forms a formula may use and compiles the tree once into closures, because a
 * formula runs once per row per KPI.
 *
 * Every result is a finite number or NaN. NaN means "not known this period": a missing counter, a division by
 * zero, an overflow. A KPI computed from part of its counters would look plausible and be wrong, so NaN spreads
 * through every operator and function instead of being skipped.
 *
 * Known sharp edge: a counter name holding '-' (`RRC.ConnEstabAtt.mo-Data`) written bare parses as a subtraction
 * of two counters that do not exist, which compiles and evaluates to NaN every period. Such names must be
 * written `counter("RRC.ConnEstabAtt.mo-Data")`; `counters` lists what a formula reads, so the config layer
 * can check the names against the counters a node reports.
 */
import jsep from 'jsep';
import { CellwatchError } from '../errors.js';

export interface Formula {
  /** The text as written in the configuration. */
  readonly text: string;
  /** The distinct counter names the formula reads, in the order they first appear. */
  readonly counters: readonly string[];
  /** The value for one period; `get` returns NaN for a counter the period lacks. */
  evaluate(get: (counter: string) => number): number;
}

type Getter = (counter: string) => number;
type Compiled = (get: Getter) => number;

/** A function a formula may call: how many arguments it takes and how it combines them. */
interface FunctionSpec {
  readonly minArgs: number;
  readonly maxArgs: number;
  make(args: readonly Compiled[]): Compiled;
}

const VARIADIC = { minArgs: 1, maxArgs: Infinity } as const;

const FUNCTIONS: Readonly<Record<string, FunctionSpec>> = {
  sum: { ...VARIADIC, make: (args) => (get) => finite(total(args, get)) },
  mean: { ...VARIADIC, make: (args) => (get) => finite(total(args, get) / args.length) },
  min: { ...VARIADIC, make: (args) => (get) => extreme(args, get, Math.min) },
  max: { ...VARIADIC, make: (args) => (get) => extreme(args, get, Math.max) },
  // abs takes exactly one argument (checked at compile time), so the total of its arguments is that argument.
  abs: { minArgs: 1, maxArgs: 1, make: (args) => (get) => Math.abs(total(args, get)) },
};

const FUNCTION_LIST = [...Object.keys(FUNCTIONS), 'counter'].join(', ');

/** jsep node types a formula may not use, with the words an operator would recognise. */
type RejectedForm = Exclude<
  jsep.ExpressionType,
  'Literal' | 'Identifier' | 'UnaryExpression' | 'BinaryExpression' | 'CallExpression'
>;

const REJECTED_FORMS: Readonly<Record<RejectedForm, string>> = {
  MemberExpression: 'member access (a[b], (a).b)',
  ArrayExpression: 'an array',
  ConditionalExpression: 'a conditional (a ? b : c)',
  ThisExpression: '"this"',
  Compound: 'more than one expression (a missing operator, or a "," or ";" outside a function call)',
  SequenceExpression: 'a comma sequence',
};

/** Compile a formula once; throws CONFIG_INVALID naming the formula and what is wrong with it. */
export function compileFormula(text: string): Formula {
  if (text.trim() === '') {
    throw invalid(text, 'is empty');
  }

  const tree = parse(text);
  const counters = new Set<string>();
  const root = compileNode(tree, text, counters);

  return Object.freeze({
    text,
    counters: Object.freeze([...counters]),
    evaluate: root,
  });
}

/**
 * 3GPP counter names are dotted (`DRB.UEThpDl`), so '.' must be an identifier character for the name to come back
 * as one identifier rather than member access. jsep keeps that setting in module-wide state shared with any
 * other user of jsep in the process, so it is switched on only for the duration of this synchronous parse.
 * Numbers still parse as numbers (0.5, .5, 1e3): jsep reads a token that starts with a digit or '.' as a number
 * before it looks at identifier characters.
 */
function parse(text: string): jsep.Expression {
  const addDot = !jsep.additional_identifier_chars.has('.');
  if (addDot) jsep.addIdentifierChar('.');

  try {
    return jsep(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw invalid(text, `does not parse: ${reason}`);
  } finally {
    if (addDot) jsep.removeIdentifierChar('.');
  }
}

function compileNode(node: jsep.Expression, text: string, counters: Set<string>): Compiled {
  const core = node as jsep.CoreExpression;
  switch (core.type) {
    case 'Literal':
      return compileLiteral(core, text);
    case 'Identifier':
      return compileIdentifier(core.name, text, counters);
    case 'UnaryExpression':
      return compileUnary(core, text, counters);
    case 'BinaryExpression':
      return compileBinary(core, text, counters);
    case 'CallExpression':
      return compileCall(core, text, counters);
    case 'MemberExpression':
    case 'ArrayExpression':
    case 'ConditionalExpression':
    case 'ThisExpression':
    case 'Compound':
    case 'SequenceExpression':
      throw invalid(text, `uses ${REJECTED_FORMS[core.type]}`);
  }

  // A jsep plugin registered elsewhere in the process can add node types the core union does not list.
  throw invalid(text, `uses an unsupported form (${node.type})`);
}

function compileLiteral(node: jsep.Literal, text: string): Compiled {
  if (typeof node.value === 'string') {
    throw invalid(text, `has the string ${node.raw} outside counter("...")`);
  }

  if (typeof node.value !== 'number') {
    throw invalid(text, `uses the literal ${node.raw}; only numbers are allowed`);
  }

  const value = node.value;
  if (!Number.isFinite(value)) {
    throw invalid(text, `has the number ${node.raw}, which is out of range`);
  }

  return () => value;
}

/** A bare name is a counter; a dot at either end or two in a row is a typo that would read NaN forever. */
function compileIdentifier(name: string, text: string, counters: Set<string>): Compiled {
  if (name.split('.').includes('')) {
    throw invalid(text, `names the counter "${name}", which has an empty part between dots`);
  }

  return compileCounter(name, counters);
}

function compileCounter(name: string, counters: Set<string>): Compiled {
  counters.add(name);
  return (get) => finite(get(name));
}

function compileUnary(node: jsep.UnaryExpression, text: string, counters: Set<string>): Compiled {
  if (node.operator !== '-') {
    throw invalid(text, `uses the operator "${node.operator}"; only unary minus is allowed`);
  }

  const argument = compileNode(node.argument, text, counters);
  return (get) => -argument(get);
}

function compileBinary(node: jsep.BinaryExpression, text: string, counters: Set<string>): Compiled {
  const op = node.operator;
  if (op !== '+' && op !== '-' && op !== '*' && op !== '/') {
    throw invalid(text, `uses the operator "${op}"; only + - * / are allowed`);
  }

  const left = compileNode(node.left, text, counters);
  const right = compileNode(node.right, text, counters);
  switch (op) {
    case '+':
      return (get) => finite(left(get) + right(get));
    case '-':
      return (get) => finite(left(get) - right(get));
    case '*':
      return (get) => finite(left(get) * right(get));
    case '/':
      // x/0 is Infinity and 0/0 is NaN in IEEE arithmetic; a ratio with no attempts is unknown, not infinite.
      return (get) => {
        const numerator = left(get);
        const denominator = right(get);
        return denominator === 0 ? Number.NaN : finite(numerator / denominator);
      };
  }
}

function compileCall(node: jsep.CallExpression, text: string, counters: Set<string>): Compiled {
  const callee = node.callee as jsep.CoreExpression;
  if (callee.type !== 'Identifier') {
    throw invalid(text, 'calls something that is not a function name');
  }

  const name = callee.name;
  if (name === 'counter') {
    checkArity(name, node.arguments.length, 1, 1, text);
    return compileCounterCall(node.arguments[0], text, counters);
  }

  const spec = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
  if (spec === undefined) {
    throw invalid(text, `calls the unknown function "${name}" (known: ${FUNCTION_LIST})`);
  }

  checkArity(name, node.arguments.length, spec.minArgs, spec.maxArgs, text);
  return spec.make(node.arguments.map((arg) => compileNode(arg, text, counters)));
}

function checkArity(name: string, count: number, min: number, max: number, text: string): void {
  if (count >= min && count <= max) return;

  const expected = max === Infinity ? `at least ${min}` : `exactly ${min}`;
  throw invalid(text, `calls ${name}() with ${count} argument(s); it takes ${expected}`);
}

/** `counter("SM.PrbUsedDl.01-06E442")`: the way to name a counter jsep cannot read as an identifier. */
function compileCounterCall(arg: jsep.Expression | undefined, text: string, counters: Set<string>): Compiled {
  const literal = arg as jsep.CoreExpression | undefined;
  if (literal?.type !== 'Literal' || typeof literal.value !== 'string' || literal.value === '') {
    throw invalid(text, 'calls counter() without a quoted, non-empty counter name');
  }

  return compileCounter(literal.value, counters);
}

function total(args: readonly Compiled[], get: Getter): number {
  let sum = 0;
  for (const arg of args) sum += arg(get);
  return sum;
}

/** Math.min/Math.max of the arguments; they already return NaN when any argument is NaN. */
function extreme(args: readonly Compiled[], get: Getter, pick: (a: number, b: number) => number): number {
  let result: number | undefined;
  for (const arg of args) {
    const value = arg(get);
    result = result === undefined ? value : pick(result, value);
  }
  return result ?? Number.NaN;
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : Number.NaN;
}

function invalid(text: string, problem: string): CellwatchError {
  return new CellwatchError('CONFIG_INVALID', `KPI formula "${text}" ${problem}`, { formula: text });
}
