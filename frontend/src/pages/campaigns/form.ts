// The wizard's form ↔ the API: the values each step edits, the body sent, and which step shows an
// error the API names by its field path (`audience.filters.tags_all`, `attachments.2.material_id`).
import type { Dayjs } from "dayjs";
import dayjs from "dayjs";

import { isoToWall, wallToIso } from "../../lib/campaigns";
import { type CustomerFilters, EMPTY_FILTERS, filtersFromParams, filtersToParams } from "../customers/filters";
import type { Audience, CampaignDetail, CampaignInput, ChatType } from "./types";

export const STEPS = ["audience", "content", "preview", "schedule"] as const;
export type Step = (typeof STEPS)[number];

export type AudienceMode = "segment" | "filters";
export type When = "now" | "at";

/** The form's values. Field names follow the API's paths, so its errors land on their fields. */
export interface Values {
  name: string;
  chat_type: ChatType;
  /** Not sent: which of the two audiences of customers is used. */
  mode: AudienceMode;
  audience: {
    segment_id: number | null;
    filters: CustomerFilters;
    owner_ids: number[];
    tag_ids: number[];
    name: string;
  };
  text: string;
  attachments: { material_id: number }[];
  /** Not sent: send now, or at `scheduled_at`. */
  when: When;
  /** A wall-clock time in the tenant's zone, picked in the browser (its own zone does not matter). */
  scheduled_at: Dayjs | null;
}

export function initialValues(campaign: CampaignDetail | undefined, timeZone: string): Values {
  // The detail answers the audience as saved (the schema cannot type it per chat type).
  const audience = (campaign?.audience ?? {}) as Audience;
  const scheduled = campaign?.scheduled_at ? dayjs(isoToWall(campaign.scheduled_at, timeZone)) : null;
  return {
    name: campaign?.name ?? "",
    chat_type: campaign?.chat_type ?? "single",
    mode: audience.segment_id ? "segment" : "filters",
    audience: {
      segment_id: audience.segment_id ?? null,
      filters: audience.filters ? filtersFromParams(audience.filters) : EMPTY_FILTERS,
      owner_ids: audience.owner_ids ?? [],
      tag_ids: audience.tag_ids ?? [],
      name: audience.name ?? "",
    },
    text: campaign?.text ?? "",
    attachments: (campaign?.attachments ?? []).map((a) => ({ material_id: a.material_id })),
    when: scheduled ? "at" : "now",
    scheduled_at: scheduled,
  };
}

/** The audience the API is sent (and previews): only the chosen kind's fields. */
export function audienceFor(values: Pick<Values, "chat_type" | "mode" | "audience">): Audience {
  const a = values.audience;
  if (values.chat_type === "group") {
    const out: Audience = { owner_ids: a.owner_ids ?? [], tag_ids: a.tag_ids ?? [] };
    if ((a.name ?? "").trim()) out.name = a.name.trim();
    return out;
  }
  if (values.mode === "segment") return { segment_id: a.segment_id ?? null };
  return { filters: filtersToParams(a.filters ?? EMPTY_FILTERS) };
}

/** Whether the audience can be previewed: a segment must be picked first (filters may be empty:
 * every customer). */
export function audienceReady(values: Pick<Values, "chat_type" | "mode" | "audience">): boolean {
  return values.chat_type === "group" || values.mode === "filters" || Boolean(values.audience?.segment_id);
}

/** The instant to send at (ISO), or null for "now". */
export function scheduledIso(values: Pick<Values, "when" | "scheduled_at">, timeZone: string): string | null {
  if (values.when !== "at" || !values.scheduled_at) return null;
  return wallToIso(values.scheduled_at.format("YYYY-MM-DDTHH:mm"), timeZone);
}

export function toInput(values: Values, timeZone: string): CampaignInput {
  return {
    name: (values.name ?? "").trim(),
    chat_type: values.chat_type,
    audience: audienceFor(values),
    text: values.text ?? "",
    attachments: (values.attachments ?? []).map((a) => ({ material_id: a.material_id })),
    scheduled_at: scheduledIso(values, timeZone),
  };
}

/** What a change sends: the same, but the chat type (fixed once created). */
export function toUpdate(values: Values, timeZone: string): Omit<CampaignInput, "chat_type"> {
  const { chat_type: _fixed, ...rest } = toInput(values, timeZone);
  return rest;
}

/** The step that shows a field (by the first part of its path); null: the header (name) or nowhere. */
export function stepOf(path: string): Step | null {
  const top = path.split(".")[0];
  if (top === "chat_type" || top === "audience" || top === "mode") return "audience";
  if (top === "text" || top === "attachments") return "content";
  if (top === "scheduled_at" || top === "when") return "schedule";
  return null;
}
