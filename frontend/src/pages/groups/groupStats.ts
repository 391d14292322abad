// The group statistics page's pure logic (groupStats.test.ts): its state (date range, owners, the
// charted metric) ↔ the URL and the query of GET /api/v1/group-stats/, the headline figures as shown,
// and the chart's option. WeCom publishes a day's figures the next day, so the days the API fills
// with zeros (today; days not fetched yet) are "no figures", not "nothing happened".
import type { Dayjs } from "dayjs";

import type { Schemas } from "../../api/client";
import type { ChartOption } from "../../components/Chart";
import { type DateRange, readRange, writeRange } from "../channels/params";
import { parseIds } from "../customers/filters";

export type OwnerStats = Schemas["OwnerStats"];
export type OwnerStatsDay = Schemas["OwnerStatsDay"];
export type OwnerStatsTotals = Schemas["OwnerStatsTotals"];

/** WeCom's seven figures, in the order the page shows them. */
export const METRICS = [
  "chat_total",
  "member_total",
  "new_chat_cnt",
  "new_member_cnt",
  "chat_has_msg",
  "member_has_msg",
  "msg_total",
] as const;
export type Metric = (typeof METRICS)[number];
export const DEFAULT_METRIC: Metric = "member_total";

/**
 * How a figure reads over several days (the API's totals follow the same rule):
 * - stock: a count at the day's end (groups, members): the range's is the last day's;
 * - event: what happened that day (new groups, new members, messages): summed;
 * - active: groups (members) that had messages that day: summed they count a group once per active
 *   day, so the page leads with the daily average.
 */
export const METRIC_KIND: Record<Metric, "stock" | "event" | "active"> = {
  chat_total: "stock",
  member_total: "stock",
  new_chat_cnt: "event",
  new_member_cnt: "event",
  chat_has_msg: "active",
  member_has_msg: "active",
  msg_total: "event",
};

export interface StatsView {
  range: DateRange;
  /** Owners' staff ids (none: every owner in scope). */
  owner: number[];
  metric: Metric;
}

/** The page's state from its URL (`?from=&to=&owner=3,4&metric=msg_total`); what is malformed falls
 * back to the default (the last 30 days, every owner, members). */
export function readStatsView(search: string | URLSearchParams, today: Dayjs): StatsView {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  return {
    range: readRange(params, today),
    owner: parseIds(params.get("owner")),
    metric: METRICS.find((m) => m === params.get("metric")) ?? DEFAULT_METRIC,
  };
}

/** The canonical query string: the defaults are left out, so the plain page has a plain URL. */
export function writeStatsView(view: StatsView, today: Dayjs): URLSearchParams {
  const out = writeRange(new URLSearchParams(), view.range, today);
  if (view.owner.length) out.set("owner", view.owner.join(","));
  if (view.metric !== DEFAULT_METRIC) out.set("metric", view.metric);
  return out;
}

export interface StatsQuery {
  date_from: string;
  date_to: string;
  owner?: number[];
}

/** The query of GET /api/v1/group-stats/. `owners: false` (sales, who see their own groups only and
 * have no owner filter) leaves out owners a shared link may carry. */
export function statsQuery(view: StatsView, { owners = true }: { owners?: boolean } = {}): StatsQuery {
  const query: StatsQuery = { date_from: view.range.from, date_to: view.range.to };
  if (owners && view.owner.length) query.owner = [...view.owner].sort((a, b) => a - b);
  return query;
}

/** Whether WeCom gave figures for the day (the API fills the others with zeros). */
export function dayHasFigures(day: OwnerStatsDay): boolean {
  return day.has_figures;
}

export interface Coverage {
  /** Days of the range with figures. */
  days: number;
  /** The last of them (YYYY-MM-DD), or null when none has figures. */
  last: string | null;
}

export function coverage(days: OwnerStatsDay[]): Coverage {
  let count = 0;
  let last: string | null = null;
  for (const day of days) {
    if (!dayHasFigures(day)) continue;
    count += 1;
    if (last === null || day.day > last) last = day.day;
  }
  return { days: count, last };
}

function locale(lang: string): string {
  return lang.toLowerCase().startsWith("zh") ? "zh-CN" : "en-US";
}

/** A whole count with the language's digit grouping: 12,345. */
export function formatCount(value: number, lang: string): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 0 }).format(Math.round(value));
}

/** An average with at most one decimal: 12.3, 8 (not 8.0). */
export function formatAverage(value: number, lang: string): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 1 }).format(Math.round(value * 10) / 10);
}

export interface Headline {
  metric: Metric;
  /** The figure as shown. */
  value: string;
  /** What the figure is, for the note under it: the day a stock is at, the sum behind an average. */
  note: { key: "asOf"; day: string } | { key: "activeSum"; total: string } | null;
}

/** The headline figures of the range: stocks at the last day with figures, events summed, activity as
 * a daily average over the days with figures (with the sum in the note). */
export function headlines(totals: OwnerStatsTotals, days: OwnerStatsDay[], lang: string): Headline[] {
  const covered = coverage(days);
  return METRICS.map((metric) => {
    const kind = METRIC_KIND[metric];
    if (kind === "stock") {
      return { metric, value: formatCount(totals[metric], lang), note: covered.last ? { key: "asOf", day: covered.last } : null };
    }
    if (kind === "active") {
      const average = covered.days ? totals[metric] / covered.days : 0;
      return { metric, value: formatAverage(average, lang), note: { key: "activeSum", total: formatCount(totals[metric], lang) } };
    }
    return { metric, value: formatCount(totals[metric], lang), note: null };
  });
}

const BLUE = "#1677ff";

/** One metric per day as a line; a day without figures is a gap (not a fall to zero). */
export function metricOption(days: OwnerStatsDay[], metric: Metric, name: string): ChartOption {
  const data = days.map((d) => (dayHasFigures(d) ? d[metric] : null));
  return {
    tooltip: { trigger: "axis" },
    grid: { left: 48, right: 16, top: 24, bottom: 28 },
    xAxis: { type: "category", data: days.map((d) => d.day.slice(5)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      {
        name,
        type: "line",
        smooth: true,
        connectNulls: false,
        showSymbol: days.length <= 31,
        data,
        itemStyle: { color: BLUE },
        areaStyle: { opacity: 0.08 },
      },
    ],
  };
}
