// The customers list's state (filters, ordering, page, page size, the open customer) ↔ the URL's
// query string. Pure functions, so a view can be shared and reloaded, and the mapping is unit-tested
// (filters.test.ts). The URL uses the contacts API's own parameter names (tags_all=3,4&status=lost),
// so a shared link reads like the API call it makes.
import type { operations } from "../../api/schema";
import { PAGE_SIZES } from "../../components/Pager";

export const ADD_WAYS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 201, 202] as const;
export type AddWay = (typeof ADD_WAYS)[number];
export const STATUSES = ["active", "lost"] as const;
export type Status = (typeof STATUSES)[number];
export const GENDERS = [0, 1, 2] as const;
export type Gender = (typeof GENDERS)[number];
export const ORDERINGS = ["-id", "id", "-first_added_at", "first_added_at", "-name", "name"] as const;
export type Ordering = (typeof ORDERINGS)[number];
/** One of the pager's sizes (PAGE_SIZES, components/Pager.tsx); anything else in a URL falls back to it. */
export const DEFAULT_PAGE_SIZE = 50;
/** The API refuses more ids than this in one tag filter. */
export const MAX_TAGS = 50;

/** The contacts list's filters (contacts/filters.py), keyed by their API parameter names. */
export interface CustomerFilters {
  tags_all: number[];
  tags_any: number[];
  tags_none: number[];
  staff: string;
  department: number | null;
  state: string;
  add_way: AddWay | null;
  stage: number | null;
  status: Status | null;
  gender: Gender | null;
  added_after: string;
  added_before: string;
  search: string;
}

export const FILTER_PARAMS = [
  "tags_all",
  "tags_any",
  "tags_none",
  "staff",
  "department",
  "state",
  "add_way",
  "stage",
  "status",
  "gender",
  "added_after",
  "added_before",
  "search",
] as const satisfies readonly (keyof CustomerFilters)[];

export const EMPTY_FILTERS: CustomerFilters = Object.freeze({
  tags_all: [],
  tags_any: [],
  tags_none: [],
  staff: "",
  department: null,
  state: "",
  add_way: null,
  stage: null,
  status: null,
  gender: null,
  added_after: "",
  added_before: "",
  search: "",
}) as CustomerFilters;

export interface ListState {
  filters: CustomerFilters;
  /** null: the API's default (newest first). */
  ordering: Ordering | null;
  page: number;
  pageSize: number;
  /** The customer whose drawer is open. */
  contact: number | null;
}

export const EMPTY_STATE: ListState = Object.freeze({
  filters: EMPTY_FILTERS,
  ordering: null,
  page: 1,
  pageSize: DEFAULT_PAGE_SIZE,
  contact: null,
}) as ListState;

// -- parsing single values ----------------------------------------------------------------------

/** A positive integer written in plain digits ("12"), else null ("1.5", "-3", "1e3", "0x1" are not). */
export function parseId(raw: string | null | undefined): number | null {
  const text = (raw ?? "").trim();
  if (!/^\d{1,15}$/.test(text)) return null;
  const value = Number(text);
  return value >= 1 ? value : null;
}

/** Comma-separated ids: the valid ones, each once, in the order given, at most MAX_TAGS. */
export function parseIds(raw: string | null | undefined): number[] {
  const out: number[] = [];
  for (const part of (raw ?? "").split(",")) {
    const id = parseId(part);
    if (id !== null && !out.includes(id)) out.push(id);
  }
  return out.slice(0, MAX_TAGS);
}

/** An ISO calendar date (YYYY-MM-DD) that exists, else "". */
export function parseDate(raw: string | null | undefined): string {
  const text = (raw ?? "").trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return "";
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return exists && year >= 1 ? text : "";
}

function parseChoice<T extends string | number>(raw: string | null | undefined, choices: readonly T[]): T | null {
  const text = (raw ?? "").trim();
  if (text === "") return null;
  return choices.find((choice) => String(choice) === text) ?? null;
}

// -- filters ↔ parameters -----------------------------------------------------------------------

type Params = Record<string, string | null | undefined>;

/** Filters from parameters (a URL's, or a saved segment's); invalid or unknown values are dropped. */
export function filtersFromParams(params: Params): CustomerFilters {
  const text = (name: string) => (params[name] ?? "").trim();
  const added_after = parseDate(params.added_after);
  const added_before = parseDate(params.added_before);
  return {
    tags_all: parseIds(params.tags_all),
    tags_any: parseIds(params.tags_any),
    tags_none: parseIds(params.tags_none),
    staff: text("staff"),
    department: parseId(params.department), // WeCom's are positive (the root is 1)
    state: text("state"),
    add_way: parseChoice(params.add_way, ADD_WAYS),
    stage: parseId(params.stage),
    status: parseChoice(params.status, STATUSES),
    gender: parseChoice(params.gender, GENDERS),
    added_after,
    added_before,
    search: text("search"),
  };
}

/** The filters that are set, as API parameters (the body of a segment, an export, a bulk action). */
export function filtersToParams(filters: CustomerFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FILTER_PARAMS) {
    const value = filters[name];
    if (Array.isArray(value)) {
      if (value.length) out[name] = value.join(",");
    } else if (value !== null && value !== undefined && String(value).trim() !== "") {
      out[name] = String(value).trim();
    }
  }
  return out;
}

export function hasActiveFilters(filters: CustomerFilters): boolean {
  return Object.keys(filtersToParams(filters)).length > 0;
}

/** Same selection: tag lists compare as sets (the API sorts them), everything else by value. */
export function sameFilters(a: CustomerFilters, b: CustomerFilters): boolean {
  const canonical = (filters: CustomerFilters) => {
    const params = filtersToParams({
      ...filters,
      tags_all: [...filters.tags_all].sort((x, y) => x - y),
      tags_any: [...filters.tags_any].sort((x, y) => x - y),
      tags_none: [...filters.tags_none].sort((x, y) => x - y),
    });
    return JSON.stringify(FILTER_PARAMS.map((name) => params[name] ?? ""));
  };
  return canonical(a) === canonical(b);
}

// -- the whole list state ↔ the URL -------------------------------------------------------------

function toRecord(search: string | URLSearchParams): Params {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const out: Params = {};
  // A repeated parameter: the first value wins (the one a person reading the URL sees first).
  for (const [key, value] of params) if (!(key in out)) out[key] = value;
  return out;
}

export function readListState(search: string | URLSearchParams): ListState {
  const params = toRecord(search);
  const page = parseId(params.page) ?? 1;
  const size = parseId(params.page_size);
  return {
    filters: filtersFromParams(params),
    ordering: parseChoice(params.ordering, ORDERINGS),
    page,
    pageSize: size !== null && PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
    contact: parseId(params.contact),
  };
}

/** The canonical query string of a state: empty values and defaults are left out. */
export function writeListState(state: ListState): URLSearchParams {
  const out = new URLSearchParams(filtersToParams(state.filters));
  if (state.ordering && state.ordering !== "-id") out.set("ordering", state.ordering);
  if (state.page > 1) out.set("page", String(state.page));
  if (state.pageSize !== DEFAULT_PAGE_SIZE) out.set("page_size", String(state.pageSize));
  if (state.contact !== null) out.set("contact", String(state.contact));
  return out;
}

// -- transitions --------------------------------------------------------------------------------

/** New filters; back to page 1 when the selection changed (page 7 of another filter means nothing). */
export function withFilters(state: ListState, patch: Partial<CustomerFilters>): ListState {
  const filters = { ...state.filters, ...patch };
  if (sameFilters(filters, state.filters)) return { ...state, filters };
  return { ...state, filters, page: 1 };
}

/** Replace every filter (opening a saved segment). */
export function replaceFilters(state: ListState, filters: CustomerFilters): ListState {
  return withFilters(state, filters);
}

export function clearFilters(state: ListState): ListState {
  return withFilters(state, EMPTY_FILTERS);
}

export function withOrdering(state: ListState, ordering: Ordering | null): ListState {
  if ((ordering ?? "-id") === (state.ordering ?? "-id")) return state;
  return { ...state, ordering, page: 1 };
}

export function withPage(state: ListState, page: number): ListState {
  return { ...state, page: Number.isInteger(page) && page >= 1 ? page : 1 };
}

export function withPageSize(state: ListState, pageSize: number): ListState {
  if (pageSize === state.pageSize) return state;
  return { ...state, pageSize, page: 1 };
}

export function withContact(state: ListState, contact: number | null): ListState {
  return { ...state, contact };
}

// -- the API call -------------------------------------------------------------------------------

export type ContactsQuery = NonNullable<operations["v1_contacts_list"]["parameters"]["query"]>;

/** The query of GET /api/v1/contacts/ for this state. */
export function contactsQuery(state: ListState): ContactsQuery {
  const f = state.filters;
  const query: ContactsQuery = { page: state.page, page_size: state.pageSize };
  if (f.tags_all.length) query.tags_all = f.tags_all.join(",");
  if (f.tags_any.length) query.tags_any = f.tags_any.join(",");
  if (f.tags_none.length) query.tags_none = f.tags_none.join(",");
  if (f.staff) query.staff = f.staff;
  if (f.department !== null) query.department = f.department;
  if (f.state) query.state = f.state;
  if (f.add_way !== null) query.add_way = f.add_way;
  if (f.stage !== null) query.stage = f.stage;
  if (f.status !== null) query.status = f.status;
  if (f.gender !== null) query.gender = f.gender;
  if (f.added_after) query.added_after = f.added_after;
  if (f.added_before) query.added_before = f.added_before;
  if (f.search) query.search = f.search;
  if (state.ordering) query.ordering = state.ordering;
  return query;
}
