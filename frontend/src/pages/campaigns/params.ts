// The campaign pages' state in the URL (shareable, survives a reload): the list's filters and page,
// the results page's recipient filters. Defaults are left out so the plain page has a plain URL.
import { PAGE_SIZES } from "../../components/Pager";
import type { CampaignStatus, ChatType, RecipientStatus } from "./types";

export const CAMPAIGN_STATUSES: CampaignStatus[] = ["draft", "scheduled", "dispatching", "sent", "closed", "cancelled", "failed"];
export const CHAT_TYPES: ChatType[] = ["single", "group"];
/** The outcomes a recipient of a sent campaign can have (skipped ones were never in a task). */
export const RECIPIENT_STATUSES: RecipientStatus[] = [
  "planned",
  "sent",
  "not_friend",
  "over_limit",
  "failed",
  "cancelled",
  "skipped_limit",
  "skipped_cap",
  "skipped_dnd",
  "skipped_no_sender",
];
export const DEFAULT_PAGE_SIZE = 20;

function positive(raw: string | null): number | null {
  const text = (raw ?? "").trim();
  if (!/^\d{1,9}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n : null;
}

function choice<T extends string>(raw: string | null, choices: readonly T[]): T | null {
  return choices.find((c) => c === raw) ?? null;
}

function pageSize(raw: string | null): number {
  const size = positive(raw);
  return size !== null && PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE;
}

export interface ListView {
  status: CampaignStatus | null;
  chatType: ChatType | null;
  search: string;
  page: number;
  pageSize: number;
}

export function readList(params: URLSearchParams): ListView {
  return {
    status: choice(params.get("status"), CAMPAIGN_STATUSES),
    chatType: choice(params.get("chat_type"), CHAT_TYPES),
    search: (params.get("search") ?? "").trim(),
    page: positive(params.get("page")) ?? 1,
    pageSize: pageSize(params.get("page_size")),
  };
}

export function writeList(view: ListView): URLSearchParams {
  const out = new URLSearchParams();
  if (view.status) out.set("status", view.status);
  if (view.chatType) out.set("chat_type", view.chatType);
  if (view.search) out.set("search", view.search);
  if (view.page > 1) out.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) out.set("page_size", String(view.pageSize));
  return out;
}

export function hasListFilters(view: ListView): boolean {
  return Boolean(view.status || view.chatType || view.search);
}

export interface RecipientView {
  status: RecipientStatus | null;
  /** A member's staff id. */
  staff: number | null;
  page: number;
  pageSize: number;
}

/** The results page's recipient table (its own parameter names: the page has no other list). */
export function readRecipients(params: URLSearchParams): RecipientView {
  return {
    status: choice(params.get("status"), RECIPIENT_STATUSES),
    staff: positive(params.get("staff")),
    page: positive(params.get("page")) ?? 1,
    pageSize: pageSize(params.get("page_size")),
  };
}

export function writeRecipients(view: RecipientView): URLSearchParams {
  const out = new URLSearchParams();
  if (view.status) out.set("status", view.status);
  if (view.staff !== null) out.set("staff", String(view.staff));
  if (view.page > 1) out.set("page", String(view.page));
  if (view.pageSize !== DEFAULT_PAGE_SIZE) out.set("page_size", String(view.pageSize));
  return out;
}

/** The export's address: the same filters as the table, every page. */
export function exportUrl(id: number, view: RecipientView): string {
  const query = new URLSearchParams();
  if (view.status) query.set("status", view.status);
  if (view.staff !== null) query.set("staff", String(view.staff));
  const qs = query.toString();
  return `/api/v1/campaigns/${id}/recipients/export/${qs ? `?${qs}` : ""}`;
}
