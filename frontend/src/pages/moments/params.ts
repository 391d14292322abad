// The Moments list's state in the URL (shareable, survives a reload): which view (tasks, every post,
// the calendar), its filters, its page and the calendar's month. Defaults are left out so the plain
// page has a plain URL.
import { PAGE_SIZES } from "../../components/Pager";
import { parseMonth } from "../../lib/moments";
import type { TaskStatus } from "./types";

export const VIEWS = ["tasks", "moments", "calendar"] as const;
export type View = (typeof VIEWS)[number];
export const TASK_STATUSES: TaskStatus[] = ["draft", "scheduled", "submitting", "publishing", "cancelled", "failed"];
export const DEFAULT_PAGE_SIZE = 20;

export interface ListView {
  view: View;
  status: TaskStatus | null;
  search: string;
  /** WeCom's create_type: 0 corp posts, 1 members' own (moments view). */
  createType: 0 | 1 | null;
  from: string;
  to: string;
  /** The calendar's YYYY-MM ("" until one is picked: this month). */
  month: string;
  page: number;
  pageSize: number;
}

function positive(raw: string | null): number | null {
  const text = (raw ?? "").trim();
  if (!/^\d{1,9}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n : null;
}

function choice<T extends string>(raw: string | null, choices: readonly T[]): T | null {
  return choices.find((c) => c === raw) ?? null;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function readList(params: URLSearchParams): ListView {
  const size = positive(params.get("page_size"));
  const createType = params.get("create_type");
  const day = (key: string) => {
    const raw = (params.get(key) ?? "").trim();
    return DAY_RE.test(raw) ? raw : "";
  };
  return {
    view: choice(params.get("view"), VIEWS) ?? "tasks",
    status: choice(params.get("status"), TASK_STATUSES),
    search: (params.get("search") ?? "").trim(),
    createType: createType === "0" ? 0 : createType === "1" ? 1 : null,
    from: day("from"),
    to: day("to"),
    month: parseMonth(params.get("month")) ?? "",
    page: positive(params.get("page")) ?? 1,
    pageSize: size !== null && PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

export function writeList(view: ListView): URLSearchParams {
  const out = new URLSearchParams();
  if (view.view !== "tasks") out.set("view", view.view);
  if (view.status) out.set("status", view.status);
  if (view.search) out.set("search", view.search);
  if (view.createType !== null) out.set("create_type", String(view.createType));
  if (view.from) out.set("from", view.from);
  if (view.to) out.set("to", view.to);
  if (view.month) out.set("month", view.month);
  if (view.page > 1) out.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) out.set("page_size", String(view.pageSize));
  return out;
}

export function hasListFilters(view: ListView): boolean {
  return Boolean(view.status || view.search || view.createType !== null || view.from || view.to);
}
