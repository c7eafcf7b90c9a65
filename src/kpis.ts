/**
 * The default cell KPI set, in model order. It is only a default: every command takes the feature list
 * as configuration, and a model carries its own list in its metadata.
 */
export const DEFAULT_KPIS = [
  'rsrp_dbm',
  'sinr_db',
  'dl_throughput_mbps',
  'ul_throughput_mbps',
  'prb_util_dl_pct',
  'active_users',
  'rrc_setup_success_pct',
  'erab_drop_pct',
  'ho_success_pct',
  'cpu_load_pct',
] as const;

/** Column names recognised as entity columns, from the most general to the most specific. */
export const KNOWN_ENTITY_COLUMNS = ['site', 'host', 'machine', 'node', 'sector', 'cell', 'entity'] as const;

/** Columns that describe labels, never features. */
export const LABEL_COLUMNS = ['label', 'kind', 'maintenance'] as const;

export const DEFAULT_TIMESTAMP_COLUMN = 'timestamp';
