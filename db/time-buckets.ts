/** Rollup bucket widths, and the bucket (epoch ms, UTC) a time falls in. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

/** Start of the bucket of `widthMs` (a chart step, a minute, an hour) that holds `time`. */
export const bucketStart = (time: number, widthMs: number) => Math.floor(time / widthMs) * widthMs;
export const minuteStart = (time: number) => bucketStart(time, MINUTE_MS);
export const hourStart = (time: number) => bucketStart(time, HOUR_MS);
