// How the dashboard writes dates and times: one format everywhere, "—" for a missing value.
import dayjs from "dayjs";

type When = string | number | Date | null | undefined;

/** 2026-11-23 19:54 */
export function dateTime(value: When): string {
  return value ? dayjs(value).format("YYYY-MM-DD HH:mm") : "—";
}

/** 2026-11-23 19:54:07, where seconds matter (sync runs, callback events). */
export function dateTimeSeconds(value: When): string {
  return value ? dayjs(value).format("YYYY-MM-DD HH:mm:ss") : "—";
}

/** 2026-11-23 */
export function date(value: When): string {
  return value ? dayjs(value).format("YYYY-MM-DD") : "—";
}
