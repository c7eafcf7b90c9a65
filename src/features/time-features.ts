/** Calendar features that let the model know a quiet cell at 15:00 is not a quiet cell at 03:00. */
export const TIME_FEATURES = ['hour_of_day', 'day_of_week'] as const;
export type TimeFeature = (typeof TIME_FEATURES)[number];

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
// 1970-01-01 was a Thursday; shift so that the weekly phase starts on Monday 00:00.
const MONDAY_SHIFT_MS = 3 * DAY_MS;

/** Local hour of day, 0-23, of a UTC timestamp. */
export function localHour(timestampMs: number, utcOffsetMinutes: number): number {
  const localMs = timestampMs + utcOffsetMinutes * 60_000;
  return Math.floor((((localMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000);
}

/** Key of a normalisation bucket: the entity, and with hourly seasonality the local hour ("S1/2@13"). */
export function bucketKey(entityKey: string, hour: number | undefined): string {
  return hour === undefined ? entityKey : `${entityKey}@${hour}`;
}

/** Write each time feature as a sine and a cosine of its phase, so 23:00 sits next to 00:00. */
export function writeTimeFeatures(
  out: Float32Array,
  offset: number,
  features: readonly TimeFeature[],
  timestampMs: number,
  utcOffsetMinutes: number,
): void {
  const localMs = timestampMs + utcOffsetMinutes * 60_000;
  let i = offset;
  for (const feature of features) {
    const phase =
      feature === 'hour_of_day'
        ? (((localMs % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS
        : ((((localMs + MONDAY_SHIFT_MS) % WEEK_MS) + WEEK_MS) % WEEK_MS) / WEEK_MS;
    out[i++] = Math.sin(2 * Math.PI * phase);
    out[i++] = Math.cos(2 * Math.PI * phase);
  }
}
