/**
 * The formulas that turn 3GPP TS 28.552 (5G NR) measurements into cellwatch's default KPI set, so a PM source
 * works without the operator writing any formula for a standard gNB. Counters outside 28.552 (vendor
 * counters, vendor sub-counters) need a formula in the configuration.
 *
 * Naming: 28.552 measurements kept per cause or per 5QI are named `<measurement>.<subcounter>`, and the total
 * over all sub-counters is the `.sum` sub-counter (for example `RRC.ConnEstabAtt.sum`). A node that reports
 * only the per-cause values and no `.sum` needs a configured formula that adds them, such as
 * `sum(counter("RRC.ConnEstabAtt.mo-Data"), counter("RRC.ConnEstabAtt.mo-Signalling"))`.
 */

/** KPI name (see DEFAULT_KPIS in src/kpis.ts) → formula over 28.552 measurement names. */
export const DEFAULT_PM_KPIS: Readonly<Record<string, string>> = Object.freeze({
  // 28.552 "Average DL UE throughput in gNB" (DRB.UEThpDl) is reported in kbit/s; / 1000 gives Mbit/s.
  dl_throughput_mbps: 'DRB.UEThpDl / 1000',

  // 28.552 "Average UL UE throughput in gNB" (DRB.UEThpUl), kbit/s → Mbit/s.
  ul_throughput_mbps: 'DRB.UEThpUl / 1000',

  // 28.552 "DL PRB used for data traffic" (RRU.PrbUsedDl) over "DL total available PRB" (RRU.PrbAvailDl), both
  // PRB counts, as a percentage. (RRU.PrbTotDl is already a percentage but also counts common channels.)
  prb_util_dl_pct: '100 * RRU.PrbUsedDl / RRU.PrbAvailDl',

  // 28.552 "Mean number of RRC Connections" (RRC.ConnMean): a count of UEs, no conversion.
  active_users: 'RRC.ConnMean',

  // 28.552 "Successful / Attempted RRC connection establishments", kept per establishment cause; `.sum` is the
  // total over all causes. Ratio as a percentage.
  rrc_setup_success_pct: '100 * RRC.ConnEstabSucc.sum / RRC.ConnEstabAtt.sum',

  // 28.552 has no E-RAB (that is LTE, TS 32.425 ERAB.*); its NR counterpart of the LTE E-RAB drop ratio is
  // "Number of released active DRBs" (DRB.RelActNbr) over "Number of successfully established DRBs"
  // (DRB.EstabSucc), both kept per 5QI with a `.sum` total. Ratio as a percentage.
  erab_drop_pct: '100 * DRB.RelActNbr.sum / DRB.EstabSucc.sum',

  // 28.552 "Number of successful / requested handover executions" for intra-gNB handovers
  // (MM.HoExeIntraSucc, MM.HoExeIntraReq). Ratio as a percentage.
  ho_success_pct: '100 * MM.HoExeIntraSucc / MM.HoExeIntraReq',
});

/**
 * Default KPIs with no single-valued 28.552 measurement, with the reason: the config layer shows it to the user
 * and asks for a formula over their vendor's counter.
 */
export const UNMAPPED_DEFAULT_KPIS: Readonly<Record<string, string>> = Object.freeze({
  rsrp_dbm:
    '28.552 reports SS-RSRP only as a distribution (L1M.SS-RSRP bins), not as one value; ' +
    "configure a formula over your vendor's mean RSRP counter",
  sinr_db:
    '28.552 reports SS-SINR only as a distribution (L1M.SS-SINR bins), not as one value; ' +
    "configure a formula over your vendor's mean SINR counter",
  cpu_load_pct: "28.552 has no processor load measurement; configure a formula over your vendor's CPU load counter",
});

/** The default formula for a KPI, or undefined when the KPI has none (see UNMAPPED_DEFAULT_KPIS). */
export function defaultFormulaFor(kpi: string): string | undefined {
  return Object.hasOwn(DEFAULT_PM_KPIS, kpi) ? DEFAULT_PM_KPIS[kpi] : undefined;
}
