import type { EntityRule } from '../../config/schema.js';
import { CellwatchError } from '../../errors.js';

/** Where a measured object sits: the managed element's DN and the object's own DN (measObjLdn). */
export interface MeasuredObject {
  element: string;
  object: string;
}

interface CompiledRule {
  element?: RegExp;
  object?: RegExp;
  set: Readonly<Record<string, string>>;
}

/**
 * Turns a managed element and measured object into entity column values, by configured rules: the first rule
 * whose patterns all match wins; its named groups, its `set` values and the pipeline's fixed values fill the
 * columns. Without rules, the first free column takes the element's name (the value of its last RDN,
 * `ManagedElement=gNB-17` → `gNB-17`) and the last free column the object's (`NRCellDU=2` → `2`).
 */
export class EntityRules {
  private readonly rules: CompiledRule[];
  private readonly cache = new Map<string, string[] | undefined>();

  constructor(
    rules: readonly EntityRule[],
    private readonly columns: readonly string[],
    private readonly fixed: Readonly<Record<string, string>>,
  ) {
    this.rules = rules.map((rule, i) => compileRule(rule, i, columns));
    if (rules.length === 0) checkDefaultFits(columns, fixed);
  }

  /** Entity values in column order, or undefined when no rule maps the object. */
  map(measured: MeasuredObject): string[] | undefined {
    const key = `${measured.element}\u0000${measured.object}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const values = this.rules.length === 0 ? this.byDefault(measured) : this.byRules(measured);
    if (this.cache.size < 100_000) this.cache.set(key, values);
    return values;
  }

  private byRules(measured: MeasuredObject): string[] | undefined {
    for (const rule of this.rules) {
      const elementMatch = rule.element ? rule.element.exec(measured.element) : undefined;
      const objectMatch = rule.object ? rule.object.exec(measured.object) : undefined;
      if (elementMatch === null || objectMatch === null) continue;
      const found: Record<string, string | undefined> = {
        ...this.fixed,
        ...rule.set,
        ...elementMatch?.groups,
        ...objectMatch?.groups,
      };
      const values = this.columns.map((c) => found[c]);
      if (values.every((v): v is string => v !== undefined && v !== '')) return values;
    }
    return undefined;
  }

  private byDefault(measured: MeasuredObject): string[] | undefined {
    const free = this.columns.filter((c) => this.fixed[c] === undefined);
    const found: Record<string, string | undefined> = { ...this.fixed };
    if (free.length >= 1) found[free[0]!] = lastRdnValue(measured.element);
    if (free.length >= 2) found[free.at(-1)!] = lastRdnValue(measured.object);
    const values = this.columns.map((c) => found[c]);
    return values.every((v): v is string => v !== undefined && v !== '') ? values : undefined;
  }
}

/** `SubNetwork=1,ManagedElement=gNB-17` → `gNB-17`; a DN without '=' is its own name. */
export function lastRdnValue(dn: string): string {
  const last = dn.split(',').at(-1)?.trim() ?? '';
  const eq = last.indexOf('=');
  return eq >= 0 ? last.slice(eq + 1).trim() : last;
}

function compileRule(rule: EntityRule, index: number, columns: readonly string[]): CompiledRule {
  const compiled: CompiledRule = { set: rule.set };
  for (const field of ['element', 'object'] as const) {
    const pattern = rule[field];
    if (pattern === undefined) continue;
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      throw ruleError(index, field, `is not a regular expression: ${(err as Error).message}`);
    }
    for (const group of groupNames(pattern)) {
      if (!columns.includes(group)) {
        throw ruleError(index, field, `names group "${group}", which is not an entity column (${columns.join(', ')})`);
      }
    }
    compiled[field] = regex;
  }
  if (!compiled.element && !compiled.object) {
    throw ruleError(index, 'element', 'a rule needs an element or an object pattern');
  }
  return compiled;
}

function groupNames(pattern: string): string[] {
  return [...pattern.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]!);
}

function checkDefaultFits(columns: readonly string[], fixed: Readonly<Record<string, string>>): void {
  const free = columns.filter((c) => fixed[c] === undefined);
  if (free.length > 2) {
    throw new CellwatchError(
      'CONFIG_PIPELINE',
      `entity columns ${free.join(', ')} are not fixed: without entity rules only two columns can be filled ` +
        '(the element and the object); add source.entities rules',
      { columns: free },
    );
  }
}

function ruleError(index: number, field: string, message: string): CellwatchError {
  return new CellwatchError('CONFIG_INVALID', `source.entities[${index}].${field} ${message}`, { rule: index });
}
