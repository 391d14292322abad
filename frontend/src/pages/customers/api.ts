// The customers pages' server state: query keys and the queries their parts share (the list, the
// drawer, the customer page).
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import { type ListState, type Tier, contactsQuery } from "./filters";

// The value columns and the profile, typed here until they are in the schema.
export type ContactRow = Schemas["ContactRow"] & { tier?: Tier | null; score?: number | null; ltv?: string | null };
// The schema types profile values as unknown (a JSON object); these are the kinds a field holds.
export type ContactDetail = Omit<Schemas["ContactDetail"], "profile"> & { profile?: Profile };
export type TagGroup = Schemas["TagGroup"];
export type Job = Schemas["Job"];
export type Segment = Schemas["Segment"];
export type Stage = Schemas["Stage"];
export type Staff = Schemas["Staff"];
export type DepartmentNode = Schemas["DepartmentNode"];

const STAFF_PAGE = 200;

export const keys = {
  contacts: ["contacts"] as const,
  list: (state: ListState) => ["contacts", "list", contactsQuery(state)] as const,
  detail: (id: number) => ["contacts", "detail", id] as const,
  notes: (id: number, page: number) => ["contacts", "detail", id, "notes", page] as const,
  timeline: (id: number, page: number) => ["contacts", "detail", id, "timeline", page] as const,
  tagGroups: ["tag-groups"] as const,
  stages: ["stages"] as const,
  departments: ["departments"] as const,
  // The page size is part of the key: another page asks for the same staff with another size.
  staff: (search: string) => ["staff", "options", search, STAFF_PAGE] as const,
  segments: ["segments"] as const,
  job: (id: number) => ["jobs", id] as const,
  // The customer page (客户画像): under the customer's detail key, so a change invalidates them all.
  value: (id: number) => ["contacts", "detail", id, "value"] as const,
  points: (id: number, page: number) => ["contacts", "detail", id, "points", page] as const,
  orders: (id: number, page: number) => ["contacts", "detail", id, "orders", page] as const,
  profileFields: ["profile-fields"] as const,
  levels: ["levels"] as const,
};

// -- customer value (value/), typed from the contract until its routes are in the OpenAPI
// schema (`make api-types`) -------------------------------------------------------------------------

// The routes not in schema.d.ts yet are called through an untyped view of the client.
type Loose = Record<"GET" | "PATCH", (path: string, init?: object) => Promise<{ data?: unknown; error?: unknown }>>;
const loose = client as unknown as Loose;

export type FieldKind = "text" | "number" | "date" | "choice" | "multi_choice";

export interface ProfileField {
  id: number;
  key: string;
  label: string;
  kind: FieldKind;
  choices: string[];
  yearly: boolean;
  order: number;
  archived: boolean;
}

/** A value in Contact.profile: text or a choice, a number, an ISO date, or a multiple choice's list. */
export type ProfileValue = string | number | string[];
export type Profile = Record<string, ProfileValue>;

export type LevelRef = Schemas["LevelRef"];
export type Level = Schemas["Level"];
export type ContactValue = Schemas["ContactValue"];
export type PointsEntry = Schemas["PointsEntry"];
export type PointsChange = Schemas["PointsChangeResult"];
export type Order = Schemas["Order"];

/** Why a customer is in their tier (ContactValue.explanation, value/services/scoring.py
 * value_explain): a code and the figures its sentence names, plus the English sentence; the
 * dashboard words its own in the user's language (profile/reason.ts). */
export interface Explanation {
  tier: Tier;
  /** lost, new_days, no_interaction, silent_days, high_value_ltv or active. */
  code: string;
  /** Whole days since the last interaction; null without one. */
  days?: number | null;
  last_type?: string | null;
  last_at?: string | null;
  ltv?: string;
  currency?: string;
  new_days?: number;
  silent_days?: number;
  high_value_ltv?: string;
  days_since_added?: number | null;
  /** The English sentence. */
  text?: string;
}

/** A list the API may page or not: its rows (profile fields and levels are short lists). */
function rows<T>(body: T[] | { results: T[] }): T[] {
  return Array.isArray(body) ? body : body.results;
}

const POINTS_PAGE = 20;
const ORDERS_PAGE = 10;

export function useContactValue(id: number) {
  return useQuery({
    queryKey: keys.value(id),
    queryFn: () => data(client.GET("/api/v1/contacts/{id}/value/", { params: { path: { id: String(id) } } })),
  });
}

export function usePointsLedger(id: number, page: number) {
  return useQuery({
    queryKey: keys.points(id, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/contacts/{id}/points/", {
          params: { path: { id }, query: { page, page_size: POINTS_PAGE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** The customer's orders, newest first. */
export function useOrders(contact: number, page: number) {
  return useQuery({
    queryKey: keys.orders(contact, page),
    queryFn: () => data(client.GET("/api/v1/orders/", { params: { query: { contact, page, page_size: ORDERS_PAGE } } })),
    placeholderData: keepPreviousData,
  });
}

/** The tenant's profile fields in their order (archived ones too: a customer may hold their values). */
export function useProfileFields() {
  return useQuery({
    queryKey: keys.profileFields,
    queryFn: async () =>
      rows(
        (await data(
          loose.GET("/api/v1/profile-fields/", { params: { query: { include_archived: true, page_size: 200 } } }),
        )) as ProfileField[] | { results: ProfileField[] },
      ),
    staleTime: 60_000,
  });
}

export function useLevels() {
  return useQuery({
    queryKey: keys.levels,
    queryFn: async () =>
      rows((await data(loose.GET("/api/v1/levels/", { params: { query: { page_size: 200 } } }))) as Level[] | { results: Level[] }),
    staleTime: 60_000,
  });
}

export const valueApi = {
  saveProfile: (id: number, profile: Record<string, ProfileValue | null>) =>
    data(loose.PATCH("/api/v1/contacts/{id}/profile/", { params: { path: { id } }, body: { profile } })) as Promise<{
      profile: Profile;
    }>,
  /** Grant or redeem; the key makes a retried click change the balance once. */
  changePoints: (action: "grant" | "redeem", body: { contact: number; points: number; note: string }, key: string) => {
    const init = { params: { header: { "Idempotency-Key": key } }, body };
    return data(
      action === "grant" ? client.POST("/api/v1/points/grant/", init) : client.POST("/api/v1/points/redeem/", init),
    ) as Promise<PointsChange>;
  },
};

export function useContacts(state: ListState) {
  return useQuery({
    queryKey: keys.list(state),
    // The value filters and orderings are typed locally until they are in the schema (filters.ts).
    queryFn: () =>
      data(client.GET("/api/v1/contacts/", { params: { query: contactsQuery(state) as Record<string, unknown> } })),
    placeholderData: keepPreviousData,
  });
}

export function useTagGroups() {
  return useQuery({
    queryKey: keys.tagGroups,
    queryFn: () => data(client.GET("/api/v1/tag-groups/")),
    staleTime: 60_000,
  });
}

export function useStages() {
  return useQuery({
    queryKey: keys.stages,
    queryFn: () => data(client.GET("/api/v1/stages/")),
    staleTime: 60_000,
  });
}

export function useDepartments() {
  return useQuery({
    queryKey: keys.departments,
    queryFn: () => data(client.GET("/api/v1/departments/")),
    staleTime: 5 * 60_000,
  });
}

/** Staff for a picker: the first STAFF_PAGE by name, or those matching what was typed. */
export function useStaffOptions(search: string) {
  return useQuery({
    queryKey: keys.staff(search),
    queryFn: () =>
      data(client.GET("/api/v1/staff/", { params: { query: { page_size: STAFF_PAGE, search: search || undefined } } })),
    staleTime: 60_000,
    placeholderData: keepPreviousData,
  });
}

export function useSegments() {
  return useQuery({
    queryKey: keys.segments,
    queryFn: () => data(client.GET("/api/v1/segments/", { params: { query: { page_size: 200 } } })),
  });
}

/** A new key per user action: a retried or double-clicked POST starts the job once. */
export function idempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID exists only in secure contexts (https, localhost); a plain-http deployment still
  // gets a random v4 UUID.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
