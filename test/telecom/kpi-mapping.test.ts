import { describe, expect, it } from 'vitest';
import { DEFAULT_KPIS } from '../../src/kpis.js';
import { compileFormula } from '../../src/telecom/formula.js';
import { DEFAULT_PM_KPIS, UNMAPPED_DEFAULT_KPIS, defaultFormulaFor } from '../../src/telecom/kpi-mapping.js';

/** One 15-minute period of a gNB cell, as TS 28.552 names and units report it. */
const CELL_PERIOD: Readonly<Record<string, number>> = {
  'DRB.UEThpDl': 85_500, // kbit/s
  'DRB.UEThpUl': 12_250, // kbit/s
  'RRU.PrbUsedDl': 68,
  'RRU.PrbAvailDl': 272,
  'RRC.ConnMean': 37,
  'RRC.ConnEstabSucc.sum': 1_990,
  'RRC.ConnEstabAtt.sum': 2_000,
  'DRB.RelActNbr.sum': 3,
  'DRB.EstabSucc.sum': 1_200,
  'MM.HoExeIntraSucc': 147,
  'MM.HoExeIntraReq': 150,
};

function read(counter: string): number {
  return CELL_PERIOD[counter] ?? Number.NaN;
}

describe('DEFAULT_PM_KPIS', () => {
  it('compiles every formula and computes each KPI in its unit from 28.552 counters', () => {
    const values = Object.fromEntries(
      Object.entries(DEFAULT_PM_KPIS).map(([kpi, text]) => [kpi, compileFormula(text).evaluate(read)]),
    );
    expect(values).toEqual({
      dl_throughput_mbps: 85.5,
      ul_throughput_mbps: 12.25,
      prb_util_dl_pct: 25,
      active_users: 37,
      rrc_setup_success_pct: 99.5,
      erab_drop_pct: 0.25,
      ho_success_pct: 98,
    });
  });

  it('reads only counters the hand-made 28.552 period holds', () => {
    const used = Object.values(DEFAULT_PM_KPIS).flatMap((text) => compileFormula(text).counters);
    expect(used.filter((counter) => !(counter in CELL_PERIOD))).toEqual([]);
  });

  it('gives NaN for a ratio whose denominator counted nothing this period', () => {
    const formula = compileFormula(DEFAULT_PM_KPIS.ho_success_pct ?? '');
    expect(formula.evaluate((c) => (c === 'MM.HoExeIntraReq' ? 0 : read(c)))).toBeNaN();
  });

  it('covers every default KPI either with a formula or with a reason why not', () => {
    const mapped = Object.keys(DEFAULT_PM_KPIS);
    const unmapped = Object.keys(UNMAPPED_DEFAULT_KPIS);
    expect([...mapped, ...unmapped].sort()).toEqual([...DEFAULT_KPIS].sort());
    expect(unmapped).toEqual(['rsrp_dbm', 'sinr_db', 'cpu_load_pct']);
    expect(mapped.filter((kpi) => unmapped.includes(kpi))).toEqual([]);
  });

  it('says why RSRP and SINR have no default: 28.552 gives them only as distributions', () => {
    expect(UNMAPPED_DEFAULT_KPIS.rsrp_dbm).toContain('L1M.SS-RSRP');
    expect(UNMAPPED_DEFAULT_KPIS.sinr_db).toContain('L1M.SS-SINR');
  });
});

describe('defaultFormulaFor', () => {
  it('returns the default formula of a mapped KPI', () => {
    expect(defaultFormulaFor('dl_throughput_mbps')).toBe('DRB.UEThpDl / 1000');
    expect(defaultFormulaFor('active_users')).toBe('RRC.ConnMean');
  });

  it('returns undefined for an unmapped KPI, an unknown one, and names on the object prototype', () => {
    expect(defaultFormulaFor('rsrp_dbm')).toBeUndefined();
    expect(defaultFormulaFor('no_such_kpi')).toBeUndefined();
    expect(defaultFormulaFor('toString')).toBeUndefined();
    expect(defaultFormulaFor('__proto__')).toBeUndefined();
  });
});
