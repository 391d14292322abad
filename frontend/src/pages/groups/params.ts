// The groups list's state (filters, ordering, page, page size) ↔ the URL's query string, and the
// query of GET /api/v1/groups/ it makes. Pure functions (params.test.ts), so a filtered view can be
// shared and reloaded. The URL uses the API's parameter names; repeatable ones (owner, tag, status)
// are written comma-separated (`?owner=3,4&status=normal`), which reads better in a link.
import { PAGE_SIZES } from "../../components/Pager";
import { parseDate, parseId, parseIds } from "../customers/filters";

export const GROUP_STATUSES = ["normal", "owner_resigned", "inheriting", "inherited", "dismissed"] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

export const ORDERINGS = ["-created", "created", "-members", "members", "name", "-name"] as const;
export type Ordering = (typeof ORDERINGS)[number];
/** The API's default: newest first. */
export const DEFAULT_ORDERING: Ordering = "-created";
export const DEFAULT_PAGE_SIZE = 20;
/** A group holds at most 200 people (500 with WeCom's upgrade): the member range's slider end. */
export const MEMBERS_MAX = 500;

export interface GroupFilters {
  /** Owners' staff ids. */
  owner: number[];
  /** Group tag ids (any of them). */
  tag: number[];
  status: GroupStatus[];
  /** Name contains. */
  q: string;
  created_after: string;
  created_before: string;
  members_min: number | null;
  members_max: number | null;
}

export const EMPTY_FILTERS: GroupFilters = Object.freeze({
  owner: [],
  tag: [],
  status: [],
  q: "",
  created_after: "",
  created_before: "",
  members_min: null,
  members_max: null,
}) as GroupFilters;

export interface GroupListState {
  filters: GroupFilters;
  ordering: Ordering;
  page: number;
  pageSize: number;
}

export const EMPTY_LIST: GroupListState = Object.freeze({
  filters: EMPTY_FILTERS,
  ordering: DEFAULT_ORDERING,
  page: 1,
  pageSize: DEFAULT_PAGE_SIZE,
}) as GroupListState;

/** A count written in plain digits (0 included), else null. */
export function parseCount(raw: string | null | undefined): number | null {
  const text = (raw ?? "").trim();
  if (!/^\d{1,6}$/.test(text)) return null;
  return Number(text);
}

function parseStatuses(raw: string | null | undefined): GroupStatus[] {
  const out: GroupStatus[] = [];
  for (const part of (raw ?? "").split(",")) {
    const status = GROUP_STATUSES.find((s) => s === part.trim());
    if (status && !out.includes(status)) out.push(status);
  }
  return out;
}

export function readGroupList(search: string | URLSearchParams): GroupListState {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const get = (name: string) => params.get(name);
  let membersMin = parseCount(get("members_min"));
  let membersMax = parseCount(get("members_max"));
  // A reversed range (a hand-edited link) means the same people as the right way round.
  if (membersMin !== null && membersMax !== null && membersMin > membersMax) [membersMin, membersMax] = [membersMax, membersMin];
  let after = parseDate(get("created_after"));
  let before = parseDate(get("created_before"));
  if (after && before && after > before) [after, before] = [before, after];
  const size = parseId(get("page_size"));
  return {
    filters: {
      owner: parseIds(get("owner")),
      tag: parseIds(get("tag")),
      status: parseStatuses(get("status")),
      q: (get("q") ?? "").trim(),
      created_after: after,
      created_before: before,
      members_min: membersMin,
      members_max: membersMax,
    },
    ordering: ORDERINGS.find((o) => o === get("ordering")) ?? DEFAULT_ORDERING,
    page: parseId(get("page")) ?? 1,
    pageSize: size !== null && PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** The canonical query string: what is empty or the default is left out. */
export function writeGroupList(state: GroupListState): URLSearchParams {
  const f = state.filters;
  const out = new URLSearchParams();
  if (f.q) out.set("q", f.q);
  if (f.owner.length) out.set("owner", f.owner.join(","));
  if (f.tag.length) out.set("tag", f.tag.join(","));
  if (f.status.length) out.set("status", f.status.join(","));
  if (f.created_after) out.set("created_after", f.created_after);
  if (f.created_before) out.set("created_before", f.created_before);
  if (f.members_min !== null) out.set("members_min", String(f.members_min));
  if (f.members_max !== null) out.set("members_max", String(f.members_max));
  if (state.ordering !== DEFAULT_ORDERING) out.set("ordering", state.ordering);
  if (state.page > 1) out.set("page", String(state.page));
  if (state.pageSize !== DEFAULT_PAGE_SIZE) out.set("page_size", String(state.pageSize));
  return out;
}

export function hasFilters(filters: GroupFilters): boolean {
  const f = filters;
  return Boolean(
    f.owner.length ||
      f.tag.length ||
      f.status.length ||
      f.q ||
      f.created_after ||
      f.created_before ||
      f.members_min !== null ||
      f.members_max !== null,
  );
}

function sameFilters(a: GroupFilters, b: GroupFilters): boolean {
  const canonical = (f: GroupFilters) =>
    writeGroupList({ filters: { ...f, owner: [...f.owner].sort(), tag: [...f.tag].sort(), status: [...f.status].sort() }, ordering: DEFAULT_ORDERING, page: 1, pageSize: DEFAULT_PAGE_SIZE }).toString();
  return canonical(a) === canonical(b);
}

/** Other filters: back to page 1 (page 7 of another selection means nothing). */
export function withFilters(state: GroupListState, patch: Partial<GroupFilters>): GroupListState {
  const filters = { ...state.filters, ...patch };
  return sameFilters(filters, state.filters) ? { ...state, filters } : { ...state, filters, page: 1 };
}

export function withOrdering(state: GroupListState, ordering: Ordering | null): GroupListState {
  const next = ordering ?? DEFAULT_ORDERING;
  return next === state.ordering ? state : { ...state, ordering: next, page: 1 };
}

export function withPage(state: GroupListState, page: number): GroupListState {
  return { ...state, page: Number.isInteger(page) && page >= 1 ? page : 1 };
}

export function withPageSize(state: GroupListState, pageSize: number): GroupListState {
  return pageSize === state.pageSize ? state : { ...state, pageSize, page: 1 };
}

export interface GroupsQuery {
  page: number;
  page_size: number;
  ordering?: Ordering;
  owner?: number[];
  tag?: number[];
  status?: GroupStatus[];
  q?: string;
  created_after?: string;
  created_before?: string;
  members_min?: number;
  members_max?: number;
}

/** The query of GET /api/v1/groups/ (repeatable parameters as arrays: the client repeats them). */
export function groupsQuery(state: GroupListState): GroupsQuery {
  const f = state.filters;
  const query: GroupsQuery = { page: state.page, page_size: state.pageSize };
  if (state.ordering !== DEFAULT_ORDERING) query.ordering = state.ordering;
  if (f.owner.length) query.owner = f.owner;
  if (f.tag.length) query.tag = f.tag;
  if (f.status.length) query.status = f.status;
  if (f.q) query.q = f.q;
  if (f.created_after) query.created_after = f.created_after;
  if (f.created_before) query.created_before = f.created_before;
  if (f.members_min !== null) query.members_min = f.members_min;
  if (f.members_max !== null) query.members_max = f.members_max;
  return query;
}

/** The table's sort order of a column, from the list's ordering. */
export function sortOrderOf(ordering: Ordering, field: "created" | "members" | "name"): "ascend" | "descend" | null {
  if (ordering === field) return "ascend";
  if (ordering === `-${field}`) return "descend";
  return null;
}

/** The ordering a click on a sortable column asks for (null: back to the default). */
export function orderingFrom(field: string | undefined, order: "ascend" | "descend" | null | undefined): Ordering | null {
  if (!field || !order) return null;
  const ordering = order === "ascend" ? field : `-${field}`;
  return ORDERINGS.find((o) => o === ordering) ?? null;
}
