// The Lost page's state lives in the URL (shareable, survives reload): these map it to the API query.
import { PAGE_SIZES } from "../../components/Pager";

export interface LostView {
  staff: string;
  from: string; // YYYY-MM-DD, the first day lost (inclusive)
  to: string; // YYYY-MM-DD, the last day lost (inclusive)
  page: number;
  pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 20;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day (2024-02-30 is not): the API would answer 400 for it. */
function isDay(value: string): boolean {
  if (!DATE.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
}

function positive(raw: string | null, fallback: number): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : fallback;
}

/** The view a URL describes; anything malformed falls back to the default rather than a 400. */
export function viewFromParams(params: URLSearchParams): LostView {
  const size = positive(params.get("page_size"), DEFAULT_PAGE_SIZE);
  const date = (key: string) => {
    const value = params.get(key) ?? "";
    return isDay(value) ? value : "";
  };
  return {
    staff: params.get("staff") ?? "",
    from: date("from"),
    to: date("to"),
    page: positive(params.get("page"), 1),
    pageSize: PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** The URL parameters of a view: defaults are left out so a plain list has a plain URL. */
export function paramsFromView(view: LostView): URLSearchParams {
  const params = new URLSearchParams();
  if (view.staff) params.set("staff", view.staff);
  if (view.from) params.set("from", view.from);
  if (view.to) params.set("to", view.to);
  if (view.page > 1) params.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) params.set("page_size", String(view.pageSize));
  return params;
}

/** The losses API's query for a view. */
export function apiQuery(view: LostView) {
  return {
    page: view.page,
    page_size: view.pageSize,
    ...(view.staff ? { staff: view.staff } : {}),
    ...(view.from ? { ended_after: view.from } : {}),
    ...(view.to ? { ended_before: view.to } : {}),
  };
}

/** A filter change starts again from the first page (page 3 of another filter means nothing). */
export function withFilters(view: LostView, change: Partial<Pick<LostView, "staff" | "from" | "to">>): LostView {
  return { ...view, ...change, page: 1 };
}

export function isFiltered(view: LostView): boolean {
  return Boolean(view.staff || view.from || view.to);
}
