// The Staff page's state lives in the URL (shareable, survives reload): these map it to the API query.
import { PAGE_SIZES } from "../../components/Pager";

export type StaffStatus = "all" | "active" | "inactive";
/** The staff API's orderings the table offers (default: by name). */
export const ORDERINGS = ["name", "-name", "customer_count", "-customer_count"] as const;
export type Ordering = (typeof ORDERINGS)[number];

export interface StaffView {
  /** WeCom department id (the staff API's `department`), or null for everyone. */
  department: number | null;
  search: string;
  status: StaffStatus;
  ordering: Ordering;
  page: number;
  pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 20;
const STATUSES: StaffStatus[] = ["all", "active", "inactive"];

function positive(raw: string | null): number | null {
  const n = Number(raw);
  return raw !== null && Number.isInteger(n) && n >= 1 ? n : null;
}

/** The view a URL describes; anything malformed falls back to the default rather than a 400. */
export function viewFromParams(params: URLSearchParams): StaffView {
  const size = positive(params.get("page_size")) ?? DEFAULT_PAGE_SIZE;
  const status = params.get("status") as StaffStatus | null;
  const ordering = params.get("ordering") as Ordering | null;
  return {
    department: positive(params.get("department")),
    search: (params.get("search") ?? "").trim(),
    status: status && STATUSES.includes(status) ? status : "all",
    ordering: ordering && ORDERINGS.includes(ordering) ? ordering : "name",
    page: positive(params.get("page")) ?? 1,
    pageSize: PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** The URL parameters of a view: defaults are left out so the plain list has a plain URL. */
export function paramsFromView(view: StaffView): URLSearchParams {
  const params = new URLSearchParams();
  if (view.department !== null) params.set("department", String(view.department));
  if (view.search) params.set("search", view.search);
  if (view.status !== "all") params.set("status", view.status);
  if (view.ordering !== "name") params.set("ordering", view.ordering);
  if (view.page > 1) params.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) params.set("page_size", String(view.pageSize));
  return params;
}

/** Ties are broken by name, then id, so a page never repeats or skips a member. */
const API_ORDERING: Record<Ordering, string> = {
  name: "name,id",
  "-name": "-name,-id",
  customer_count: "customer_count,name,id",
  "-customer_count": "-customer_count,name,id",
};

/** The staff API's query for a view. */
export function apiQuery(view: StaffView) {
  return {
    page: view.page,
    page_size: view.pageSize,
    ordering: API_ORDERING[view.ordering],
    ...(view.department !== null ? { department: view.department } : {}),
    ...(view.search ? { search: view.search } : {}),
    ...(view.status !== "all" ? { is_active: view.status === "active" } : {}),
  };
}

/** A filter change starts again from the first page. */
export function withFilters(
  view: StaffView,
  change: Partial<Pick<StaffView, "department" | "search" | "status" | "ordering">>,
): StaffView {
  return { ...view, ...change, page: 1 };
}

export function isFiltered(view: StaffView): boolean {
  return view.department !== null || Boolean(view.search) || view.status !== "all";
}

/** The customers list of one staff member (the contacts API's `staff` filter takes a userid). */
export function customersOf(userid: string): string {
  return `/customers?${new URLSearchParams({ staff: userid })}`;
}

/** The customers followed by a department's staff (the contacts API's `department`: a WeCom id). */
export function customersOfDepartment(department: number): string {
  return `/customers?${new URLSearchParams({ department: String(department) })}`;
}
