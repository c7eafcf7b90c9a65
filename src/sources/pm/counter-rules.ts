import type { CounterRule } from '../../config/schema.js';
import type { PmValue } from '../../telecom/pm-block.js';

export type ResolvedCounterRule = Pick<CounterRule, 'kind' | 'array' | 'widthBits' | 'bin'>;

/**
 * Built in after the configured rules: VES names running totals "...Accumulated" (its per-period values are
 * "...Delta"), so those are cumulative unless a rule says otherwise.
 */
const BUILT_IN: readonly CounterRule[] = [{ match: '*Accumulated', kind: 'cumulative', array: 'skip' }];

const GAUGE: ResolvedCounterRule = { kind: 'gauge', array: 'skip' };

/** Why a reported value gave no number. */
export type UnreadReason = 'missing' | 'array';

/** How each measurement is read: the first rule whose pattern matches its name, else a plain gauge. */
export class CounterRules {
  private readonly rules: Array<{ pattern: RegExp; rule: CounterRule }>;
  private readonly cache = new Map<string, ResolvedCounterRule>();

  constructor(rules: readonly CounterRule[]) {
    this.rules = [...rules, ...BUILT_IN].map((rule) => ({ pattern: globToRegExp(rule.match), rule }));
  }

  ruleFor(name: string): ResolvedCounterRule {
    let resolved = this.cache.get(name);
    if (resolved === undefined) {
      const found = this.rules.find((r) => r.pattern.test(name))?.rule;
      resolved = found ? { kind: found.kind, array: found.array, widthBits: found.widthBits, bin: found.bin } : GAUGE;
      this.cache.set(name, resolved);
    }
    return resolved;
  }

  /**
   * A reported value as one number, or why there is none. An array (PDF/bin) value is never read as its first
   * element: it is summed or one bin is taken when a rule says so, else it is left out and counted.
   */
  read(name: string, value: PmValue): number | bigint | UnreadReason {
    if (value === null) return 'missing';
    if (!Array.isArray(value)) return value;
    const rule = this.ruleFor(name);
    if (rule.array === 'sum') return value.reduce((sum, v) => sum + v, 0);
    if (rule.array === 'bin' && rule.bin !== undefined) return value[rule.bin] ?? 'array';
    return 'array';
  }
}

/** '*' matches any run of characters; everything else is literal. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}
