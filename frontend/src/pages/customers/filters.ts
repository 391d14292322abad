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
export const ORDERINGS = ["-id", "id", "-first_added_at", "first_added_at", "-name", "name", "-score", "score", "-ltv", "ltv"] as const;
export type Ordering = (typeof ORDERINGS)[number];
/** One of the pager's sizes (PAGE_SIZES, components/Pager.tsx); anything else in a URL falls back to it. */
export const DEFAULT_PAGE_SIZE = 50;
/** The API refuses more ids than this in one tag filter. */
export const MAX_TAGS = 50;
/** The lifecycle tiers (value/models.py Tier), in the order the dashboard lists them. */
export const TIERS = ["new", "active", "silent", "high_value", "lost"] as const;
export type Tier = (typeof TIERS)[number];
/** "Purchased within" / "not purchased within" take days in 1–3650 (contacts/filters.py). */
export const MAX_DAYS = 3650;
/** The API refuses more profile clauses than this. */
export const MAX_CLAUSES = 10;

// -- profile clauses ----------------------------------------------------------------------------

/** How a profile clause compares (`profile=city=上海;budget>=3000;birthday?`): equals (for a multiple
 * choice field: contains), differs, at least, at most (numbers and dates), text contains
 * (case-insensitive), has a value, has none. */
export const CLAUSE_OPS = ["=", "!=", ">=", "<=", "~", "?", "!?"] as const;
export type ClauseOp = (typeof CLAUSE_OPS)[number];
/** The operators that take no value. */
export const PRESENCE_OPS: readonly ClauseOp[] = ["?", "!?"];

export interface ProfileClause {
  /** A profile field's key (^[a-z][a-z0-9_]{0,31}$). */
  key: string;
  op: ClauseOp;
  /** "" for ? and !?. */
  value: string;
}

// The longest operators first, so "!=" is not read as "!" + "=value" and "!?" not as "!" + "?".
const CLAUSE_RE = /^([a-z][a-z0-9_]{0,31})\s*(!=|>=|<=|!\?|=|~|\?)(.*)$/s;

/** One clause from its text, or null when it is not one (the API would refuse it). A value cannot
 * hold ";" (it separates clauses); a presence test has none. */
export function parseClause(raw: string): ProfileClause | null {
  const match = CLAUSE_RE.exec(raw.trim());
  if (!match) return null;
  const [, key, op, rest] = match;
  const value = rest.trim();
  if (PRESENCE_OPS.includes(op as ClauseOp)) return value === "" ? { key, op: op as ClauseOp, value: "" } : null;
  if (value === "" || value.includes(";")) return null;
  return { key, op: op as ClauseOp, value };
}

/** Clauses from the `profile` parameter: the valid ones, each once, in order, at most MAX_CLAUSES. */
export function parseClauses(raw: string | null | undefined): ProfileClause[] {
  const out: ProfileClause[] = [];
  for (const part of (raw ?? "").split(";")) {
    const clause = parseClause(part);
    if (clause && !out.some((c) => clauseText(c) === clauseText(clause))) out.push(clause);
  }
  return out.slice(0, MAX_CLAUSES);
}

export function clauseText(clause: ProfileClause): string {
  return `${clause.key}${clause.op}${PRESENCE_OPS.includes(clause.op) ? "" : clause.value}`;
}

/** The `profile` parameter for these clauses ("" for none). */
export function clausesParam(clauses: readonly ProfileClause[]): string {
  return clauses.map(clauseText).join(";");
}

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
  // Customer value (contacts/filters.py, value/): null or "" when unset.
  tier: Tier | null;
  score_min: number | null;
  score_max: number | null;
  /** Decimal amounts as the API writes them ("199.5"), to keep the cents exact. */
  ltv_min: string;
  ltv_max: string;
  orders_min: number | null;
  purchased_within: number | null;
  not_purchased_within: number | null;
  points_min: number | null;
  level: number | null;
  profile: ProfileClause[];
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
  "tier",
  "score_min",
  "score_max",
  "ltv_min",
  "ltv_max",
  "orders_min",
  "purchased_within",
  "not_purchased_within",
  "points_min",
  "level",
  "profile",
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
  tier: null,
  score_min: null,
  score_max: null,
  ltv_min: "",
  ltv_max: "",
  orders_min: null,
  purchased_within: null,
  not_purchased_within: null,
  points_min: null,
  level: null,
  profile: [],
}) as CustomerFilters;

/** The filters on a customer's value, points and profile (the list shows them in their own panel). */
export const VALUE_FILTERS = [
  "tier",
  "score_min",
  "score_max",
  "ltv_min",
  "ltv_max",
  "orders_min",
  "purchased_within",
  "not_purchased_within",
  "points_min",
  "level",
  "profile",
] as const satisfies readonly (keyof CustomerFilters)[];

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

/** A whole number in [min, max] written in plain digits, else null. */
export function parseCount(raw: string | null | undefined, min: number, max: number): number | null {
  const text = (raw ?? "").trim();
  if (!/^\d{1,15}$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** The API's largest amount (12 digits, 2 decimals). */
export const MAX_AMOUNT = 9_999_999_999.99;

/** An amount ≥ 0 with at most 2 decimals, as the API takes it ("199.5", "3000"), else "". */
export function parseAmount(raw: string | number | null | undefined): string {
  const text = String(raw ?? "").trim();
  if (!/^\d{1,10}(\.\d{1,2})?$/.test(text)) return "";
  // Leading zeros add nothing ("007" → "7"); the cents stay as written.
  return text.replace(/^0+(?=\d)/, "");
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
    tier: parseChoice(params.tier, TIERS),
    score_min: parseCount(params.score_min, 0, 100),
    score_max: parseCount(params.score_max, 0, 100),
    ltv_min: parseAmount(params.ltv_min),
    ltv_max: parseAmount(params.ltv_max),
    orders_min: parseCount(params.orders_min, 0, Number.MAX_SAFE_INTEGER),
    purchased_within: parseCount(params.purchased_within, 1, MAX_DAYS),
    not_purchased_within: parseCount(params.not_purchased_within, 1, MAX_DAYS),
    points_min: parseCount(params.points_min, 0, Number.MAX_SAFE_INTEGER),
    level: parseId(params.level),
    profile: parseClauses(params.profile),
  };
}

/** The filters that are set, as API parameters (the body of a segment, an export, a bulk action). */
export function filtersToParams(filters: CustomerFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FILTER_PARAMS) {
    if (name === "profile") {
      const profile = clausesParam(filters.profile);
      if (profile) out.profile = profile;
      continue;
    }
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
      // Clauses all hold (AND): their order means nothing.
      profile: [...filters.profile].sort((x, y) => clauseText(x).localeCompare(clauseText(y))),
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

type GeneratedQuery = NonNullable<operations["v1_contacts_list"]["parameters"]["query"]>;
/** The value filters, typed here until they are in the OpenAPI schema (`make api-types`). */
interface ValueQuery {
  tier?: Tier;
  score_min?: number;
  score_max?: number;
  ltv_min?: string;
  ltv_max?: string;
  orders_min?: number;
  purchased_within?: number;
  not_purchased_within?: number;
  points_min?: number;
  level?: number;
  profile?: string;
  ordering?: Ordering;
}
export type ContactsQuery = Omit<GeneratedQuery, keyof ValueQuery> & ValueQuery;

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
  if (f.tier !== null) query.tier = f.tier;
  if (f.score_min !== null) query.score_min = f.score_min;
  if (f.score_max !== null) query.score_max = f.score_max;
  if (f.ltv_min) query.ltv_min = f.ltv_min;
  if (f.ltv_max) query.ltv_max = f.ltv_max;
  if (f.orders_min !== null) query.orders_min = f.orders_min;
  if (f.purchased_within !== null) query.purchased_within = f.purchased_within;
  if (f.not_purchased_within !== null) query.not_purchased_within = f.not_purchased_within;
  if (f.points_min !== null) query.points_min = f.points_min;
  if (f.level !== null) query.level = f.level;
  if (f.profile.length) query.profile = clausesParam(f.profile);
  if (state.ordering) query.ordering = state.ordering;
  return query;
}
