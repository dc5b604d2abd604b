/** Rollup bucket widths, and the bucket (epoch ms, UTC) a time falls in. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

export const minuteStart = (time: number) => Math.floor(time / MINUTE_MS) * MINUTE_MS;
export const hourStart = (time: number) => Math.floor(time / HOUR_MS) * HOUR_MS;
