import { CellwatchError } from '../../errors.js';
import { compileFormula, type Formula } from '../../telecom/formula.js';
import { defaultFormulaFor, UNMAPPED_DEFAULT_KPIS } from '../../telecom/kpi-mapping.js';

/** One counter's number for one entity and period, and whether its block was flagged suspect. */
export interface CounterValue {
  value: number;
  suspect: boolean;
}

export interface KpiRowValues {
  values: Float64Array;
  /** A KPI was computed from a suspect counter. */
  suspect: boolean;
  /** How many KPIs have a value. */
  present: number;
}

/**
 * The pipeline's features as formulas over measurement names. A feature takes its formula from the source's
 * `kpis`, else from the built-in TS 28.552 mapping, else it is a measurement name itself (a vendor counter
 * used as it is). A feature of the default set that 28.552 cannot give must be mapped: guessing would feed
 * the model a KPI that is never there.
 */
export class KpiFormulas {
  readonly formulas: readonly Formula[];
  /** Every measurement name some formula reads. */
  readonly counters: ReadonlySet<string>;

  constructor(features: readonly string[], configured: Readonly<Record<string, string>>) {
    const unknown = Object.keys(configured).filter((k) => !features.includes(k));
    if (unknown.length > 0) {
      throw new CellwatchError(
        'CONFIG_PIPELINE',
        `source.kpis names ${unknown.join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} not among the ` +
          `pipeline's features (${features.join(', ')})`,
        { kpis: unknown },
      );
    }
    const unmapped = features.filter((f) => configured[f] === undefined && f in UNMAPPED_DEFAULT_KPIS);
    if (unmapped.length > 0) {
      throw new CellwatchError(
        'CONFIG_PIPELINE',
        `features ${unmapped.join(', ')} have no TS 28.552 measurement to come from: map each to your vendor's ` +
          `counter in source.kpis (e.g. ${unmapped[0]}: "VendorCounterName")`,
        { features: unmapped },
      );
    }
    this.formulas = features.map((f) => compileFormula(configured[f] ?? defaultFormulaFor(f) ?? f));
    this.counters = new Set(this.formulas.flatMap((f) => f.counters));
  }

  /** The features of one entity and period from its counters; a KPI whose counters are missing is NaN. */
  evaluate(counters: ReadonlyMap<string, CounterValue>): KpiRowValues {
    const values = new Float64Array(this.formulas.length);
    let suspect = false;
    let present = 0;
    this.formulas.forEach((formula, i) => {
      const value = formula.evaluate((name) => counters.get(name)?.value ?? Number.NaN);
      values[i] = value;
      if (Number.isNaN(value)) return;
      present++;
      if (formula.counters.some((name) => counters.get(name)?.suspect === true)) suspect = true;
    });
    return { values, suspect, present };
  }
}
