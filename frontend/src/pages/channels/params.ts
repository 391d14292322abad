// The channel pages' state in the URL (shareable, survives a reload): the date range of the stats,
// and the list's search and page. Defaults are left out so the plain page has a plain URL.
import dayjs, { type Dayjs } from "dayjs";

import { PAGE_SIZES } from "../../components/Pager";

export interface DateRange {
  /** YYYY-MM-DD, both days included (the API's `from` and `to`). */
  from: string;
  to: string;
}

/** The API's default and its limit (contacts/apis/channels.py). */
export const DEFAULT_RANGE_DAYS = 30;
export const MAX_RANGE_DAYS = 366;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function day(value: Dayjs): string {
  return value.format("YYYY-MM-DD");
}

export function lastDays(days: number, today: Dayjs): DateRange {
  return { from: day(today.subtract(days - 1, "day")), to: day(today) };
}

function parseDay(raw: string | null): Dayjs | null {
  if (!raw || !DAY_RE.test(raw)) return null;
  const value = dayjs(raw);
  // dayjs rolls 2026-02-31 over to March: only a day that reads back the same is a real one.
  return value.isValid() && day(value) === raw ? value : null;
}

/** The range a URL asks for; a malformed or too long one falls back to the last 30 days. */
export function readRange(params: URLSearchParams, today: Dayjs): DateRange {
  const from = parseDay(params.get("from"));
  const to = parseDay(params.get("to"));
  if (!from || !to || from.isAfter(to) || to.diff(from, "day") >= MAX_RANGE_DAYS) {
    return lastDays(DEFAULT_RANGE_DAYS, today);
  }
  return { from: day(from), to: day(to) };
}

/** `params` with the range set (or removed when it is the default). */
export function writeRange(params: URLSearchParams, range: DateRange, today: Dayjs): URLSearchParams {
  const next = new URLSearchParams(params);
  const fallback = lastDays(DEFAULT_RANGE_DAYS, today);
  if (range.from === fallback.from && range.to === fallback.to) {
    next.delete("from");
    next.delete("to");
  } else {
    next.set("from", range.from);
    next.set("to", range.to);
  }
  return next;
}

export interface ListView {
  search: string;
  page: number;
  pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 20;

function positive(raw: string | null): number | null {
  const n = Number(raw);
  return raw !== null && Number.isInteger(n) && n >= 1 ? n : null;
}

export function readList(params: URLSearchParams): ListView {
  const size = positive(params.get("page_size")) ?? DEFAULT_PAGE_SIZE;
  return {
    search: (params.get("search") ?? "").trim(),
    page: positive(params.get("page")) ?? 1,
    pageSize: PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** `params` with the list's view set; the range and anything else in it are kept. */
export function writeList(params: URLSearchParams, view: ListView): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const key of ["search", "page", "page_size"]) next.delete(key);
  if (view.search) next.set("search", view.search);
  if (view.page > 1) next.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) next.set("page_size", String(view.pageSize));
  return next;
}

/** A share (0…1, or null when nobody was added long enough ago) as a percentage. */
export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined) return "—";
  return `${Math.round(share * 1000) / 10}%`;
}

/** A greeting's latency, from the callback's receipt to WeCom's answer: 312 ms, 1.4 s, 21 s. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
