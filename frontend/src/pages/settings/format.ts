// How long a sync run took, in the UI's language ("1h 02m" / "1 小时 2 分").

/** The `t` of the "settings" namespace (or any function that reads its `duration.*` strings). */
export type Translate = (key: "duration.hours" | "duration.minutes" | "duration.seconds", values: Record<string, string | number>) => string;

/** null when there is no start; a running run counts up to `now`. */
export function formatDuration(
  t: Translate,
  start: string | null | undefined,
  end: string | null | undefined,
  now = Date.now(),
): string | null {
  if (!start) return null;
  const ms = Math.max(0, (end ? Date.parse(end) : now) - Date.parse(start));
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h) return t("duration.hours", { h, m, mm: pad(m) });
  if (m) return t("duration.minutes", { m, s, ss: pad(s) });
  return t("duration.seconds", { s });
}
